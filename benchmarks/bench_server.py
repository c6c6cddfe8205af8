"""Server benchmark: `caxton serve` over loopback, against a bare ASGI app served the same way.

Run: `python benchmarks/bench_server.py`. It starts two real server processes on 127.0.0.1:
`caxton serve --model test` on a temporary workspace made by `caxton init` logic (plus one
lean agent: no tools, memory off) with a temporary data dir and CAXTON_HOME, and a ten-line
raw ASGI app answering `{"status": "ok"}` to everything, run by uvicorn with the settings
`caxton serve` uses (a socket bound with IPPROTO_TCP, so TCP_NODELAY; no access log, no server
header, lifespan off; uvicorn's `auto` loop and HTTP parser, whatever is installed). Both are
measured by the same client, a keep-alive `httpx.Client`, in interleaved rounds so that the
VM's drift falls on both alike.

1. Round trips, p50/p99: `GET /health` (no token), `GET .../agents` (a bearer token checked on
   every request), and the bare app's `GET /`: the ratio Caxton / bare is the figure that
   travels between machines.
2. A `test`-model request, `POST .../messages` answered as JSON: the starter `assistant`
   (memory recall and auto-store on: it embeds the request and writes memory) and the lean
   agent; the bare app's `POST /` with the same body is the reference.
3. Requests/s end to end for the lean agent with 1, 8 and 32 concurrent clients (asyncio tasks
   sharing one `httpx.AsyncClient`, in this process: the client's CPU is on the same 2 cores),
   and the bare app's `POST /` under the same load.
4. SSE: the time from sending the POST with `Accept: text/event-stream` to the first
   `event: token` line, and to the end of the stream.

Targets (issue 6): round trip p50 <= 5 ms; >= 500 test-model requests/s. `--profile` runs the
Caxton server under cProfile (its event-loop thread) and prints where its time goes.
"""

from __future__ import annotations

import argparse
import asyncio
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
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from caxton.workspace.scaffold import create_workspace

LEAN = "bench-lean"
REQUEST = "summarise the benchmark in one line"
BODY = {"request": REQUEST, "agent": None}
CONCURRENCY = (1, 8, 32)

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


def serve_bare(port: int) -> None:
    """Run `hello` with the uvicorn settings of `caxton/cli/serve.py`, until SIGTERM."""
    import uvicorn

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    config = uvicorn.Config(
        hello, log_config=None, access_log=False, server_header=False, lifespan="off"
    )
    server = uvicorn.Server(config)

    def stop(signum: int, frame: Any) -> None:
        # as `caxton serve` does: uvicorn calls this again after its own shutdown; a quiet
        # return makes SIGTERM a clean stop (exit 0) instead of a death by the signal
        server.should_exit = True

    signal.signal(signal.SIGTERM, stop)
    server.run(sockets=[sock])
    sock.close()


# ----- the server processes --------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


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
        while time.perf_counter() - started < timeout:
            if self.process.poll() is not None:
                raise SystemExit(
                    f"{self.name} exited with {self.process.returncode}:\n{self.log.read_text()}"
                )
            try:
                if httpx.get(f"{self.url}/health", timeout=1.0).status_code == 200:
                    return time.perf_counter() - started
            except httpx.HTTPError:
                time.sleep(0.05)
        raise SystemExit(f"{self.name} did not answer /health in {timeout:.0f} s")

    def stop(self) -> int | None:
        if self.process is None or self.process.poll() is not None:
            return self.process.returncode if self.process else None
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait()


def make_workspace(parent: Path) -> Path:
    """A workspace as `caxton init` makes it, plus the lean agent."""
    root = parent / "bench-ws"
    create_workspace(root)
    (root / "agents" / f"{LEAN}.toml").write_text(LEAN_AGENT, encoding="utf-8")
    return root


# ----- measuring -------------------------------------------------------------------------------


@dataclass
class Subject:
    """One request, sent again and again by the same client, and its round-trip times."""

    label: str
    send: Callable[[], object]
    times: list[float] = field(default_factory=list)  # seconds

    @property
    def p50_ms(self) -> float:
        return statistics.median(self.times) * 1000

    @property
    def p99_ms(self) -> float:
        return statistics.quantiles(self.times, n=100)[98] * 1000

    @property
    def rate(self) -> float:
        return len(self.times) / math.fsum(self.times)


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


