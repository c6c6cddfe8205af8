#!/usr/bin/env bash
# Creates benchmarks/.venv-peers: Caxton (editable) plus the peers that bench_runtime.py compares
# against, kept apart from the project's own environment and dependencies.
set -euo pipefail
cd "$(dirname "$0")/.."
python -m venv benchmarks/.venv-peers
benchmarks/.venv-peers/bin/python -m pip install --quiet --upgrade pip
benchmarks/.venv-peers/bin/python -m pip install --quiet -e . -r benchmarks/peers-requirements.txt
echo "peers installed in benchmarks/.venv-peers; run:" >&2
echo "  benchmarks/.venv-peers/bin/python benchmarks/bench_runtime.py"
