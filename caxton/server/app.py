"""The HTTP API: `create_app(state)` over the served workspaces, their runtimes and trace stores.

Routes are thin: authenticate, find the workspace, call the runtime or a store, render JSON.
Executions run on a bounded thread pool per workspace (the runtime is synchronous), never on
the event loop; their text streams back over server-sent events through an asyncio queue. The
server owns each workspace's trace store (DuckDB allows one writing process) and saves every
execution to it. Every error is `{"error", "detail", "hint"}`; no token, traceback or other
workspace's name ever appears in a response or a log line.
"""

from __future__ import annotations

import asyncio
import json
import logging
import queue
import threading
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from http import HTTPStatus
from pathlib import Path
from typing import Any, Literal

from fastapi import Depends, FastAPI, Query, Request
from fastapi import Path as PathParam
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response, StreamingResponse
from fastapi.security import HTTPBearer
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from caxton.errors import CaxtonError, ConfigError, ConflictError, NotFoundError, UsageError
from caxton.observability import trace as t
from caxton.observability.store import TraceStore, TraceStoreUnavailable
from caxton.runtime.executor import ExecutionResult, Overloaded, find_agent
from caxton.runtime.runtime import Runtime
from caxton.server.auth import AuthError, Claims, Forbidden, Role, TokenAuthority, authorize

log = logging.getLogger("caxton.server")

API_PREFIX = "/api/v1/workspaces/"
MAX_BODY_BYTES = 1 << 20  # 1 MiB: far above any request text; a bigger body is refused (413)
MAX_QUEUED = 256  # executions waiting for a worker, per workspace, before 503 + Retry-After
RETRY_AFTER_SECONDS = 1
HISTORY_TURNS = 20  # earlier exchanges of a conversation sent to the model with a request
KEPT_CONVERSATIONS = 1_000  # conversations whose exchanges the server remembers, per workspace
CONVERSATION_ID = r"^[0-9A-Za-z]{1,64}$"
AUTH_HINT = "send `Authorization: Bearer <token>`; get a token with `caxton token create`"


# ----- state ---------------------------------------------------------------------------------


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

    def __post_init__(self) -> None:
        self.pool = ThreadPoolExecutor(self.max_concurrent, thread_name_prefix=f"cx-{self.name}")
        if self.traces is not None:
            self.writer = TraceWriter(self.name, self.traces, self.store_lock)

    def submit(self, fn: Callable[[], ExecutionResult]) -> asyncio.Future[ExecutionResult]:
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


