"""Tool-call benchmark: a built-in WASM tool per call in a fresh instance, against plain Python.

Run: `python benchmarks/bench_tools.py`. Each call goes through the whole path a runtime uses
(JSON-RPC session in, fresh store and instance, `_start`, JSON-RPC answer out) for the `text`
tool's word count; the reference is a Python function doing the same count in the same
process. Targets: p99 <= 1 ms per call, >= 5,000 calls/s on one core.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

from caxton.tools.mcp_stdio import call_tool
from caxton.tools.registry import BUILTIN_DIR
from caxton.tools.sandbox import RunLimits, Sandbox

TEXT = "The quick brown fox jumps over the lazy dog.\n" * 20
LIMITS = RunLimits(memory_bytes=32 << 20, fuel=1_000_000_000, timeout_seconds=5.0)


def python_word_count(text: str) -> str:
    return json.dumps(
        {"words": len(text.split()), "lines": text.count("\n"), "characters": len(text)}
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=3000)
    args = parser.parse_args()
    wasm = (BUILTIN_DIR / "text" / "text.wasm").read_bytes()
    with tempfile.TemporaryDirectory() as cache:
        start = time.perf_counter()
        Sandbox(Path(cache)).module(wasm)
        compile_ms = (time.perf_counter() - start) * 1000
        start = time.perf_counter()
        sandbox = Sandbox(Path(cache))
        module = sandbox.module(wasm)
        cached_ms = (time.perf_counter() - start) * 1000
        arguments = {"op": "words", "text": TEXT}
        for _ in range(50):
            call_tool(sandbox, module, "text", arguments, limits=LIMITS)
        times = []
        start_all = time.perf_counter()
        for _ in range(args.calls):
            start = time.perf_counter()
            call = call_tool(sandbox, module, "text", arguments, limits=LIMITS)
            times.append((time.perf_counter() - start) * 1000)
        rate = args.calls / (time.perf_counter() - start_all)
    assert json.loads(call.text())["words"] == len(TEXT.split())
    reference = []
    for _ in range(args.calls):
        start = time.perf_counter()
        python_word_count(TEXT)
        reference.append((time.perf_counter() - start) * 1000)
    p50, p99 = statistics.median(times), statistics.quantiles(times, n=100)[98]
    ref50 = statistics.median(reference)
    print(f"module: first compile {compile_ms:.1f} ms, load from the disk cache {cached_ms:.2f} ms")
    print(f"`text` word count, fresh instance per call, {args.calls} calls on one thread:")
    print(
        f"  p50 {p50:.3f} ms  p99 {p99:.3f} ms (target <= 1 ms)  {rate:,.0f} calls/s "
        f"(target >= 5,000)  fuel {call.run.fuel_used:,} per call"
    )
    print(
        f"  plain Python doing the same count: p50 {ref50 * 1000:.1f} us; the sandboxed call "
        f"costs {p50 / ref50:,.0f}x"
    )


if __name__ == "__main__":
    main()
