"""`caxton serve` under load, as a real process: 1,000 requests from 50 concurrent clients, every
one answered, traced and (for the agent that keeps memory) remembered.

The helpers here (a server process, a workspace, a load driver) are shared by the other
process-level tests: `test_crash.py` and `test_hostile_clients.py`.
"""

from __future__ import annotations

import asyncio
import itertools
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from caxton.memory.embedder import Embedder
from caxton.memory.local import store_path as memory_path
from caxton.memory.scope import Scope
from caxton.memory.store import MemoryStore
from caxton.observability.store import TraceStore
from caxton.server.auth import TokenAuthority
from caxton.workspace.scaffold import create_workspace

WS = "load-ws"
API = f"/api/v1/workspaces/{WS}"
ASSISTANT = "assistant"  # the starter agent: memory recall, the memory tools, auto-store
LEAN = "lean"  # no tools, no memory: one model turn
LEAN_AGENT = f"""name = "{LEAN}"
description = "Load-test agent: no tools, no memory, one model turn."
capabilities = ["load-testing"]
tools = []
system_prompt = "You are a load-test agent: answer in one line."

[memory]
enabled = false
auto_store = false
"""
MEMORY_SCOPE = Scope("workspace", WS)  # the assistant's `[memory] scope = "workspace"`

REQUESTS = 1_000
CLIENTS = 50
# 1,000 assistant requests take ~100 s on 2 cores (each one embeds, searches and writes memory:
# the test model's `memory_store` call adds an entity per request), so one request in five goes
# to the assistant and the rest to the lean agent.
ASSISTANT_EVERY = 5


# ----- the server process ----------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def make_workspace(parent: Path) -> Path:
    """A workspace as `caxton init` makes it (the starter assistant), plus the lean agent."""
    root = parent / WS
    create_workspace(root)
    (root / "agents" / f"{LEAN}.toml").write_text(LEAN_AGENT, encoding="utf-8")
    return root


class Server:
    """`caxton serve --model test` on a free loopback port, its output in a log file."""

    def __init__(self, workspace: Path, data_dir: Path, log: Path, args: Sequence[str]) -> None:
        self.workspace = workspace
        self.data_dir = data_dir
        self.log = log
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        argv = [sys.executable, "-m", "caxton", "serve", "--workspace", str(workspace)]
        argv += ["--data-dir", str(data_dir), "--port", str(self.port), "--model", "test"]
        with log.open("ab") as out:  # a file, not a pipe that nobody drains under load
            self.process = subprocess.Popen([*argv, *args], stdout=out, stderr=out, cwd=log.parent)

    def wait_ready(self, timeout: float = 60.0) -> None:
        """Until `GET /ready` answers 200; fails at once if the process exits."""
        deadline = time.monotonic() + timeout
        while True:
            code = self.process.poll()
            assert code is None, f"caxton serve exited with {code}:\n{self.output()}"
            try:
                if httpx.get(f"{self.url}/ready", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, f"not ready in {timeout:.0f} s:\n{self.output()}"
            time.sleep(0.05)

    @property
    def headers(self) -> dict[str, str]:
        token = (self.data_dir / "server" / "admin-token").read_text(encoding="utf-8").strip()
        return {"Authorization": f"Bearer {token}"}

    def tokens(self, count: int) -> list[str]:
        """`count` deployer tokens for this workspace, one per client, as real clients have:
        the server limits each token's rate (100 requests/s by default), not the server's."""
        authority = TokenAuthority(self.data_dir)
        return [
            authority.issue(f"load-client-{i}", [WS], "deployer", 3600)[0] for i in range(count)
        ]

    def client(self, timeout: float = 30.0) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers=self.headers, timeout=timeout)

    def terminate(self, timeout: float = 40.0) -> int:
        """SIGTERM, then the exit code (the grace for requests in flight is 30 s)."""
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=timeout)

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")


Launch = Callable[..., Server]


@contextmanager
def launcher(logs: Path) -> Iterator[Launch]:
    """Starts `caxton serve` processes (ready when returned); kills any left at the end."""
    started: list[Server] = []

    def start(workspace: Path, data_dir: Path, *args: str) -> Server:
        server = Server(workspace, data_dir, logs / f"serve-{len(started)}.log", args)
        started.append(server)
        server.wait_ready()
        return server

    try:
        yield start
    finally:
        for server in started:
            server.kill()


