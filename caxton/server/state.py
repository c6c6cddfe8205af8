"""What a server serves: workspaces (runtime, trace store, worker pool, events) and its state.

Executions run on a bounded thread pool per workspace (the runtime is synchronous), never on
the event loop. The server owns each workspace's trace store (DuckDB allows one writing
process) and saves every execution to it from one writer thread, off the response path.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import queue
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeVar

from caxton.errors import CaxtonError, UsageError
from caxton.observability.store import TraceStore
from caxton.runtime.executor import ExecutionResult, Overloaded
from caxton.runtime.runtime import Runtime
from caxton.server.auth import TokenAuthority

log = logging.getLogger("caxton.server")
T = TypeVar("T")

MAX_QUEUED = 256  # executions waiting for a worker, per workspace, before 503 + Retry-After
HISTORY_TURNS = 20  # earlier exchanges of a conversation sent to the model with a request
KEPT_CONVERSATIONS = 1_000  # conversations whose exchanges the server remembers, per workspace
KEPT_EVENTS = 256  # events a reconnecting subscriber can catch up on (`Last-Event-ID`)
SUBSCRIBER_QUEUE = 1_024  # events waiting for one slow subscriber before it loses some


# ----- events --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Event:
    id: int
    kind: str  # execution | reload | deploy
    data: dict[str, Any]


class Subscriber:
    def __init__(self) -> None:
        self.queue: asyncio.Queue[Event | None] = asyncio.Queue(SUBSCRIBER_QUEUE)  # None: end
        self.dropped = 0  # events lost because this subscriber fell behind


class EventHub:
    """A workspace's events for every `GET events` subscriber. `publish` may be called from
    any thread; delivery happens on the event loop. A subscriber that falls more than
    SUBSCRIBER_QUEUE events behind loses the newest ones and is told how many (`lagged`)."""

    def __init__(self) -> None:
        self._ids = itertools.count(1)
        self._recent: deque[Event] = deque(maxlen=KEPT_EVENTS)
        self._subscribers: set[Subscriber] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._lock = threading.Lock()
        self.closed = False

    def publish(self, kind: str, data: dict[str, Any]) -> None:
        with self._lock:
            event = Event(next(self._ids), kind, data)
            self._recent.append(event)
            loop = self._loop
        if loop is not None and self._subscribers:
            with contextlib.suppress(RuntimeError):  # a closed loop: the server is stopping
                loop.call_soon_threadsafe(self._deliver, event)

    def _deliver(self, event: Event) -> None:
        for subscriber in list(self._subscribers):
            try:
                subscriber.queue.put_nowait(event)
            except asyncio.QueueFull:
                subscriber.dropped += 1

    def close(self) -> None:
        """End every subscriber's stream (the server is stopping); callable from any thread."""
        with self._lock:
            self.closed = True
            loop = self._loop
        if loop is not None:
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(self._end_all)

    def _end_all(self) -> None:
        for subscriber in list(self._subscribers):
            with contextlib.suppress(asyncio.QueueFull):
                subscriber.queue.put_nowait(None)
            if subscriber.queue.full():  # a full queue still ends: make room for the end
                subscriber.queue.get_nowait()
                subscriber.queue.put_nowait(None)

    def subscribe(self, last_event_id: int | None = None) -> tuple[Subscriber, list[Event]]:
        """A new subscriber, and the kept events after `last_event_id` (on the event loop)."""
        subscriber = Subscriber()
        if self.closed:
            subscriber.queue.put_nowait(None)
        with self._lock:
            self._loop = asyncio.get_running_loop()
            missed = (
                [e for e in self._recent if e.id > last_event_id]
                if last_event_id is not None
                else []
            )
            self._subscribers.add(subscriber)
        return subscriber, missed

    def unsubscribe(self, subscriber: Subscriber) -> None:
        with self._lock:
            self._subscribers.discard(subscriber)

    @property
    def subscribers(self) -> int:
        return len(self._subscribers)


