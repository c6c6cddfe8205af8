"""Agent-runtime benchmark: execution-context creation and per-request overhead, against peers.

Run: `python benchmarks/bench_runtime.py` (Caxton alone), or with the peers installed apart by
`benchmarks/setup_peers.sh`: `benchmarks/.venv-peers/bin/python benchmarks/bench_runtime.py`.
Everything runs in-process, on one thread pinned to one CPU, with deterministic models: Caxton's
`test` model, pydantic-ai's `TestModel`, and for Agno a model that calls the one tool, then
answers. Caxton runs in a temporary workspace made by `caxton init` logic, with a temporary
CAXTON_HOME: nothing of the user's is read or written.

1. Execution-context creation, the method Agno publishes: warm-up, then 1,000 constructions
   timed one by one (mean and p50; in interleaved rounds, as below), and the tracemalloc peak
   while 1,000 constructions are kept alive, divided by 1,000. For Caxton, what
   `Runtime.execute` and `Runtime._run` build before `Executor.run`: a `Trace`, the request and
   agent spans, an `ExecutionContext` for an agent of the workspace's snapshot. For a peer,
   constructing its `Agent` with one tool (the model object shared, as Caxton's provider is).
   Target: <= 50 us.
2. A whole request whose model calls one tool (two model turns), p50/p99 and requests/s, in
   interleaved rounds so that the VM's drift falls on every subject alike; requests/s is one
   over the mean. Caxton runs two variants: the WASM `text` tool (word count) and the host
   `memory_search` tool on an empty memory (memory otherwise off: no recall, no auto-store);
   the peers, a Python function doing the same word count. The tool alone is timed in the same
   rounds: "overhead" is the request's p50 minus the tool's; for Caxton, "own time" is also the
   p50 of each request minus the time its trace shows in the tool span. Targets: overhead
   <= 1 ms p50, >= 1,000 requests/s on one core.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import importlib
import importlib.metadata
import json
import math
import os
import platform
import pstats
import statistics
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from common import cpu_model

from caxton.llm.schema_args import arguments_for
from caxton.observability import trace as t
from caxton.observability.trace import Trace
from caxton.runtime.executor import (
    ExecutionContext,
    ExecutionResult,
    find_agent,
    new_conversation_id,
)
from caxton.runtime.memory_tools import call_memory_tool
from caxton.runtime.runtime import Runtime
from caxton.workspace.scaffold import create_workspace

REQUEST = "count the words in this sentence"
SYSTEM = "You are a benchmark agent: use your tool, then answer in one line."
AGENTS = {"bench-wasm": "text", "bench-host": "memory_search"}
PEERS_HINT = "install them apart with `benchmarks/setup_peers.sh`"


def word_count(text: str) -> dict[str, int]:
    """Count the words, lines and characters of a text."""
    return {"words": len(text.split()), "lines": text.count("\n"), "characters": len(text)}


# ----- measuring -------------------------------------------------------------------------------


@dataclass
class Construction:
    """One way of building what a request starts from, and what it measured."""

    system: str
    build: Callable[[], object]
    times: list[float] = field(default_factory=list)  # seconds, one per construction
    bytes_each: float = 0.0

    @property
    def mean_us(self) -> float:
        return statistics.fmean(self.times) * 1e6

    @property
    def p50_us(self) -> float:
        return statistics.median(self.times) * 1e6


@dataclass
class Case:
    """One system answering the benchmark request with one tool, and the tool alone."""

    system: str
    label: str
    request: Callable[[], object]
    tool: Callable[[], object]
    first_ms: float = 0.0
    # seconds a request's answer says its tool took (Caxton: its tool spans); None: unknown
    tool_inside: Callable[[Any], float] | None = None
    times: list[float] = field(default_factory=list)
    own_times: list[float] = field(default_factory=list)  # each request minus its tool's time
    tool_times: list[float] = field(default_factory=list)

    @property
    def p50_ms(self) -> float:
        return statistics.median(self.times) * 1000

    @property
    def p99_ms(self) -> float:
        return statistics.quantiles(self.times, n=100)[98] * 1000

    @property
    def rate(self) -> float:
        """Requests per second, one after the other on one thread."""
        return len(self.times) / math.fsum(self.times)

    @property
    def tool_ms(self) -> float:
        return statistics.median(self.tool_times) * 1000

    @property
    def overhead_ms(self) -> float:
        return self.p50_ms - self.tool_ms

    @property
    def own_ms(self) -> float | None:
        return statistics.median(self.own_times) * 1000 if self.own_times else None


def measure_constructions(items: list[Construction], count: int, rounds: int, warmup: int) -> None:
    for item in items:
        for _ in range(warmup):
            item.build()
    per_round = max(1, count // rounds)
    clock = time.perf_counter
    for _ in range(rounds):
        for item in items:
            gc.collect()  # each block starts with the same garbage: none
            times = item.times
            for _ in range(per_round):
                start = clock()
                item.build()
                times.append(clock() - start)
    for item in items:
        item.bytes_each = memory_per_construction(item.build, count)


def memory_per_construction(build: Callable[[], object], count: int) -> float:
    """The tracemalloc peak while `count` constructions stay alive, divided by `count`; the
    list that holds them is allocated before tracing starts, so only they are counted."""
    kept: list[object] = [None] * count
    gc.collect()
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    for i in range(count):
        kept[i] = build()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return (peak - base) / count


def measure_requests(cases: list[Case], requests: int, rounds: int, warmup: int) -> None:
    for case in cases:
        for _ in range(warmup):
            case.request()
            case.tool()
    per_round = max(1, requests // rounds)
    clock = time.perf_counter
    for _ in range(rounds):
        for case in cases:
            gc.collect()
            times, inside = case.times, case.tool_inside
            for _ in range(per_round):
                start = clock()
                answer = case.request()
                spent = clock() - start
                times.append(spent)
                if inside is not None:
                    case.own_times.append(spent - inside(answer))
            tool_times = case.tool_times
            for _ in range(per_round):
                start = clock()
                case.tool()
                tool_times.append(clock() - start)


# ----- Caxton ----------------------------------------------------------------------------------


def make_workspace(parent: Path) -> Path:
    """A workspace as `caxton init` makes it, plus one agent per tool measured."""
    root = parent / "bench-ws"
    create_workspace(root)
    for name, tool in AGENTS.items():
        (root / "agents" / f"{name}.toml").write_text(
            f'name = "{name}"\n'
            'description = "Runtime benchmark agent with exactly one tool."\n'
            'capabilities = ["benchmarking"]\n'
            f'tools = ["{tool}"]\n'
            f"system_prompt = {json.dumps(SYSTEM)}\n",
            encoding="utf-8",
        )
    return root


def context_builder(runtime: Runtime, agent: str) -> Callable[[], ExecutionContext]:
    """What `Runtime.execute` and `Runtime._run` build for a request before `Executor.run`
    (the spans opened as their `with trace.span(...)` blocks open them)."""

    def build() -> ExecutionContext:
        snapshot = runtime.snapshot
        trace = Trace()
        conversation = new_conversation_id()
        root = trace.start("request", "request", None, **{t.CONVERSATION_ID: conversation})
        config = find_agent(snapshot, agent)
        deadline = time.monotonic() + config.limits.timeout.seconds
        span = trace.start(
            f"invoke_agent {config.name}",
            "agent",
            root,
            **{
                t.OPERATION: "invoke_agent",
                t.AGENT_NAME: config.name,
                t.CONVERSATION_ID: conversation,
                "caxton.depth": 0,
            },
        )
        return ExecutionContext(
            config, snapshot, trace, span, conversation, 0, (config.name,), deadline, None
        )

    return build


def check_same_shape(built: ExecutionContext, result: ExecutionResult) -> None:
    """Fails if `Runtime` starts building something else than `context_builder` mirrors."""
    real = [s for s in result.trace.spans if s.kind in ("request", "agent")]
    for mine, theirs in zip(built.trace.spans, real, strict=True):
        if (mine.name, mine.kind) != (theirs.name, theirs.kind) or not set(mine.attributes) <= set(
            theirs.attributes
        ):
            raise SystemExit(f"bench_runtime is out of date with Runtime: {mine} vs {theirs}")


def caxton_subjects(runtime: Runtime) -> tuple[Construction, list[Case]]:
    snapshot = runtime.snapshot
    build = context_builder(runtime, "bench-wasm")
    cases = []
    for agent, tool_name in AGENTS.items():
        start = time.perf_counter()
        result = runtime.execute(REQUEST, agent=agent)
        first_ms = (time.perf_counter() - start) * 1000
        if not result.ok or result.tool_calls != 1 or result.trace.summary()["errors"]:
            raise SystemExit(f"{agent}: the request did not run cleanly: {result.detail}")
        check_same_shape(context_builder(runtime, agent)(), result)
        tool = snapshot.tools[tool_name]
        arguments = arguments_for(tool.input_schema, text=REQUEST)  # what the test model sends
        tool_alone: Callable[[], object]
        if tool.kind == "wasm":
            tool_alone = _bind_wasm(runtime, tool, arguments, agent)
            label = f"{tool_name} (WASM)"
        else:
            scope = context_builder(runtime, agent)().scope
            settings = snapshot.agents[agent].memory
            tool_alone = _bind_memory(runtime, scope, tool_name, arguments, settings.min_similarity)
            label = f"{tool_name} (host, empty)"
        request = _bind_request(runtime, agent)
        cases.append(Case("caxton", label, request, tool_alone, first_ms, tool_span_seconds))
    return Construction("caxton", build), cases


def tool_span_seconds(result: ExecutionResult) -> float:
    """The time inside the request's tool spans: the tool's handler, WASM or host, with the
    runner's argument check and audit line for a WASM tool."""
    return sum(s.seconds for s in result.trace.spans if s.kind == "tool")


