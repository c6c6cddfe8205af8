"""Start-up benchmark: `caxton --version` and `caxton validate` (200 agents) as whole processes.

Run: `python benchmarks/bench_cli.py` (add `--runs N`). Each figure is the median wall time of N
fresh processes, printed beside a bare `python -c pass` measured in the same run, so the ratio
holds across machines. Targets on a 2-core machine: --version <= 120 ms, validate <= 400 ms.
"""

from __future__ import annotations

import argparse
import compileall
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# `--help` has no target: it is here to show the full typer start-up that `--version` skips.
TARGETS_MS = {"caxton --version": 120.0, "caxton validate (200 agents)": 400.0}


def timed(cmd: list[str], cwd: Path, runs: int, env: dict[str, str]) -> list[float]:
    subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, check=True)  # warm the disk cache
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        done = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, check=False)
        times.append((time.perf_counter() - start) * 1000)
        if done.returncode != 0:
            raise SystemExit(f"{' '.join(cmd)} failed: {done.stderr.decode()}")
    return times


def make_workspace(root: Path, agents: int, env: dict[str, str]) -> None:
    caxton = [sys.executable, "-m", "caxton"]
    subprocess.run([*caxton, "init", str(root)], env=env, check=True, capture_output=True)
    templates = sorted(
        p.stem for p in (Path(__file__).parent.parent / "templates" / "agents").glob("*.toml")
    )
    source = {
        t: subprocess.run(
            [*caxton, "template", "show", t, "--toml"],
            env=env,
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        for t in templates
    }
    (root / "agents" / "assistant.toml").unlink()
    for i in range(agents):
        template = templates[i % len(templates)]
        name = f"agent-{i:03d}"
        text = source[template].replace("{{agent_name}}", name)
        text = text.replace("{{caxton_version}}", "bench").replace("{{created_at}}", "today")
        (root / "agents" / f"{name}.toml").write_text(text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=21)
    parser.add_argument("--agents", type=int, default=200)
    args = parser.parse_args()
    env = {**os.environ, "NO_COLOR": "1"}
    caxton_bin = shutil.which("caxton")
    if caxton_bin is None:
        raise SystemExit("`caxton` is not on PATH: install the project first (`pip install -e .`)")
    # An installed wheel has bytecode; a source checkout run with PYTHONDONTWRITEBYTECODE would
    # recompile every module on each start and measure the compiler instead.
    import caxton

    compileall.compile_dir(Path(caxton.__file__).parent, quiet=1)
    with tempfile.TemporaryDirectory() as tmp:
        env["CAXTON_HOME"] = str(Path(tmp) / "home")
        root = Path(tmp) / "bench-ws"
        make_workspace(root, args.agents, env)
        cases = {
            "python -c pass": [sys.executable, "-c", "pass"],
            "caxton --version": [caxton_bin, "--version"],
            "caxton --help": [caxton_bin, "--help"],
            f"caxton validate ({args.agents} agents)": [caxton_bin, "validate"],
            # the parse cache removed before every run (the shell adds ~2 ms)
            "  same, cold (no parse cache)": [
                "sh",
                "-c",
                f"rm -f .caxton/cache/toml-parse.marshal && {caxton_bin} validate",
            ],
        }
        results = {name: timed(cmd, root, args.runs, env) for name, cmd in cases.items()}
    reference = statistics.median(results["python -c pass"])
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}; {args.runs} runs each, median (p90)"
    )
    print(f"{'case':34} {'median ms':>10} {'p90 ms':>8} {'x python':>9} {'target':>8}")
    for name, times in results.items():
        median = statistics.median(times)
        p90 = statistics.quantiles(times, n=10)[-1]
        target = TARGETS_MS.get(name)
        verdict = (
            ""
            if target is None
            else (f"<= {target:.0f} " + ("ok" if median <= target else "MISSED"))
        )
        print(f"{name:34} {median:10.1f} {p90:8.1f} {median / reference:9.2f} {verdict:>8}")


if __name__ == "__main__":
    main()