class TraceWriter:
    """Saves a workspace's executions on one thread, in batches: each transaction takes every
    execution queued by then (up to BATCH), so the cost of DuckDB's statements is shared."""

    BATCH = 64

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
            while len(items) < self.BATCH:
                try:
                    items.append(self._queue.get_nowait())
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

    @classmethod
    def open(
        cls,
        data_dir: Path,
        roots: Sequence[Path],
        *,
        model: str | None = None,
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
            for raw in roots:
                root = raw.resolve()
                if not (root / WORKSPACE_FILE).is_file():
                    raise UsageError(
                        f"`{raw}` is not a Caxton workspace (no {WORKSPACE_FILE})",
                        "pass the folder that holds caxton.toml, or create one with `caxton init`",
                    )
                served = _open_workspace(root, data_dir, model, traces, max_concurrent)
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
        return cls(data_dir, authority, workspaces)

    def problems(self) -> list[str]:
        return [f"{w.name}: {w.problem.message}" for w in self.workspaces.values() if w.problem]

    def close(self) -> None:
        for served in self.workspaces.values():
            served.close()


def _open_workspace(
    root: Path, data_dir: Path, model: str | None, traces: str, max_concurrent: int
) -> Workspace:
    from caxton.observability.store import logging_enabled, store_path

    try:
        runtime = Runtime(root, model=model, max_concurrent=max_concurrent)
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


# ----- metrics -------------------------------------------------------------------------------


class Metrics:
    """Prometheus metrics in a registry of their own, so two apps in a process never clash."""

    def __init__(self) -> None:
        from prometheus_client import CollectorRegistry, Counter, Histogram

        self.registry = CollectorRegistry()
        r = self.registry
        self.latency = Histogram(
            "caxton_http_request_duration_seconds",
            "HTTP request latency, by route template and status.",
            ["method", "route", "status"],
            registry=r,
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
        )
        self.executions = Counter(
            "caxton_executions", "Executions, by agent and stop reason.",
            ["workspace", "agent", "stop_reason"], registry=r,
        )  # fmt: skip
        self.tool_calls = Counter(
            "caxton_tool_calls", "Tool calls, by tool and outcome.",
            ["workspace", "tool", "outcome"], registry=r,
        )  # fmt: skip
        self.tokens = Counter(
            "caxton_llm_tokens", "LLM tokens, by model and direction (input/output).",
            ["workspace", "model", "direction"], registry=r,
        )  # fmt: skip
        self.cost = Counter(
            "caxton_llm_cost_usd", "LLM cost in US dollars, by model (priced models only).",
            ["workspace", "model"], registry=r,
        )  # fmt: skip
        self.errors = Counter(
            "caxton_errors", "Errors answered, by kind (the `error` field of the response).",
            ["kind"], registry=r,
        )  # fmt: skip

    def execution(self, workspace: str, result: ExecutionResult) -> None:
        self.executions.labels(workspace, result.agent, result.stop_reason).inc()
        for span in list(result.trace.spans):
            if span.kind == "tool":
                name = str(span.attributes.get(t.TOOL_NAME, span.name))
                self.tool_calls.labels(workspace, name, span.status).inc()
            elif span.kind == "llm":
                attrs = span.attributes
                model = str(attrs.get(t.RESPONSE_MODEL) or attrs.get(t.REQUEST_MODEL) or "?")
                for direction, key in (("input", t.INPUT_TOKENS), ("output", t.OUTPUT_TOKENS)):
                    self.tokens.labels(workspace, model, direction).inc(attrs.get(key) or 0)
                cost = attrs.get(t.COST_USD)
                if isinstance(cost, int | float):
                    self.cost.labels(workspace, model).inc(cost)

    def render(self) -> bytes:
        from prometheus_client import generate_latest

        return generate_latest(self.registry)


# ----- errors --------------------------------------------------------------------------------

_KINDS: tuple[tuple[type[CaxtonError], int, str], ...] = (
    (AuthError, 401, "unauthorized"),
    (Forbidden, 403, "forbidden"),
    (NotFoundError, 404, "not_found"),
    (ConflictError, 409, "conflict"),
    (ConfigError, 422, "invalid"),
    (UsageError, 400, "bad_request"),
    (Overloaded, 503, "overloaded"),
    (TraceStoreUnavailable, 503, "unavailable"),
)
_STATUS_KINDS = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    422: "invalid",
    429: "rate_limited",
    503: "unavailable",
}


def error_status(exc: CaxtonError) -> tuple[int, str]:
    """The HTTP status and the `error` code for a Caxton error: by its kind."""
    for cls, status, kind in _KINDS:
        if isinstance(exc, cls):
            return status, kind
    status = getattr(exc, "http_status", 500)
    return status, _STATUS_KINDS.get(status, "internal")


def error_body(kind: str, detail: str, hint: str | None) -> dict[str, Any]:
    return {"error": kind, "detail": detail, "hint": hint}


def _error_headers(status: int) -> dict[str, str]:
    if status == 401:
        return {"WWW-Authenticate": "Bearer"}
    if status in (429, 503):
        return {"Retry-After": str(RETRY_AFTER_SECONDS)}
    return {}


def error_response(exc: CaxtonError) -> JSONResponse:
    status, kind = error_status(exc)
    return JSONResponse(
        error_body(kind, exc.message, exc.hint), status, headers=_error_headers(status)
    )


def _plain_error(status: int, detail: str, hint: str | None) -> JSONResponse:
    kind = _STATUS_KINDS.get(status, "internal" if status >= 500 else "bad_request")
    return JSONResponse(error_body(kind, detail, hint), status, headers=_error_headers(status))


# ----- the middleware: auth before anything, body size, metrics, the access log ---------------