def _bind_request(runtime: Runtime, agent: str) -> Callable[[], object]:
    return lambda: runtime.execute(REQUEST, agent=agent)


def _bind_wasm(
    runtime: Runtime, tool: Any, arguments: dict[str, Any], agent: str
) -> Callable[[], object]:
    return lambda: runtime.tools.call(tool, arguments, caller=agent)


def _bind_memory(
    runtime: Runtime, scope: Any, name: str, arguments: dict[str, Any], min_similarity: float
) -> Callable[[], object]:
    store = runtime.memory
    return lambda: call_memory_tool(store, scope, name, arguments, min_similarity=min_similarity)


# ----- peers -----------------------------------------------------------------------------------


def pydantic_ai_subjects() -> tuple[Construction, list[Case]]:
    agent_class = importlib.import_module("pydantic_ai").Agent
    model = importlib.import_module("pydantic_ai.models.test").TestModel()
    tool_return = importlib.import_module("pydantic_ai.messages").ToolReturnPart

    def build() -> Any:
        return agent_class(model, tools=[word_count], instructions=SYSTEM)

    agent = build()
    start = time.perf_counter()
    result = agent.run_sync(REQUEST)
    first_ms = (time.perf_counter() - start) * 1000
    returns = [
        part
        for message in result.all_messages()
        for part in message.parts
        if isinstance(part, tool_return)
    ]
    if len(returns) != 1:
        raise RuntimeError(f"expected one tool call, got {len(returns)}")
    case = Case(
        "pydantic-ai", "python tool", lambda: agent.run_sync(REQUEST), _bind_tool(), first_ms
    )
    return Construction("pydantic-ai", build), [case]


