"""Server benchmark: `caxton serve` over loopback, against a bare ASGI app served the same way.

Run: `python benchmarks/bench_server.py`. It starts two real server processes on 127.0.0.1:
`caxton serve --model test` on a temporary workspace made by `caxton init` logic (plus one
lean agent: no tools, memory off) with a temporary data dir and CAXTON_HOME, and a ten-line
raw ASGI app answering `{"status": "ok"}` to everything, run by uvicorn with the settings
`caxton serve` uses (a socket bound with IPPROTO_TCP, so TCP_NODELAY; no access log, no server
header, lifespan off; uvicorn's `auto` loop and HTTP parser, i.e. uvloop and httptools when
installed; `--loop asyncio --http h11` serves both with the pure-Python pair instead).

The client is `loadgen.py` beside this file, not httpx: on a 2-core VM the client shares the
CPUs with the servers, and httpx's few hundred microseconds of Python per request were most
of what was measured (the bare app reached only ~600 requests/s under it, and fell with more
clients). loadgen writes a prepared request and reads the status line, headers and
Content-Length body, nothing more: 0.03-0.05 ms of CPU per request against the bare app.

1. Round trips, p50/p99, one blocking keep-alive socket per subject, subjects interleaved in
   rounds so that the VM's drift falls on all alike: `GET /health` (no token), `GET .../agents`
   (a bearer token checked on every request) and the bare app's `GET /`; the ratio Caxton /
   bare is the figure that travels between machines.
2. A `test`-model request, `POST .../messages` answered as JSON: the starter `assistant`
   (memory recall and auto-store on: it embeds the request and writes memory) and the lean
   agent; the bare app's `POST /` with the same body is the reference.
3. Requests/s end to end for the lean agent with 1, 8 and 32 keep-alive connections, each
   sending its next request when the previous answer is in, from a loadgen process of its own
   (its GIL is not the benchmark's), Caxton and the bare app alternately at each level. Beside
   each rate: the server's CPU time per request (from /proc: all threads, and its event-loop
   thread alone) and the client's.
4. SSE, with httpx (a streamed answer read line by line; the one place its cost is accepted,
   and the same for every figure in that table): the time from sending the POST with `Accept:
   text/event-stream` to the first `event: token` line, and to the end of the stream.

Targets (issue 6): round trip p50 <= 5 ms; >= 500 test-model requests/s. `--profile N` runs the
Caxton server under cProfile (its main thread: the event loop; the worker threads are not
seen) and prints its top N functions by own time; `--py-spy FILE` samples all of its threads
(the event loop, the pool workers, the trace writer) during the 8-client level instead
(`pip install py-spy`; it attaches with ptrace, so it needs the right to).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import pstats
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from common import cpu_model, free_port, stop_process
from loadgen import Connection, HTTPFailure, request_bytes

from caxton.workspace.scaffold import create_workspace

LEAN = "bench-lean"
REQUEST = "summarise the benchmark in one line"
BODY = {"request": REQUEST, "agent": None}
CONCURRENCY = (1, 8, 32)
LOADGEN = Path(__file__).with_name("loadgen.py")

LEAN_AGENT = f"""name = "{LEAN}"
description = "Server benchmark agent: no tools, no memory, one model turn."
capabilities = ["benchmarking"]
tools = []
system_prompt = "You are a benchmark agent: answer in one line."

