"""The core stays headless and light: fast commands import no heavy or UI module."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

HEAVY = [
    "textual",
    "duckdb",
    "wasmtime",
    "fastapi",
    "model2vec",
    "uvicorn",
    "numpy",
    "tui",
    "caxton_tui",
    "mcp",
    "pydantic",
    "jwt",
]

PROBE = """
import json, sys
from caxton.cli.app import main
code = main(sys.argv[1:])
heavy = json.loads({heavy!r})
print(json.dumps({{"code": code, "loaded": [m for m in heavy if m in sys.modules]}}),
      file=sys.stderr)
"""


def run_probe(args: list[str], cwd: Path) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, "-c", PROBE.format(heavy=json.dumps(HEAVY)), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
    )
    result: dict[str, object] = json.loads(done.stderr.strip().splitlines()[-1])
    return result


@pytest.mark.parametrize(
    "args",
    [
        ["--help"],
        ["--version"],
        ["validate"],
        ["agent", "list"],
        ["template", "list"],
        ["tool", "list"],
        ["status"],  # offline: plain JSON under .caxton/, no database, no HTTP client
        ["status", "--json"],
    ],
)
def test_fast_commands_import_nothing_heavy(workspace: Path, args: list[str]) -> None:
    result = run_probe(args, workspace)
    assert result["code"] == 0
    assert result["loaded"] == []


LAUNCHER = "cli/tui.py"  # `caxton tui` imports the app when it runs, and nothing else does


def test_core_never_imports_the_tui() -> None:
    core = Path(__file__).parent.parent / "caxton"
    for path in core.rglob("*.py"):
        text = path.read_text()
        assert "import textual" not in text and "from textual" not in text, path
        if path.relative_to(core).as_posix() != LAUNCHER:
            assert "caxton_tui" not in text, path