class Gate:
    """Pure ASGI (streams pass through untouched): every `/api/` request is authenticated and
    checked against the workspace in its path before routing, so an unauthenticated caller
    learns nothing (not even which routes exist); bodies over the limit get 413; each request
    is timed into the latency histogram and, when asked, logged as one line without headers."""

    def __init__(
        self,
        app: ASGIApp,
        state: ServerState,
        metrics: Metrics,
        routes: Callable[[Scope], str],
        access_log: Callable[[str], None] | None,
    ) -> None:
        self.app = app
        self.state = state
        self.metrics = metrics
        self.routes = routes
        self.access_log = access_log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500
        kind: str | None = None

        async def timed_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            early = self._authenticate(scope)
            if early is None:
                early, receive = await self._limit_body(scope, receive)
            if early is not None:
                kind = json.loads(bytes(early.body))["error"]
                await early(scope, receive, timed_send)
            else:
                await self.app(scope, receive, timed_send)
        finally:
            if kind is None and status >= 400:
                kind = scope.get("state", {}).get("caxton_error") or _STATUS_KINDS.get(
                    status, "internal"
                )
            if kind is not None:
                self.metrics.errors.labels(kind).inc()
            route = scope["route"].path if "route" in scope else self.routes(scope)
            seconds = time.perf_counter() - started
            self.metrics.latency.labels(scope["method"], route, str(status)).observe(seconds)
            if self.access_log is not None:
                path = scope["path"]  # never the query string or any header
                self.access_log(f"{scope['method']} {path} {status} {seconds * 1000:.1f}ms")

    def _authenticate(self, scope: Scope) -> JSONResponse | None:
        path: str = scope["path"]
        if not path.startswith("/api/"):
            return None
        try:
            claims = self.state.authority.verify(_bearer_token(scope))
            if path.startswith(API_PREFIX):
                workspace = path[len(API_PREFIX) :].partition("/")[0]
                authorize(claims, workspace, "viewer")  # reach first: 403 reveals no name
        except CaxtonError as exc:
            return error_response(exc)
        scope.setdefault("state", {})["claims"] = claims
        return None

    async def _limit_body(
        self, scope: Scope, receive: Receive
    ) -> tuple[JSONResponse | None, Receive]:
        headers = dict(scope["headers"])
        length = headers.get(b"content-length")
        chunked = b"chunked" in headers.get(b"transfer-encoding", b"")
        if length is None and not chunked:
            return None, receive
        too_big = _plain_error(
            413,
            f"request body larger than {MAX_BODY_BYTES} bytes",
            "send a shorter request; the limit is 1 MiB",
        )
        if length is not None and (not length.isdigit() or int(length) > MAX_BODY_BYTES):
            return too_big, receive
        # Buffer the (bounded) body so a chunked upload is cut off at the limit too.
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > MAX_BODY_BYTES:
                return too_big, receive
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        return None, replay


def _bearer_token(scope: Scope) -> str:
    header: bytes | None = next((v for k, v in scope["headers"] if k == b"authorization"), None)
    if header is None:
        raise AuthError("missing bearer token", AUTH_HINT)
    scheme, _, token = header.decode("latin-1").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthError("malformed Authorization header (expected `Bearer <token>`)", AUTH_HINT)
    return token.strip()


# ----- request bodies ------------------------------------------------------------------------


class MessageIn(BaseModel):
    """A request for an agent: named, or routed by capability when `agent` is null."""

    model_config = ConfigDict(extra="forbid")

    request: str = Field(min_length=1, max_length=200_000)
    agent: str | None = Field(None, min_length=1, max_length=64)
    conversation_id: str | None = Field(None, pattern=CONVERSATION_ID)


# ----- access: the Gate authenticated; these find the workspace and check the role -------------

_BEARER = Depends(HTTPBearer(auto_error=False, description="A token from `caxton token create`."))


def _access(role: Role) -> Callable[..., Awaitable[Workspace]]:
    async def dependency(
        request: Request,
        ws: str = PathParam(description="The workspace's name."),
        _: Any = _BEARER,  # declares the scheme in OpenAPI; the Gate verified the token
    ) -> Workspace:
        state: ServerState = request.app.state.caxton
        claims: Claims = request.scope["state"]["claims"]
        served = state.workspaces.get(ws)
        if served is None:
            reachable = sorted(n for n in state.workspaces if claims.reaches(n))
            raise NotFoundError(
                f"no workspace {ws!r} on this server",
                "this token reaches: " + ", ".join(reachable)
                if reachable
                else "this token reaches no workspace served here",
            )
        authorize(claims, ws, role)
        if served.problem is not None:
            raise TraceStoreUnavailable(
                f"workspace {ws!r} is not available: {served.problem.message}",
                served.problem.hint,
            )
        return served

    return dependency


VIEWER = Depends(_access("viewer"))
DEPLOYER = Depends(_access("deployer"))  # sending requests runs agents: it costs and writes


# ----- the app -------------------------------------------------------------------------------