[memory]
enabled = false
auto_store = false
"""


# ----- the reference: a bare ASGI app, served by uvicorn as `caxton serve` serves Caxton -------


async def hello(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """The bare ASGI hello-world: the same JSON answer to every HTTP request."""
    if scope["type"] != "http":
        return
    body = b'{"status":"ok"}'
    headers = [(b"content-type", b"application/json"), (b"content-length", b"15")]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def serve_bare(port: int, loop: str, http: str) -> None:
    """Run `hello` with the uvicorn settings of `caxton/cli/serve.py`, until SIGTERM."""
    import uvicorn

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    config = uvicorn.Config(
        hello,
        log_config=None,
        access_log=False,
        server_header=False,
        lifespan="off",
        loop=loop,
        http=http,
    )
    server = uvicorn.Server(config)

    def stop(signum: int, frame: Any) -> None:
        # as `caxton serve` does: uvicorn calls this again after its own shutdown; a quiet
        # return makes SIGTERM a clean stop (exit 0) instead of a death by the signal
        server.should_exit = True

    signal.signal(signal.SIGTERM, stop)
    server.run(sockets=[sock])
    sock.close()


def serve_caxton(loop: str, http: str, argv: Sequence[str]) -> None:
    """`caxton <argv>` as `python -m caxton` runs it, with uvicorn's event loop and HTTP parser
    forced (`caxton serve` has no flag for either) and, when `caxton serve` has no
    `--rate-limit` flag to turn it off, no per-token rate limit (a benchmark sends hundreds of
    requests a second with one token). Each is patched in before the CLI runs: the loop on
    `uvicorn.Config`, the parser on `caxton.server.serving.uvicorn_config` (which keeps
    Caxton's connection deadlines on either parser), the limit on `create_app`."""
    import runpy

    import uvicorn

    class Config(uvicorn.Config):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            if loop != "auto":
                kwargs["loop"] = loop
            if http != "auto" and not isinstance(kwargs.get("http"), type):
                kwargs["http"] = http
            super().__init__(*args, **kwargs)

    uvicorn.Config = Config  # type: ignore[misc]
    if http != "auto":
        from caxton.server import serving

        configure = serving.uvicorn_config

        def forced(app: Any, **kwargs: Any) -> uvicorn.Config:
            return configure(app, **{**kwargs, "http": http})

        serving.uvicorn_config = forced
    if not _has_rate_limit_flag():
        from caxton.server import app as server_app

        create_app = server_app.create_app

        def unlimited(state: Any, **kwargs: Any) -> Any:
            if kwargs.get("limits") is None:
                kwargs["limits"] = server_app.Limits(rate=0)
            return create_app(state, **kwargs)

        server_app.create_app = unlimited
    sys.argv = ["caxton", *argv]
    runpy.run_module("caxton", run_name="__main__", alter_sys=True)


def _has_rate_limit_flag() -> bool:
    """Whether `caxton serve` takes `--rate-limit` (then the benchmark passes 0)."""
    import inspect

    from caxton.cli import serve

    return "rate_limit" in inspect.signature(serve.serve).parameters


# ----- the server processes --------------------------------------------------------------------


@dataclass
class Server:
    """A server subprocess on 127.0.0.1, stopped with SIGTERM (then SIGKILL after 30 s)."""

    name: str
    argv: list[str]
    log: Path
    env: dict[str, str]
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60.0) -> float:
        """Start it and wait for `GET /health`; returns the seconds that took."""
        started = time.perf_counter()
        with self.log.open("wb") as log:  # a file, not a pipe nobody drains
            self.process = subprocess.Popen(
                [*self.argv, str(self.port)], stdout=log, stderr=log, env=self.env
            )
        health = request_bytes(f"{self.url}/health")
        while time.perf_counter() - started < timeout:
            if self.process.poll() is not None:
                raise SystemExit(
                    f"{self.name} exited with {self.process.returncode}:\n{self.log.read_text()}"
                )
            try:
                with Connection(self.url, timeout=1.0) as connection:
                    if connection.send(health)[0] == 200:
                        return time.perf_counter() - started
            except (OSError, HTTPFailure):
                time.sleep(0.05)
        raise SystemExit(f"{self.name} did not answer /health in {timeout:.0f} s")

    def cpu(self) -> tuple[float, float]:
        """CPU seconds (user + system) used so far: by the whole process, by its main thread."""
        assert self.process is not None
        pid = self.process.pid
        return _cpu(f"/proc/{pid}/stat"), _cpu(f"/proc/{pid}/task/{pid}/stat")

    def stop(self) -> int | None:
        return stop_process(self.process)