@pytest.fixture
def launch(tmp_path: Path) -> Iterator[Launch]:
    with launcher(tmp_path) as start:
        yield start


# ----- the load --------------------------------------------------------------------------------


@dataclass
class Outcome:
    """One request sent: its answer, or the transport error that ended it."""

    agent: str
    request: str
    sent_at: float = 0.0  # time.monotonic()
    status: int | None = None
    body: dict[str, Any] | None = None
    failure: str | None = None

    @property
    def trace_id(self) -> str:
        assert self.body is not None
        trace_id: str = self.body["trace_id"]
        return trace_id


def jobs(count: int, assistant_every: int, prefix: str = "load") -> list[tuple[str, str]]:
    """(agent, request) pairs with unique requests: every `assistant_every`-th to the assistant."""
    return [
        (ASSISTANT if i % assistant_every == 0 else LEAN, f"{prefix} request {i}: hello")
        for i in range(count)
    ]


async def send_all(
    server: Server,
    work: Sequence[tuple[str, str]],
    clients: int,
    *,
    answered: Callable[[Outcome, int], Any] | None = None,
    outcomes: list[Outcome] | None = None,
) -> list[Outcome]:
    """`work` POSTed as JSON by `clients` concurrent clients (each its own connection and
    token), each taking the next request as soon as it has an answer. A client stops at its
    first transport error. `answered(outcome, n)` is awaited after the n-th answer. Each
    request's outcome is appended to `outcomes` as it is sent; returns that list."""
    pending = iter(work)
    outcomes = [] if outcomes is None else outcomes
    counter = itertools.count(1)
    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)

    async def client(token: str) -> None:
        async with httpx.AsyncClient(
            base_url=server.url,
            headers={"Authorization": f"Bearer {token}"},
            timeout=60,
            limits=limits,
        ) as http:
            for agent, request in pending:
                outcome = Outcome(agent, request, time.monotonic())
                outcomes.append(outcome)
                try:
                    response = await http.post(
                        f"{API}/messages", json={"request": request, "agent": agent}
                    )
                except httpx.TransportError as exc:
                    outcome.failure = f"{type(exc).__name__}: {exc}"
                    return
                outcome.status = response.status_code
                try:
                    outcome.body = response.json()
                except ValueError:  # e.g. uvicorn's own plain-text errors
                    outcome.body = {"text": response.text[:300]}
                if answered is not None:
                    await answered(outcome, next(counter))

    await asyncio.gather(*(client(token) for token in server.tokens(clients)))
    return outcomes


async def read_memory(server: Server, done: asyncio.Event) -> list[int]:
    """`GET memory/export` again and again until `done`: reads of the memory store beside
    the executions writing it. The statuses answered."""
    statuses = []
    async with httpx.AsyncClient(base_url=server.url, headers=server.headers, timeout=60) as http:
        while not done.is_set():
            statuses.append((await http.get(f"{API}/memory/export")).status_code)
            await asyncio.sleep(0.1)
    return statuses


def problems(outcomes: Sequence[Outcome]) -> list[str]:
    """Every outcome that is not a completed request, described (empty: all went well)."""
    found = []
    for o in outcomes:
        body = o.body or {}
        if o.status != 200 or body.get("stop_reason") != "done" or body.get("error") is not None:
            shown = o.failure or f"HTTP {o.status}: {str(body)[:300]}"
            found.append(f"{o.agent} {o.request!r}: {shown}")
    return found


def listed_traces(client: httpx.Client) -> set[str]:
    """The trace ids that `GET traces` lists (at most 1,000, its limit)."""
    response = client.get(f"{API}/traces", params={"limit": 1000})
    assert response.status_code == 200, response.text
    return {e["trace_id"] for e in response.json()["executions"]}