def agno_subjects() -> tuple[Construction, list[Case]]:
    os.environ["AGNO_TELEMETRY"] = "false"  # it would post to Agno's servers on every run
    agent_class = importlib.import_module("agno.agent").Agent
    model_base = importlib.import_module("agno.models.base").Model
    response_class = importlib.import_module("agno.models.response").ModelResponse

    # Agno ships no offline model: the smallest one that calls the first tool with the user's
    # text, then answers with what the tool returned.
    def invoke(self: Any, messages: list[Any], tools: Any = None, **_: Any) -> Any:
        if messages[-1].role == "tool":
            return response_class(role="assistant", content=f"done: {messages[-1].content}")
        user = next(m for m in reversed(messages) if m.role == "user")
        call = {
            "id": "call_1",
            "type": "function",
            "function": {
                "name": tools[0]["function"]["name"],
                "arguments": json.dumps({"text": user.content}),
            },
        }
        return response_class(role="assistant", tool_calls=[call])

    def offline_only(self: Any, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError("the benchmark model answers through invoke() only")

    methods = dict.fromkeys(
        (
            "ainvoke",
            "invoke_stream",
            "ainvoke_stream",
            "_parse_provider_response",
            "_parse_provider_response_delta",
        ),
        offline_only,
    )
    model = type("OneToolModel", (model_base,), {"invoke": invoke, **methods})(id="one-tool")

    def build() -> Any:
        return agent_class(model=model, tools=[word_count], instructions=SYSTEM, telemetry=False)

    agent = build()
    start = time.perf_counter()
    output = agent.run(REQUEST)
    first_ms = (time.perf_counter() - start) * 1000
    if len(output.tools or []) != 1 or not str(output.content).startswith("done:"):
        raise RuntimeError(f"expected one tool call and an answer, got {output.content!r}")
    case = Case("agno", "python tool", lambda: agent.run(REQUEST), _bind_tool(), first_ms)
    return Construction("agno", build), [case]


def _bind_tool() -> Callable[[], object]:
    return lambda: word_count(REQUEST)


PEERS: dict[str, tuple[str, Callable[[], tuple[Construction, list[Case]]]]] = {
    "pydantic-ai": ("pydantic-ai-slim", pydantic_ai_subjects),
    "agno": ("agno", agno_subjects),
}


# ----- the run ---------------------------------------------------------------------------------


def pin_one_cpu() -> str:
    if not hasattr(os, "sched_setaffinity"):
        return "not pinned (no sched_setaffinity here)"
    cpu = min(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {cpu})
    return f"pinned to CPU {cpu}"


def load() -> str:
    """Other processes on the machine: they show in the tails."""
    if not hasattr(os, "getloadavg"):
        return "load average unknown"
    return f"load average {os.getloadavg()[0]:.2f} (1 min)"


def ratio(ours: float, theirs: float) -> str:
    return f"{ours / theirs:.3g}x" if theirs else "n/a"


def report(constructions: list[Construction], cases: list[Case], args: argparse.Namespace) -> None:
    print(
        f"\nexecution context: {len(constructions[0].times):,} constructions each in "
        f"{args.rounds} interleaved rounds after {args.warmup} warm-up; memory: the "
        f"tracemalloc peak with {args.constructions:,} of them alive, divided by their number"
    )
    for item in constructions:
        print(
            f"  {item.system:<12} mean {item.mean_us:8.1f} us  p50 {item.p50_us:8.1f} us  "
            f"memory {item.bytes_each / 1024:7.2f} KiB each"
        )
    print(
        f"\none request with one tool call: {len(cases[0].times):,} per case in {args.rounds} "
        f"interleaved rounds after {args.warmup} warm-up, one thread; times in ms"
    )
    print(
        f"  {'case':<36} {'p50':>6} {'p99':>7} {'req/s':>7} {'tool alone':>10} "
        f"{'overhead':>8} {'own time':>8} {'first request':>13}"
    )
    for case in cases:
        own = f"{case.own_ms:8.3f}" if case.own_ms is not None else f"{'-':>8}"
        print(
            f"  {case.system + ' + ' + case.label:<36} {case.p50_ms:6.3f} {case.p99_ms:7.3f} "
            f"{case.rate:7,.0f} {case.tool_ms:10.3f} {case.overhead_ms:8.3f} {own} "
            f"{case.first_ms:13,.1f}"
        )
    print(
        "  overhead: p50 minus the tool alone's p50; own time: p50 of each request minus the "
        "time in its tool span"
    )
    ours = next(c for c in constructions if c.system == "caxton")
    peers = [c for c in constructions if c.system != "caxton"]
    if peers:
        print("\nratios, Caxton / peer (times and memory: below 1 is Caxton ahead; req/s: above 1)")
    for peer in peers:
        print(
            f"  context vs {peer.system}: mean {ratio(ours.mean_us, peer.mean_us)}  "
            f"p50 {ratio(ours.p50_us, peer.p50_us)}  "
            f"memory {ratio(ours.bytes_each, peer.bytes_each)}"
        )
        theirs = next(c for c in cases if c.system == peer.system)
        for case in (c for c in cases if c.system == "caxton"):
            print(
                f"  request, {case.label} vs {peer.system}: p50 {ratio(case.p50_ms, theirs.p50_ms)}"
                f"  p99 {ratio(case.p99_ms, theirs.p99_ms)}  req/s {ratio(case.rate, theirs.rate)}"
                f"  overhead {ratio(case.overhead_ms, theirs.overhead_ms)}"
            )
    ok = {True: "met", False: "NOT met"}
    mine = [c for c in cases if c.system == "caxton"]
    print(
        f"\ntargets: context <= 50 us: {ok[ours.p50_us <= 50 and ours.mean_us <= 50]}; "
        + "; ".join(
            f"{c.label}: overhead <= 1 ms p50 {ok[c.overhead_ms <= 1]}, "
            f">= 1,000 req/s {ok[c.rate >= 1000]}"
            for c in mine
        )
    )


def profile(cases: list[Case], calls: int) -> None:
    """Where a Caxton request spends its time: the top functions by cumulative time."""
    for case in (c for c in cases if c.system == "caxton"):
        profiler = cProfile.Profile()
        profiler.enable()
        for _ in range(calls):
            case.request()
        profiler.disable()
        print(f"\ncProfile, {calls} requests, caxton + {case.label}:")
        stats = pstats.Stats(profiler, stream=sys.stdout)
        stats.sort_stats("cumulative").print_stats(25)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--constructions", type=int, default=1000)
    parser.add_argument("--requests", type=int, default=2000, help="per case")
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=100)
    parser.add_argument("--profile", type=int, default=0, metavar="N", help="cProfile N requests")
    args = parser.parse_args()
    pinned = pin_one_cpu()
    with tempfile.TemporaryDirectory() as temp:
        home = Path(temp) / "home"
        home.mkdir()
        os.environ["CAXTON_HOME"] = str(home)
        os.environ["CAXTON_FORBID_REAL_LLM"] = "1"  # only the deterministic models
        runtime = Runtime(make_workspace(Path(temp)), model="test")
        try:
            construction, cases = caxton_subjects(runtime)
            constructions = [construction]
            versions = []
            for peer, (package, subjects) in PEERS.items():
                try:
                    peer_construction, peer_cases = subjects()
                except ImportError as exc:
                    print(f"{peer}: skipped, not installed ({exc}); {PEERS_HINT}")
                    continue
                except Exception as exc:
                    print(f"{peer}: skipped, it failed to run: {type(exc).__name__}: {exc}")
                    continue
                constructions.append(peer_construction)
                cases.extend(peer_cases)
                versions.append(f"{peer} {importlib.metadata.version(package)}")
            print(
                f"machine: {os.cpu_count()} CPUs ({cpu_model()}), "
                f"Python {platform.python_version()}, {pinned}; "
                f"peers: {', '.join(versions) or 'none'}; {load()}"
            )
            measure_constructions(constructions, args.constructions, args.rounds, args.warmup)
            measure_requests(cases, args.requests, args.rounds, args.warmup)
            report(constructions, cases, args)
            print(f"at the end, {load()}")
            if args.profile:
                profile(cases, args.profile)
        finally:
            runtime.close()


if __name__ == "__main__":
    main()