async def next_event(subscriber: Subscriber, heartbeat: float) -> Event | Literal["quiet"] | None:
    """The subscriber's next event; "quiet" after `heartbeat` seconds without one; None once
    the stream must end."""
    try:
        return await asyncio.wait_for(subscriber.queue.get(), heartbeat)
    except TimeoutError:
        return "quiet"


@dataclass
class Workspace:
    """One served workspace: its runtime, its trace store and the pool its requests run on."""

    name: str
    root: Path
    runtime: Runtime | None
    traces: TraceStore | None
    problem: CaxtonError | None = None  # why it cannot serve (runtime or store failed)
    max_concurrent: int = 16
    pending: int = 0  # submitted, not finished (touched on the event loop only)
    pool: ThreadPoolExecutor = field(init=False)
    # Traces are saved by one writer thread, off the response path (a transaction costs
    # milliseconds of DuckDB statements); a read of the store waits for earlier saves.
    writer: TraceWriter | None = field(init=False, default=None)
    store_lock: threading.Lock = field(default_factory=threading.Lock)  # one DuckDB connection
    history_lock: threading.Lock = field(default_factory=threading.Lock)
    history: OrderedDict[str, list[tuple[str, str, str]]] = field(default_factory=OrderedDict)
    events: EventHub = field(default_factory=EventHub)
    deploys: Any = None  # its DeployStore when it was deployed to this server (not a folder)

    def __post_init__(self) -> None:
        self.pool = ThreadPoolExecutor(self.max_concurrent, thread_name_prefix=f"cx-{self.name}")
        if self.traces is not None:
            self.writer = TraceWriter(self.name, self.traces, self.store_lock)

    def keep_traces_in_memory(self) -> None:
        """Serve on although the trace store could not be opened (another process holds it):
        traces are kept in memory for this session. The CLI does this for a local run while a
        TUI holds the workspace's store."""
        from caxton.observability.store import TraceStore

        if self.runtime is None or self.traces is not None:
            return
        self.traces = TraceStore.open(None)
        self.writer = TraceWriter(self.name, self.traces, self.store_lock)
        self.problem = None

    def submit(self, fn: Callable[[], T]) -> asyncio.Future[T]:
        """Queue `fn` on this workspace's pool; refused (Overloaded) when the queue is full."""
        if self.pending >= self.max_concurrent + MAX_QUEUED:
            raise Overloaded(
                f"{self.pending} requests are already running or queued in {self.name!r}",
                "retry after the time in the Retry-After header",
            )
        self.pending += 1
        future = asyncio.get_running_loop().run_in_executor(self.pool, fn)
        future.add_done_callback(self._finished)
        return future

    def _finished(self, _: object) -> None:
        self.pending -= 1

    def exchanges(self, conversation_id: str) -> list[tuple[str, str, str]]:
        with self.history_lock:
            return list(self.history.get(conversation_id, ()))

    def remember(self, conversation_id: str, request: str, result: ExecutionResult) -> None:
        if not result.answer:
            return
        with self.history_lock:
            turns = self.history.setdefault(conversation_id, [])
            turns.append((request, result.answer, result.trace.trace_id))
            del turns[:-HISTORY_TURNS]
            self.history.move_to_end(conversation_id)
            while len(self.history) > KEPT_CONVERSATIONS:
                self.history.popitem(last=False)

    def saved(self) -> None:
        """Wait until every trace queued so far is in the store."""
        if self.writer is not None:
            self.writer.flush()

    def close(self) -> None:
        self.pool.shutdown(wait=True)  # in-flight executions finish and queue their saves
        if self.writer is not None:
            self.writer.close()  # then every queued trace is saved
        if self.runtime is not None:
            self.runtime.close()
        if self.traces is not None:
            with self.store_lock:
                self.traces.close()
        if self.deploys is not None:
            self.deploys.close()