def stored_traces(data_dir: Path, spans_of: Sequence[str] = ()) -> tuple[set[str], dict[str, int]]:
    """The trace ids in the server's trace store (opened read-only, the server stopped), and
    how many spans it holds for each of `spans_of` (a lookup costs milliseconds: a sample)."""
    path = data_dir / "workspaces" / WS / "traces.duckdb"
    with TraceStore.open(path, read_only=True) as store:
        ids = {e.trace_id for e in store.executions(limit=1_000_000)}
        return ids, {tid: len(store.trace(tid)[1]) for tid in spans_of}


def remembered(workspace: Path, embedder: Embedder) -> tuple[list[str], list[str]]:
    """From the workspace's memory store (the server stopped): the requests of the stored
    interactions, and every observation of the assistant's scope."""
    with MemoryStore.open(memory_path(workspace), embedder) as store:
        interactions = store.interactions(MEMORY_SCOPE, limit=None)
        assert {i.agent for i in interactions} <= {ASSISTANT}
        observations = [o for e in store.entities(MEMORY_SCOPE) for o in e.observations]
        assert store.scopes() in ([], [MEMORY_SCOPE])  # the lean agent wrote nothing
        return [i.request for i in interactions], observations


def assert_remembers(
    requests: Sequence[str], interactions: Sequence[str], observations: Sequence[str]
) -> None:
    """Each assistant request left its memory writes: one interaction (auto-store) and one
    observation (the test model calls `memory_store` with the request)."""
    stored = set(interactions)
    missing = [r for r in requests if r not in stored]
    assert not missing, f"{len(missing)} interactions missing, e.g. {missing[:3]}"
    noted = set(observations)
    unnoted = [r for r in requests if r not in noted]
    assert not unnoted, f"{len(unnoted)} observations missing, e.g. {unnoted[:3]}"


# ----- the test --------------------------------------------------------------------------------


def test_a_thousand_requests_from_fifty_clients_are_all_answered_traced_and_remembered(
    tmp_path: Path, launch: Launch, embedder: Embedder
) -> None:
    workspace, data = make_workspace(tmp_path), tmp_path / "data"
    server = launch(workspace, data)
    work = jobs(REQUESTS, ASSISTANT_EVERY)

    async def load_while_reading_memory() -> tuple[list[Outcome], list[int]]:
        done = asyncio.Event()
        reader = asyncio.create_task(read_memory(server, done))
        try:
            outcomes = await send_all(server, work, CLIENTS)
        finally:
            done.set()
        return outcomes, await reader

    started = time.perf_counter()
    outcomes, reads = asyncio.run(load_while_reading_memory())
    seconds = time.perf_counter() - started

    assert len(outcomes) == REQUESTS
    assert reads and set(reads) == {200}, f"memory reads beside the writes: {reads}"
    failed = problems(outcomes)
    assert not failed, f"{len(failed)} of {REQUESTS} failed, e.g.:\n" + "\n".join(failed[:10])
    answered = {o.trace_id: o for o in outcomes}
    assert len(answered) == REQUESTS  # a trace id per request
    assert {o.body["agent"] for o in outcomes if o.body} == {ASSISTANT, LEAN}
    with server.client() as client:
        assert listed_traces(client) == set(answered)  # every answer is readable at once
        metrics = client.get("/metrics").text
    executed = sum(
        float(line.rsplit(" ", 1)[1])
        for line in metrics.splitlines()
        if line.startswith("caxton_executions_total{")
    )
    assert executed == REQUESTS

    assert server.terminate() == 0, server.output()
    log = server.output()
    assert log.rstrip().endswith("stopped")
    assert "not saved" not in log and "Traceback" not in log

    sample = {o.trace_id: o.body["trace"]["spans"] for o in outcomes[::20] if o.body}
    stored, spans = stored_traces(data, list(sample))
    assert stored == set(answered)
    assert spans == sample  # all of each execution's spans
    interactions, observations = remembered(workspace, embedder)
    to_assistant = [o.request for o in outcomes if o.agent == ASSISTANT]
    assert len(to_assistant) == REQUESTS // ASSISTANT_EVERY
    assert sorted(interactions) == sorted(to_assistant)  # one each: none lost, none doubled
    assert_remembers(to_assistant, interactions, observations)
    print(f"\n{REQUESTS} requests from {CLIENTS} clients in {seconds:.1f} s")