def checked(response: httpx.Response) -> httpx.Response:
    if response.status_code != 200:
        raise SystemExit(f"{response.request.url}: HTTP {response.status_code}: {response.text}")
    return response


def get(client: httpx.Client, url: str) -> Callable[[], object]:
    return lambda: checked(client.get(url))


def post(client: httpx.Client, url: str, body: dict[str, Any]) -> Callable[[], object]:
    content = json.dumps(body).encode()
    headers = {"content-type": "application/json"}
    return lambda: checked(client.post(url, content=content, headers=headers))


def first_token(client: httpx.Client, url: str, body: dict[str, Any]) -> tuple[float, float]:
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


async def throughput(
    url: str, body: dict[str, Any], headers: dict[str, str], clients: int, total: int
) -> tuple[float, float, float]:
    """`total` POSTs from `clients` concurrent tasks: requests/s, p50 and p99 in ms."""
    content = json.dumps(body).encode()
    headers = {**headers, "content-type": "application/json"}
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    times: list[float] = []
    left = 5 * clients  # the warm-up: every connection opened and used

    async with httpx.AsyncClient(headers=headers, limits=limits, timeout=60) as client:

        async def worker(count: int) -> None:
            nonlocal left
            while left > 0:
                left -= 1
                start = time.perf_counter()
                response = await client.post(url, content=content)
                if count:
                    times.append(time.perf_counter() - start)
                if response.status_code != 200:
                    raise SystemExit(f"{url}: HTTP {response.status_code}: {response.text}")

        await asyncio.gather(*(worker(0) for _ in range(clients)))  # warm-up: open connections
        left = total
        start = time.perf_counter()
        await asyncio.gather(*(worker(1) for _ in range(clients)))
        seconds = time.perf_counter() - start
    return total / seconds, statistics.median(times) * 1000, _p99(times) * 1000


def _p99(times: list[float]) -> float:
    return statistics.quantiles(times, n=100)[98]


# ----- the run ---------------------------------------------------------------------------------


def cpu_model() -> str:
    try:
        with Path("/proc/cpuinfo").open(encoding="utf-8") as lines:
            for line in lines:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


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


def row(subject: Subject, reference: Subject | None) -> str:
    line = f"  {subject.label:<34} p50 {subject.p50_ms:7.3f} ms  p99 {subject.p99_ms:7.3f} ms"
    line += f"  {subject.rate:7,.0f} /s one by one"
    if reference is not None:
        line += (
            f"  (x bare: p50 {subject.p50_ms / reference.p50_ms:.2f}, "
            f"p99 {subject.p99_ms / reference.p99_ms:.2f})"
        )
    return line