class TraceWriter:
    """Saves a workspace's executions on one thread, in batches: each transaction takes what
    is queued within GATHER seconds of the first (up to BATCH), so the cost of DuckDB's
    statements is shared."""

    BATCH = 512
    GATHER = 0.05  # seconds

    def __init__(self, name: str, store: TraceStore, lock: threading.Lock) -> None:
        self._store = store
        self._lock = lock
        self._queue: queue.SimpleQueue[tuple[ExecutionResult, str] | threading.Event | None] = (
            queue.SimpleQueue()
        )
        self._thread = threading.Thread(target=self._run, name=f"cx-{name}-traces", daemon=True)
        self._thread.start()

    def put(self, result: ExecutionResult, request: str) -> None:
        self._queue.put((result, request))

    def flush(self) -> None:
        done = threading.Event()
        self._queue.put(done)
        done.wait()

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join()

    def _run(self) -> None:
        while True:
            items = [self._queue.get()]
            # Gather more for up to GATHER seconds (DuckDB's cost is per statement, so bigger
            # batches are cheaper per trace); a flush or the end stops the wait at once.
            deadline = time.monotonic() + self.GATHER
            while len(items) < self.BATCH and isinstance(items[-1], tuple):
                remaining = deadline - time.monotonic()
                try:
                    items.append(
                        self._queue.get(timeout=remaining)
                        if remaining > 0
                        else self._queue.get_nowait()
                    )
                except queue.Empty:
                    break
            batch: list[tuple[ExecutionResult, str]] = []
            for item in items:
                if isinstance(item, tuple):
                    batch.append(item)
                    continue
                self._save(batch)  # what came before a flush or the end is saved first
                batch = []
                if item is None:
                    return
                item.set()
            self._save(batch)

    def _save(self, batch: list[tuple[ExecutionResult, str]]) -> None:
        if not batch:
            return
        try:
            with self._lock:
                self._store.save_many(batch)
        except Exception as exc:  # a lost log line never fails the requests it describes
            log.warning("%d traces not saved: %s", len(batch), exc)


class ServerState:
    """What a server serves: its data dir, its token authority and its workspaces by name."""

    def __init__(
        self, data_dir: Path, authority: TokenAuthority, workspaces: dict[str, Workspace]
    ) -> None:
        self.data_dir = data_dir
        self.authority = authority
        self.workspaces = workspaces
        self.exporter: Any = None  # an OtlpExporter when `--otlp-endpoint` is given
        self.model: str | None = None  # the runtime options deployed workspaces get too
        self.record: Path | None = None
        self.max_concurrent = 16
        self.pending_deploys: dict[str, Any] = {}  # DeployStores with blobs, no version yet
        self.deploy_lock = threading.Lock()  # creating a deployed workspace

    @classmethod
    def open(
        cls,
        data_dir: Path,
        roots: Sequence[Path],
        *,
        model: str | None = None,
        record: Path | None = None,
        traces: Literal["data", "workspace"] = "data",
        max_concurrent: int = 16,
    ) -> ServerState:
        """Load every workspace at `roots` and open its trace store: under the data dir
        (`traces="data"`, `caxton serve`) or in the workspace's `.caxton/` (the embedded server,
        so `caxton trace` shows what the TUI ran). A workspace that fails to load is kept with
        its problem: `/ready` reports it and its routes answer 503."""
        from caxton.paths import WORKSPACE_FILE

        authority = TokenAuthority(data_dir)
        workspaces: dict[str, Workspace] = {}
        try:
            for name, store in deployed_stores(data_dir):
                workspaces[name] = open_deployed(
                    name, store, data_dir, model, record, max_concurrent
                )
            for raw in roots:
                root = raw.resolve()
                if not (root / WORKSPACE_FILE).is_file():
                    raise UsageError(
                        f"`{raw}` is not a Caxton workspace (no {WORKSPACE_FILE})",
                        "pass the folder that holds caxton.toml, or create one with `caxton init`",
                    )
                served = open_workspace(root, data_dir, model, record, traces, max_concurrent)
                if served.name in workspaces and workspaces[served.name].deploys is not None:
                    raise UsageError(
                        f"workspace {served.name!r} is deployed to this server's data dir "
                        f"(`{data_dir}`) and `{root}` is a folder of the same name",
                        "serve the folder with another `--data-dir`, or drop `--workspace` "
                        "and deploy it with `caxton deploy`",
                    )
                if served.name in workspaces:
                    raise UsageError(
                        f"two workspaces are named {served.name!r}: "
                        f"`{workspaces[served.name].root}` and `{root}`",
                        "rename one in its caxton.toml ([workspace] name)",
                    )
                workspaces[served.name] = served
        except BaseException:
            for served in workspaces.values():
                served.close()
            raise
        state = cls(data_dir, authority, workspaces)
        state.model, state.record, state.max_concurrent = model, record, max_concurrent
        return state

    def stop_streams(self) -> None:
        """End every open event stream, so a graceful shutdown does not wait on them; call
        it before telling uvicorn to exit (from any thread)."""
        for served in self.workspaces.values():
            served.events.close()

    def problems(self) -> list[str]:
        return [f"{w.name}: {w.problem.message}" for w in self.workspaces.values() if w.problem]

    def close(self) -> None:
        for served in self.workspaces.values():
            served.close()
        for store in self.pending_deploys.values():
            store.close()
        if self.exporter is not None:
            self.exporter.close()  # after the workspaces: their last executions are queued


