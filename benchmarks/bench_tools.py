"""Tool-call benchmark: a built-in WASM tool per call in a fresh instance, against plain Python.

Run: `python benchmarks/bench_tools.py`. Each call goes through the whole path a runtime uses
(JSON-RPC session in, fresh store and instance, `_start`, JSON-RPC answer out) for the `text`
tool's word count, twice: on a short text (the per-call overhead) and on a 900-character one.
`runner` adds what the registry does around each call (argument check against the input
schema, the audit line). The reference is a Python function doing the same count in the same
process. Targets: p99 <= 1 ms per call, >= 5,000 calls/s on one core.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from caxton.tools.mcp_stdio import call_tool
from caxton.tools.registry import BUILTIN_DIR, ToolRunner, find_tool
from caxton.tools.sandbox import RunLimits, Sandbox

SHORT = "The quick brown fox."
LONG = "The quick brown fox jumps over the lazy dog.\n" * 20
LIMITS = RunLimits(memory_bytes=32 << 20, fuel=1_000_000_000, timeout_seconds=5.0)


def python_word_count(text: str) -> str:
    return json.dumps(
        {"words": len(text.split()), "lines": text.count("\n"), "characters": len(text)}
    )


def measure(call: Callable[[], Any], calls: int) -> tuple[float, float, float]:
    """p50 and p99 in ms, and calls per second, after a warm-up."""
    for _ in range(100):
        call()
    times = []
    start_all = time.perf_counter()
    for _ in range(calls):
        start = time.perf_counter()
        call()
        times.append((time.perf_counter() - start) * 1000)
    rate = calls / (time.perf_counter() - start_all)
    return statistics.median(times), statistics.quantiles(times, n=100)[98], rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=3000)
    args = parser.parse_args()
    wasm = (BUILTIN_DIR / "text" / "text.wasm").read_bytes()
    with tempfile.TemporaryDirectory() as cache:
        os.environ["CAXTON_HOME"] = cache  # the runner's audit log goes here, not to the user's
        start = time.perf_counter()
        Sandbox(Path(cache)).module(wasm)
        compile_ms = (time.perf_counter() - start) * 1000
        start = time.perf_counter()
        sandbox = Sandbox(Path(cache))
        module = sandbox.module(wasm)
        cached_ms = (time.perf_counter() - start) * 1000
        runner = ToolRunner(None, sandbox)
        tool = find_tool(None, "text")
        print(
            f"module: first compile {compile_ms:.1f} ms, load from the disk cache "
            f"{cached_ms:.2f} ms"
        )
        print(f"`text` word count, fresh instance per call, {args.calls} calls on one thread:")
        for label, text in (("short text", SHORT), ("900 chars ", LONG)):
            arguments = {"op": "words", "text": text}
            last = call_tool(sandbox, module, "text", arguments, limits=LIMITS)
            assert json.loads(last.text())["words"] == len(text.split())
            reference = measure(functools.partial(python_word_count, text), args.calls)[0]
            paths: list[tuple[str, Callable[[], Any]]] = [
                (
                    "sandbox",
                    functools.partial(call_tool, sandbox, module, "text", arguments, limits=LIMITS),
                ),
                ("runner ", functools.partial(runner.call, tool, arguments, caller="bench")),
            ]
            for path, call in paths:
                p50, p99, rate = measure(call, args.calls)
                print(
                    f"  {label} {path}: p50 {p50:.3f} ms  p99 {p99:.3f} ms  {rate:,.0f} calls/s  "
                    f"fuel {last.run.fuel_used:,}  ({p50 / reference:,.0f}x plain Python's "
                    f"{reference * 1000:.1f} us)"
                )
        print("targets: p99 <= 1 ms, >= 5,000 calls/s")


if __name__ == "__main__":
    main()