def _cpu(stat: str) -> float:
    try:
        fields = Path(stat).read_text(encoding="ascii").rpartition(")")[2].split()
    except OSError:
        return math.nan
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def make_workspace(parent: Path) -> Path:
    """A workspace as `caxton init` makes it, plus the lean agent."""
    root = parent / "bench-ws"
    create_workspace(root)
    (root / "agents" / f"{LEAN}.toml").write_text(LEAN_AGENT, encoding="utf-8")
    return root


# ----- measuring -------------------------------------------------------------------------------


@dataclass
class Subject:
    """One request, sent again and again on its own connection, and its round-trip times."""

    label: str
    url: str
    request: bytes
    times: list[float] = field(default_factory=list)  # seconds
    connection: Connection = field(init=False)

    def __post_init__(self) -> None:
        self.connection = Connection(self.url)

    def send(self) -> bytes:
        status, body = self.connection.send(self.request)
        if status != 200:
            raise SystemExit(f"{self.label}: HTTP {status}: {body[:500]!r}")
        return body

    @property
    def p50_ms(self) -> float:
        return statistics.median(self.times) * 1000

    @property
    def p99_ms(self) -> float:
        return _p99(self.times) * 1000

    @property
    def rate(self) -> float:
        return len(self.times) / math.fsum(self.times)


def get(label: str, url: str, headers: Sequence[tuple[str, str]] = ()) -> Subject:
    return Subject(label, url, request_bytes(url, "GET", b"", headers))


def post(
    label: str, url: str, body: dict[str, Any], headers: Sequence[tuple[str, str]] = ()
) -> Subject:
    content = json.dumps(body).encode()
    all_headers = [*headers, ("content-type", "application/json")]
    return Subject(label, url, request_bytes(url, "POST", content, all_headers))