def open_workspace(
    root: Path,
    data_dir: Path,
    model: str | None,
    record: Path | None,
    traces: str,
    max_concurrent: int,
) -> Workspace:
    from caxton.observability.store import logging_enabled, store_path

    try:
        runtime = Runtime(root, model=model, record=record, max_concurrent=max_concurrent)
    except CaxtonError as exc:
        return Workspace(root.name, root, None, None, exc, max_concurrent)
    name = runtime.snapshot.workspace_name
    if traces == "data":
        path: Path | None = data_dir / "workspaces" / name / "traces.duckdb"
    else:  # `caxton logs off` keeps the embedded server's traces in memory only
        path = store_path(root) if logging_enabled(root) else None
    try:
        store = TraceStore.open(path)
    except CaxtonError as exc:
        return Workspace(name, root, runtime, None, exc, max_concurrent)
    return Workspace(name, root, runtime, store, None, max_concurrent)


def deployed_stores(data_dir: Path) -> list[tuple[str, Any]]:
    """The deploy stores under `data_dir/workspaces/` that hold a live version."""
    from caxton.deploy.store import DB_FILE, DeployStore

    found = []
    for db in sorted((data_dir / "workspaces").glob(f"*/{DB_FILE}")):
        store = DeployStore.open(db.parent, db.parent.name)
        if store.live() is None:
            store.close()
            continue
        found.append((db.parent.name, store))
    return found


def open_deployed(
    name: str,
    store: Any,
    data_dir: Path,
    model: str | None,
    record: Path | None,
    max_concurrent: int,
) -> Workspace:
    """A workspace deployed to this server: served from its live version's tree."""
    live = store.live()
    root = store.tree(live.version)
    try:
        runtime = Runtime(root, model=model, record=record, max_concurrent=max_concurrent)
    except CaxtonError as exc:
        served = Workspace(name, root, None, None, exc, max_concurrent)
        served.deploys = store
        return served
    try:
        path = data_dir / "workspaces" / name / "traces.duckdb"
        traces: TraceStore | None = TraceStore.open(path)
        problem = None
    except CaxtonError as exc:
        traces, problem = None, exc
    served = Workspace(name, root, runtime, traces, problem, max_concurrent)
    served.deploys = store
    return served