def create_app(state: ServerState, *, access_log: Callable[[str], None] | None = None) -> FastAPI:
    """The ASGI app serving `state`; `access_log` receives one line per request."""
    from caxton import __version__

    metrics = Metrics()
    app = FastAPI(
        title="Caxton",
        version=__version__,
        description="Agents, their requests and their traces, per workspace.",
        openapi_url="/openapi.json",
        docs_url=None,  # the Swagger page loads scripts from a CDN: nothing leaves by default
        redoc_url=None,
    )
    app.state.caxton = state
    app.state.metrics = metrics

    def routes(scope: Scope) -> str:
        from starlette.routing import Match

        for route in app.router.routes:
            if route.matches(scope)[0] is not Match.NONE:
                return str(getattr(route, "path", "unmatched"))
        return "unmatched"

    app.add_middleware(Gate, state=state, metrics=metrics, routes=routes, access_log=access_log)
    _install_error_handlers(app)

    @app.get("/health", tags=["server"])
    async def health() -> dict[str, str]:
        """Alive: the process answers. No token needed."""
        return {"status": "ok"}

    @app.get("/ready", tags=["server"])
    async def ready() -> JSONResponse:
        """Ready: every workspace's runtime loaded and its trace store open. No token needed."""
        problems = state.problems()
        body = {
            "status": "not ready" if problems else "ready",
            "workspaces": len(state.workspaces),
            "problems": problems,
        }
        return JSONResponse(body, 503 if problems else 200)

    @app.get("/metrics", tags=["server"], response_class=Response)
    async def prometheus() -> Response:
        """Prometheus metrics (text format). No token needed."""
        from prometheus_client import CONTENT_TYPE_LATEST

        return Response(metrics.render(), media_type=CONTENT_TYPE_LATEST)

    @app.get("/api/v1/workspaces/{ws}/agents", tags=["agents"])
    async def agents(served: Workspace = VIEWER) -> dict[str, Any]:
        """The workspace's agents, valid or not, with what is wrong with the invalid ones."""
        assert served.runtime is not None
        snapshot = served.runtime.snapshot
        listed = [
            {
                "name": a.name,
                "description": a.description,
                "capabilities": list(a.capabilities),
                "tools": list(a.tools),
                "valid": True,
                "problems": [],
            }
            for a in snapshot.agents.values()
        ]
        listed += [
            {"name": name, "description": "", "capabilities": [], "tools": [], "valid": False,
             "problems": [problem]}
            for name, problem in snapshot.invalid.items()
        ]  # fmt: skip
        return {"workspace": served.name, "agents": sorted(listed, key=lambda a: a["name"])}

    @app.post(
        "/api/v1/workspaces/{ws}/messages",
        tags=["messages"],
        responses={200: {"content": {"text/event-stream": {}}}},
    )
    async def messages(body: MessageIn, request: Request, served: Workspace = DEPLOYER) -> Response:
        """Send a request to an agent (or to the best capability match when `agent` is null).
        With `Accept: text/event-stream` the answer streams as `token`, `tool`, `done` (or
        `error`) events; otherwise the whole result comes back as JSON."""
        runtime = served.runtime
        assert runtime is not None
        if body.agent is not None:
            find_agent(runtime.snapshot, body.agent)  # a wrong name is a 404 before any work
        history = tuple(
            (q, a) for q, a, _ in served.exchanges(body.conversation_id or "")[-HISTORY_TURNS:]
        )
        streaming = "text/event-stream" in request.headers.get("accept", "")
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[tuple[str, dict[str, Any]] | None] = asyncio.Queue()

        def on_text(text: str) -> None:
            loop.call_soon_threadsafe(queue.put_nowait, ("token", {"text": text}))

        def work() -> ExecutionResult:
            result = runtime.execute(
                body.request,
                agent=body.agent,
                on_text=on_text if streaming else None,
                conversation_id=body.conversation_id,
                history=history,
            )
            _record(served, metrics, body.request, result)
            return result

        future = served.submit(work)
        if not streaming:
            return JSONResponse(_result_json(served, await future))
        future.add_done_callback(lambda _: queue.put_nowait(None))
        return StreamingResponse(
            _events(queue, future, request, served),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )

    @app.get("/api/v1/workspaces/{ws}/traces", tags=["traces"])
    async def traces(
        served: Workspace = VIEWER,
        limit: int = Query(20, ge=1, le=1000, description="How many, newest first."),
    ) -> dict[str, Any]:
        """Recent executions, newest first."""
        rows = await asyncio.to_thread(_with_store, served, lambda s: s.executions(limit))
        return {"workspace": served.name, "executions": [e.to_json() for e in rows]}

    @app.get("/api/v1/workspaces/{ws}/traces/{trace_id}", tags=["traces"])
    async def trace(
        trace_id: str = PathParam(description="A trace id or a unique prefix (4+ hex digits)."),
        served: Workspace = VIEWER,
    ) -> dict[str, Any]:
        """One execution and all of its spans, in start order."""
        execution, spans = await asyncio.to_thread(_with_store, served, lambda s: s.trace(trace_id))
        return {"execution": execution.to_json(), "spans": [s.to_json() for s in spans]}

    @app.get("/api/v1/workspaces/{ws}/conversations/{conversation_id}", tags=["conversations"])
    async def conversation(
        conversation_id: str = PathParam(pattern=CONVERSATION_ID),
        served: Workspace = VIEWER,
    ) -> dict[str, Any]:
        """A conversation: the ACL messages between its agents, and the exchanges (request,
        answer, trace id) this server has answered in it since it started."""
        assert served.runtime is not None
        store = served.runtime.conversations
        acl = await asyncio.to_thread(store.messages, conversation_id)
        exchanges = [
            {"request": q, "answer": a, "trace_id": tid}
            for q, a, tid in served.exchanges(conversation_id)
        ]
        if not acl and not exchanges:
            raise NotFoundError(
                f"no conversation {conversation_id!r} in {served.name!r}",
                "a conversation id comes back in every `POST messages` result",
            )
        return {"conversation_id": conversation_id, "messages": acl, "exchanges": exchanges}

    return app


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(CaxtonError)
    async def caxton_error(request: Request, exc: CaxtonError) -> Response:
        response = error_response(exc)
        request.scope.setdefault("state", {})["caxton_error"] = error_status(exc)[1]
        if response.status_code >= 500:
            log.warning("%s %s: %s", request.method, request.url.path, exc.message)
        return response

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> Response:
        errors = list(exc.errors())
        if any(e.get("type") == "json_invalid" for e in errors):
            return _plain_error(400, "the body is not valid JSON", "send a JSON object")
        shown = "; ".join(
            f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg', 'invalid')}"
            for e in errors[:5]
        )
        return _plain_error(422, shown, "see the request schema in /openapi.json")

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        detail = exc.detail if isinstance(exc.detail, str) else HTTPStatus(exc.status_code).phrase
        hint = "the routes are listed in /openapi.json" if exc.status_code in (404, 405) else None
        return _plain_error(exc.status_code, detail, hint)

    @app.exception_handler(Exception)
    async def internal(request: Request, exc: Exception) -> Response:
        log.error("%s %s failed", request.method, request.url.path, exc_info=exc)
        return _plain_error(
            500, "internal server error", "the server's log has the details; please report it"
        )