def run(args: argparse.Namespace, temp: Path, stack: ExitStack) -> None:
    home = temp / "home"
    home.mkdir()
    data = temp / "data"
    env = {**os.environ, "CAXTON_HOME": str(home), "CAXTON_FORBID_REAL_LLM": "1"}
    workspace = make_workspace(temp)
    caxton_argv = [sys.executable]
    if args.profile:
        caxton_argv += ["-m", "cProfile", "-o", str(temp / "serve.prof")]
    caxton_argv += ["-m", "caxton", "serve", "--workspace", str(workspace)]
    caxton_argv += ["--data-dir", str(data), "--model", "test", "--port"]
    caxton = Server("caxton serve", caxton_argv, temp / "caxton.log", env)
    bare = Server("bare ASGI", [sys.executable, __file__, "--serve-bare"], temp / "bare.log", env)
    for server in (caxton, bare):
        stack.callback(server.stop)
    caxton_start, bare_start = caxton.start(), bare.start()
    token = (data / "server" / "admin-token").read_text(encoding="utf-8").strip()
    auth = {"authorization": f"Bearer {token}"}
    api = f"{caxton.url}/api/v1/workspaces/bench-ws"
    print(
        f"machine: {os.cpu_count()} CPUs ({cpu_model()}), Python {platform.python_version()}; "
        f"{versions()}; {load()}"
    )
    print(
        f"start until /health answers: caxton serve {caxton_start * 1000:,.0f} ms, "
        f"bare {bare_start * 1000:,.0f} ms"
    )

    client = stack.enter_context(httpx.Client(timeout=60))
    bare_get = Subject("bare GET /", get(client, f"{bare.url}/"))
    health = Subject("caxton GET /health", get(client, f"{caxton.url}/health"))
    authed = httpx.Client(timeout=60, headers=auth)
    stack.enter_context(authed)
    agents = Subject("caxton GET .../agents (token)", get(authed, f"{api}/agents"))
    measure([bare_get, health, agents], args.calls, args.rounds, args.warmup)
    print(f"\nround trips, one keep-alive client, {len(health.times):,} calls each, interleaved:")
    for subject in (bare_get, health, agents):
        print(row(subject, None if subject is bare_get else bare_get))

    messages = f"{api}/messages"
    bare_post = Subject("bare POST / (same body)", post(client, f"{bare.url}/", BODY))
    lean = Subject(f"POST messages {LEAN}", post(authed, messages, {**BODY, "agent": LEAN}))
    starter = Subject(
        "POST messages assistant", post(authed, messages, {**BODY, "agent": "assistant"})
    )
    first_ms: dict[str, float] = {}
    for agent in (LEAN, "assistant"):
        start = time.perf_counter()
        answer = checked(authed.post(messages, json={**BODY, "agent": agent})).json()
        first_ms[agent] = (time.perf_counter() - start) * 1000
        if answer["stop_reason"] != "done" or answer["error"]:
            raise SystemExit(f"{agent}: the request did not complete: {answer}")
    measure([bare_post, lean, starter], args.requests, args.rounds, args.warmup // 10)
    print(
        f"\ntest-model requests as JSON, {len(lean.times):,} each, interleaved "
        f"(first request: {LEAN} {first_ms[LEAN]:,.0f} ms, assistant "
        f"{first_ms['assistant']:,.0f} ms):"
    )
    for subject in (bare_post, lean, starter):
        print(row(subject, None if subject is bare_post else bare_post))

    print(
        f"\nrequests/s end to end, {args.load:,} POSTs per level after a warm-up, asyncio client:"
    )
    rates: dict[int, float] = {}
    for clients in CONCURRENCY:
        ours = asyncio.run(throughput(messages, {**BODY, "agent": LEAN}, auth, clients, args.load))
        theirs = asyncio.run(throughput(f"{bare.url}/", BODY, {}, clients, args.load))
        rates[clients] = ours[0]
        print(
            f"  {clients:>2} clients: {LEAN} {ours[0]:7,.0f} /s (p50 {ours[1]:6.2f} ms, p99 "
            f"{ours[2]:6.2f} ms)  bare {theirs[0]:7,.0f} /s (p50 {theirs[1]:6.2f} ms)  "
            f"x bare {ours[0] / theirs[0]:.3f}"
        )

    print(f"\nSSE, {args.sse:,} streams each, one by one (ms):")
    for agent in (LEAN, "assistant"):
        for _ in range(args.warmup // 10):
            first_token(authed, messages, {**BODY, "agent": agent})
        pairs = [first_token(authed, messages, {**BODY, "agent": agent}) for _ in range(args.sse)]
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
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=1000, help="GET round trips per subject")
    parser.add_argument("--requests", type=int, default=300, help="JSON POSTs per subject")
    parser.add_argument("--load", type=int, default=1000, help="POSTs per concurrency level")
    parser.add_argument("--sse", type=int, default=300, help="streams per agent")
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=100)
    parser.add_argument(
        "--profile", type=int, default=0, metavar="N", help="cProfile the server: top N functions"
    )
    parser.add_argument("--serve-bare", type=int, metavar="PORT", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_bare:
        serve_bare(args.serve_bare)
        return
    with tempfile.TemporaryDirectory() as temp, ExitStack() as stack:
        run(args, Path(temp), stack)


if __name__ == "__main__":
    main()