def measure(subjects: list[Subject], calls: int, rounds: int, warmup: int) -> None:
    for subject in subjects:
        for _ in range(warmup):
            subject.send()
    per_round = max(1, calls // rounds)
    clock = time.perf_counter
    for _ in range(rounds):
        for subject in subjects:
            times, send = subject.times, subject.send
            for _ in range(per_round):
                start = clock()
                send()
                times.append(clock() - start)


@dataclass
class Level:
    """One throughput level against one server: loadgen's figures and the server's CPU."""

    rate: float
    p50_ms: float
    p99_ms: float
    client_cpu_ms: float  # per request
    server_cpu_ms: float  # per request, all threads
    loop_cpu_ms: float  # per request, the main thread (the event loop)


def throughput(
    server: Server, path: str, body: dict[str, Any], headers: Sequence[tuple[str, str]], **how: Any
) -> Level:
    """`how["total"]` POSTs from `how["clients"]` connections of a loadgen process."""
    clients, total = how["clients"], how["total"]
    argv = [sys.executable, str(LOADGEN), server.url + path, "--method", "POST"]
    argv += ["--clients", str(clients), "--requests", str(total), "--body", json.dumps(body)]
    argv += [a for name, value in headers for a in ("--header", f"{name}: {value}")]
    spy = None
    if how.get("spy"):  # py-spy samples every thread of the server while the load runs
        assert server.process is not None
        spy_argv = ["py-spy", "record", "--pid", str(server.process.pid), "--nonblocking"]
        spy_argv += ["--threads", "--rate", "250", "-o", how["spy"]]
        spy_argv += ["--format", _spy_format(how["spy"])]
        spy = subprocess.Popen(spy_argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        time.sleep(1.0)  # py-spy attaches
    before = server.cpu()
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    after = server.cpu()
    if spy is not None:
        spy.send_signal(signal.SIGINT)  # py-spy writes its file on SIGINT
        if spy.wait(timeout=60) != 0:
            print(f"py-spy failed: {spy.stderr.read().decode() if spy.stderr else ''}")
    if done.returncode != 0:
        raise SystemExit(f"loadgen against {server.name} failed: {done.stdout}{done.stderr}")
    found = json.loads(done.stdout)
    requests = total + 5 * clients  # loadgen's warm-up: 5 untimed requests per connection
    return Level(
        found["rate"],
        found["p50_ms"],
        found["p99_ms"],
        found["client_cpu_ms"],
        (after[0] - before[0]) / requests * 1000,
        (after[1] - before[1]) / requests * 1000,
    )


def _spy_format(path: str) -> str:
    return {".svg": "flamegraph", ".json": "speedscope"}.get(Path(path).suffix, "raw")


def first_token(client: Any, url: str, body: dict[str, Any]) -> tuple[float, float]:
    """Seconds from sending the POST to the first `event: token` line, and to the stream's end."""
    headers = {"accept": "text/event-stream"}
    start = time.perf_counter()
    first = 0.0
    last = ""
    with client.stream("POST", url, json=body, headers=headers) as response:
        if response.status_code != 200:
            raise SystemExit(f"{url}: SSE answered HTTP {response.status_code}")
        for line in response.iter_lines():
            if not first and line == "event: token":
                first = time.perf_counter() - start
            if line.startswith("event: "):
                last = line
    if not first or last != "event: done":
        raise SystemExit(f"{url}: the stream had no token event or did not end with done")
    return first, time.perf_counter() - start


def _p99(times: list[float]) -> float:
    return statistics.quantiles(times, n=100)[98]


# ----- the run ---------------------------------------------------------------------------------


def load() -> str:
    if not hasattr(os, "getloadavg"):
        return "load average unknown"
    return f"load average {os.getloadavg()[0]:.2f} (1 min)"


def versions() -> str:
    import importlib.metadata as md

    names = ("uvicorn", "uvloop", "httptools", "h11", "fastapi", "starlette", "httpx")
    found = []
    for name in names:
        try:
            found.append(f"{name} {md.version(name)}")
        except md.PackageNotFoundError:
            found.append(f"{name} -")
    return ", ".join(found)


def stack(loop: str, http: str) -> str:
    """What uvicorn's settings resolve to here."""
    import importlib.util

    if loop == "auto":
        loop = "uvloop" if importlib.util.find_spec("uvloop") else "asyncio"
    if http == "auto":
        http = "httptools" if importlib.util.find_spec("httptools") else "h11"
    return f"{loop} + {http}"


def row(subject: Subject, reference: Subject | None) -> str:
    line = f"  {subject.label:<34} p50 {subject.p50_ms:7.3f} ms  p99 {subject.p99_ms:7.3f} ms"
    line += f"  {subject.rate:7,.0f} /s one by one"
    if reference is not None:
        line += (
            f"  (x bare: p50 {subject.p50_ms / reference.p50_ms:.2f}, "
            f"p99 {subject.p99_ms / reference.p99_ms:.2f})"
        )
    return line


def run(args: argparse.Namespace, temp: Path, stack_: ExitStack) -> None:
    home = temp / "home"
    home.mkdir()
    data = temp / "data"
    env = {**os.environ, "CAXTON_HOME": str(home), "CAXTON_FORBID_REAL_LLM": "1"}
    workspace = make_workspace(temp)
    caxton_argv = [sys.executable]
    if args.profile:
        caxton_argv += ["-m", "cProfile", "-o", str(temp / "serve.prof")]
    unlimited = _has_rate_limit_flag()
    if args.loop == "auto" and args.http == "auto" and unlimited and not args.profile:
        caxton_argv += ["-m", "caxton"]  # exactly what a user runs
    else:
        caxton_argv += [__file__, "--serve-caxton", args.loop, args.http, "--"]
    caxton_argv += ["serve", "--workspace", str(workspace)]
    caxton_argv += ["--data-dir", str(data), "--model", "test"]
    caxton_argv += ["--rate-limit", "0", "--port"] if unlimited else ["--port"]
    caxton = Server("caxton serve", caxton_argv, temp / "caxton.log", env)
    bare_argv = [sys.executable, __file__, "--loop", args.loop, "--http", args.http]
    bare = Server("bare ASGI", [*bare_argv, "--serve-bare"], temp / "bare.log", env)
    for server in (caxton, bare):
        stack_.callback(server.stop)
    caxton_start, bare_start = caxton.start(), bare.start()
    token = (data / "server" / "admin-token").read_text(encoding="utf-8").strip()
    auth = [("authorization", f"Bearer {token}")]
    api = f"{caxton.url}/api/v1/workspaces/bench-ws"
    print(
        f"machine: {os.cpu_count()} CPUs ({cpu_model()}), Python {platform.python_version()}; "
        f"{versions()}; servers on {stack(args.loop, args.http)}; {load()}"
    )
    print(
        f"start until /health answers: caxton serve {caxton_start * 1000:,.0f} ms, "
        f"bare {bare_start * 1000:,.0f} ms; caxton's per-token rate limit off "
        f"({'--rate-limit 0' if unlimited else 'patched: `caxton serve` has no --rate-limit'})"
    )

    bare_get = get("bare GET /", f"{bare.url}/")
    health = get("caxton GET /health", f"{caxton.url}/health")
    agents = get("caxton GET .../agents (token)", f"{api}/agents", auth)
    measure([bare_get, health, agents], args.calls, args.rounds, args.warmup)
    print(
        f"\nround trips, one keep-alive connection each, {len(health.times):,} calls each, "
        "interleaved:"
    )
    for subject in (bare_get, health, agents):
        print(row(subject, None if subject is bare_get else bare_get))

    messages = f"{api}/messages"
    bare_post = post("bare POST / (same body)", f"{bare.url}/", BODY)
    lean = post(f"POST messages {LEAN}", messages, {**BODY, "agent": LEAN}, auth)
    starter = post("POST messages assistant", messages, {**BODY, "agent": "assistant"}, auth)
    first_ms: dict[str, float] = {}
    for subject in (lean, starter):
        start = time.perf_counter()
        answer = json.loads(subject.send())
        first_ms[subject.label] = (time.perf_counter() - start) * 1000
        if answer["stop_reason"] != "done" or answer["error"]:
            raise SystemExit(f"{subject.label}: the request did not complete: {answer}")
    measure([bare_post, lean, starter], args.requests, args.rounds, args.warmup // 10)
    print(
        f"\ntest-model requests as JSON, {len(lean.times):,} each, interleaved "
        f"(first request: {LEAN} {first_ms[lean.label]:,.0f} ms, assistant "
        f"{first_ms[starter.label]:,.0f} ms):"
    )
    for subject in (bare_post, lean, starter):
        print(row(subject, None if subject is bare_post else bare_post))
    for subject in (bare_get, health, agents, bare_post, lean, starter):
        subject.connection.close()

    print(
        f"\nrequests/s end to end, {args.load:,} POSTs per level after a warm-up, from a loadgen "
        "process (CPU ms per request: server all threads / its event loop; client):"
    )
    rates: dict[int, float] = {}
    for clients in CONCURRENCY:
        body = {**BODY, "agent": LEAN}
        path = messages[len(caxton.url) :]
        spy = args.py_spy if clients == 8 else None
        ours = throughput(caxton, path, body, auth, clients=clients, total=args.load, spy=spy)
        theirs = throughput(bare, "/", BODY, (), clients=clients, total=args.load)
        rates[clients] = ours.rate
        print(
            f"  {clients:>2} clients: {LEAN} {ours.rate:7,.0f} /s (p50 {ours.p50_ms:6.2f} ms, "
            f"p99 {ours.p99_ms:6.2f} ms; cpu {ours.server_cpu_ms:.3f} / {ours.loop_cpu_ms:.3f}; "
            f"{ours.client_cpu_ms:.3f})"
        )
        print(
            f"  {'':>2}          bare {theirs.rate:7,.0f} /s (p50 {theirs.p50_ms:6.2f} ms, "
            f"p99 {theirs.p99_ms:6.2f} ms; cpu {theirs.server_cpu_ms:.3f} / "
            f"{theirs.loop_cpu_ms:.3f}; {theirs.client_cpu_ms:.3f})  "
            f"x bare {ours.rate / theirs.rate:.3f}"
        )

    import httpx

    print(f"\nSSE (httpx client), {args.sse:,} streams each, one by one (ms):")
    with httpx.Client(timeout=60, headers=dict(auth)) as client:
        for agent in (LEAN, "assistant"):
            for _ in range(args.warmup // 10):
                first_token(client, messages, {**BODY, "agent": agent})
            pairs = [
                first_token(client, messages, {**BODY, "agent": agent}) for _ in range(args.sse)
            ]
            firsts = [p[0] * 1000 for p in pairs]
            ends = [p[1] * 1000 for p in pairs]
            print(
                f"  {agent:<12} first token p50 {statistics.median(firsts):6.2f}  p99 "
                f"{_p99(firsts):6.2f}   whole stream p50 {statistics.median(ends):6.2f}  p99 "
                f"{_p99(ends):6.2f}"
            )

    ok = {True: "met", False: "NOT met"}
    best = max(rates.values())
    print(
        f"\ntargets: round trip p50 <= 5 ms: /health {ok[health.p50_ms <= 5]}, agents "
        f"{ok[agents.p50_ms <= 5]}, {LEAN} request {ok[lean.p50_ms <= 5]}, assistant request "
        f"{ok[starter.p50_ms <= 5]}; >= 500 test-model requests/s: {ok[best >= 500]} "
        f"(best {best:,.0f} /s)"
    )
    print(f"at the end, {load()}")
    for server in (caxton, bare):
        code = server.stop()
        if code != 0:
            print(f"{server.name} exited with {code}; its log: {server.log}", file=sys.stderr)
    if args.profile:
        print("\ncProfile of the caxton serve process (its main thread: the event loop):")
        stats = pstats.Stats(str(temp / "serve.prof"), stream=sys.stdout)
        stats.sort_stats("tottime").print_stats(args.profile)


def main() -> None:
    if sys.argv[1:2] == ["--serve-caxton"]:  # python bench_server.py --serve-caxton L H -- ...
        serve_caxton(sys.argv[2], sys.argv[3], sys.argv[5:])
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--calls", type=int, default=1000, help="GET round trips per subject")
    parser.add_argument("--requests", type=int, default=300, help="JSON POSTs per subject")
    parser.add_argument("--load", type=int, default=2000, help="POSTs per concurrency level")
    parser.add_argument("--sse", type=int, default=300, help="streams per agent")
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=100)
    parser.add_argument(
        "--loop", choices=("auto", "asyncio", "uvloop"), default="auto", help="uvicorn's loop"
    )
    parser.add_argument(
        "--http", choices=("auto", "h11", "httptools"), default="auto", help="uvicorn's parser"
    )
    parser.add_argument(
        "--profile", type=int, default=0, metavar="N", help="cProfile the server: top N functions"
    )
    parser.add_argument(
        "--py-spy",
        metavar="FILE",
        help="record the caxton server with py-spy (all threads) at 8 clients: .svg "
        "flamegraph, .json speedscope, else raw collapsed stacks",
    )
    parser.add_argument("--serve-bare", type=int, metavar="PORT", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_bare:
        serve_bare(args.serve_bare, args.loop, args.http)
        return
    with tempfile.TemporaryDirectory() as temp, ExitStack() as stack_:
        run(args, Path(temp), stack_)


if __name__ == "__main__":
    main()