# ----- executions ----------------------------------------------------------------------------


def _record(served: Workspace, metrics: Metrics, request: str, result: ExecutionResult) -> None:
    """After an execution, on its worker thread: metrics, the conversation, the trace store."""
    metrics.execution(served.name, result)
    served.remember(result.conversation_id, request, result)
    if served.writer is not None:
        served.writer.put(result, request)


def _with_store(served: Workspace, read: Callable[[TraceStore], Any]) -> Any:
    if served.traces is None:
        raise TraceStoreUnavailable(f"workspace {served.name!r} has no trace store open")
    served.saved()  # what was answered before this read is in the store
    with served.store_lock:
        return read(served.traces)


def _result_json(served: Workspace, result: ExecutionResult) -> dict[str, Any]:
    data = result.to_json()
    data["workspace"] = served.name
    error = result.error
    data["error"] = error_body(error_status(error)[1], error.message, error.hint) if error else None
    return data


def tool_events(result: ExecutionResult) -> Iterable[dict[str, Any]]:
    for span in list(result.trace.spans):
        if span.kind == "tool":
            yield {
                "name": str(span.attributes.get(t.TOOL_NAME, span.name)),
                "outcome": span.status,
                "error": span.attributes.get(t.ERROR),
                "span_id": span.span_id,
                "seconds": round(span.seconds, 6),
            }


def sse(event: str, data: dict[str, Any]) -> bytes:
    payload = json.dumps(data, ensure_ascii=False, default=str)
    return f"event: {event}\ndata: {payload}\n\n".encode()


async def _events(
    queue: asyncio.Queue[tuple[str, dict[str, Any]] | None],
    future: asyncio.Future[ExecutionResult],
    request: Request,
    served: Workspace,
) -> AsyncIterator[bytes]:
    """The SSE stream: tokens as they come, then the tool calls, then `done` (or `error`). A
    client that goes away stops the stream, not the execution: it still finishes and is saved."""
    while (item := await queue.get()) is not None:
        yield sse(*item)
    try:
        result = future.result()
    except CaxtonError as exc:
        status, kind = error_status(exc)
        yield sse("error", {**error_body(kind, exc.message, exc.hint), "status": status})
        return
    except Exception as exc:
        log.error("%s %s failed", request.method, request.url.path, exc_info=exc)
        body = error_body("internal", "internal server error", "the server's log has details")
        yield sse("error", {**body, "status": 500})
        return
    for event in tool_events(result):
        yield sse("tool", event)
    yield sse("done", _result_json(served, result))
