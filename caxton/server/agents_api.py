"""Routes for agents: list them, send them requests (JSON or a live SSE stream), read
conversations, reload the workspace, and follow the workspace's events."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Header, Request
from fastapi import Path as PathParam
from fastapi.responses import JSONResponse, Response, StreamingResponse

from caxton.errors import CaxtonError, NotFoundError
from caxton.observability import trace as t
from caxton.observability.trace import Span
from caxton.runtime.executor import ExecutionResult, find_agent
from caxton.server import models as m
from caxton.server.access import DEPLOYER, VIEWER
from caxton.server.responses import error_body, error_status, sse
from caxton.server.state import HISTORY_TURNS, Workspace, next_event

log = logging.getLogger("caxton.server")

router = APIRouter(prefix="/api/v1/workspaces/{ws}", responses=m.ERRORS)
HEARTBEAT_SECONDS = 15.0  # a comment line on a quiet event stream keeps proxies from closing it
SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
Item = tuple[str, dict[str, Any]]


@router.get("/agents", tags=["agents"], response_model=m.AgentsOut)
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


@router.post(
    "/messages",
    tags=["messages"],
    response_model=m.ResultOut,
    responses={200: {"content": {"text/event-stream": {}}}},
)
async def messages(body: m.MessageIn, request: Request, served: Workspace = DEPLOYER) -> Response:
    """Send a request to an agent (or to the best capability match when `agent` is null).
    With `Accept: text/event-stream` the work streams as it happens: `token` (answer text),
    `span` (each step as it ends), `tool` (each tool call as it ends), then `done` (the
    result) or `error`. Otherwise the whole result comes back as JSON."""
    runtime = served.runtime
    assert runtime is not None
    if body.agent is not None:
        find_agent(runtime.snapshot, body.agent)  # a wrong name is a 404 before any work
    history = tuple(
        (q, a) for q, a, _ in served.exchanges(body.conversation_id or "")[-HISTORY_TURNS:]
    )
    streaming = "text/event-stream" in request.headers.get("accept", "")
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[Item | None] = asyncio.Queue()

    def push(item: Item) -> None:
        loop.call_soon_threadsafe(queue.put_nowait, item)

    def on_text(text: str) -> None:
        push(("token", {"text": text}))

    def on_span(span: Span) -> None:
        push(("span", span.to_json()))
        if span.kind == "tool":
            push(("tool", tool_event(span)))

    def work() -> ExecutionResult:
        result = runtime.execute(
            body.request,
            agent=body.agent,
            on_text=on_text if streaming else None,
            conversation_id=body.conversation_id,
            history=history,
            on_span=on_span if streaming else None,
        )
        record(request, served, body.request, result)
        return result

    future = served.submit(work)
    if not streaming:
        return JSONResponse(result_json(served, await future))
    future.add_done_callback(lambda _: queue.put_nowait(None))
    return StreamingResponse(
        _stream(queue, future, request, served), media_type="text/event-stream",
        headers=SSE_HEADERS,
    )  # fmt: skip


def record(request: Request, served: Workspace, text: str, result: ExecutionResult) -> None:
    """After an execution, on its worker thread: metrics, the conversation, the trace store,
    OTLP export when configured, and an `execution` event."""
    app_state = request.app.state
    app_state.metrics.execution(served.name, result)
    served.remember(result.conversation_id, text, result)
    if served.writer is not None:
        served.writer.put(result, text)
    exporter = app_state.caxton.exporter
    if exporter is not None:
        exporter.export(result, served.name)
    served.events.publish(
        "execution",
        {
            "trace_id": result.trace.trace_id,
            "conversation_id": result.conversation_id,
            "agent": result.agent,
            "stop_reason": result.stop_reason,
            "seconds": round(_seconds(result), 6),
            "tool_calls": result.tool_calls,
            "cost_usd": result.cost_usd,
            "deterministic": result.deterministic,
        },
    )


def _seconds(result: ExecutionResult) -> float:
    root = result.trace.spans[0] if result.trace.spans else None
    return root.seconds if root is not None else 0.0


def result_json(served: Workspace, result: ExecutionResult) -> dict[str, Any]:
    data = result.to_json()
    data["workspace"] = served.name
    error = result.error
    data["error"] = error_body(error_status(error)[1], error.message, error.hint) if error else None
    return data


def tool_event(span: Span) -> dict[str, Any]:
    return {
        "name": str(span.attributes.get(t.TOOL_NAME, span.name)),
        # whose call: a delegated agent's calls stream with the asked agent's
        "agent": span.attributes.get(t.AGENT_NAME),
        "outcome": span.status,
        "error": span.attributes.get(t.ERROR),
        "arguments": span.attributes.get(t.TOOL_ARGUMENTS),
        "result": span.attributes.get(t.TOOL_RESULT),
        "span_id": span.span_id,
        "seconds": round(span.seconds, 6),
    }


async def _stream(
    queue: asyncio.Queue[Item | None],
    future: asyncio.Future[ExecutionResult],
    request: Request,
    served: Workspace,
) -> AsyncIterator[bytes]:
    """Tokens, spans and tool calls as they happen, then `done` (or `error`). A client that
    goes away stops the stream, not the execution: it still finishes and is saved."""
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
    yield sse("done", result_json(served, result))


@router.get(
    "/conversations/{conversation_id}", tags=["conversations"], response_model=m.ConversationOut
)
async def conversation(
    conversation_id: str = PathParam(pattern=m.CONVERSATION_ID),
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


@router.post("/reload", tags=["agents"], response_model=m.ReloadOut)
async def reload(served: Workspace = DEPLOYER) -> dict[str, Any]:
    """Read the workspace's files again. Requests in flight finish on what they started
    with; the next ones use the new agents. Publishes a `reload` event."""
    assert served.runtime is not None
    runtime = served.runtime
    started = time.perf_counter()
    snapshot = await asyncio.to_thread(runtime.reload)
    data = {
        "workspace": served.name,
        "agents": len(snapshot.agents),
        "invalid": dict(snapshot.invalid),
        "seconds": round(time.perf_counter() - started, 6),
    }
    served.events.publish("reload", {k: v for k, v in data.items() if k != "workspace"})
    return data


@router.get(
    "/events",
    tags=["events"],
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}}},
)
async def events(
    served: Workspace = VIEWER,
    last_event_id: int | None = Header(
        None, description="Resume after this event id: the last 256 events are kept."
    ),
) -> StreamingResponse:
    """The workspace's events as server-sent events: `execution` (each finished request),
    `reload`, `deploy`; `lagged` says how many events a slow reader lost. Each event has an
    `id:`; reconnect with `Last-Event-ID` to get what was missed. A comment line is sent
    every 15 s while nothing happens."""
    subscriber, missed = served.events.subscribe(last_event_id)

    async def stream() -> AsyncIterator[bytes]:
        try:
            yield b": subscribed\n\n"
            for kept in missed:
                yield sse(kept.kind, kept.data, kept.id)
            while True:
                event = await next_event(subscriber, HEARTBEAT_SECONDS)
                if event is None:
                    return
                if subscriber.dropped:
                    yield sse("lagged", {"dropped": subscriber.dropped})
                    subscriber.dropped = 0
                if isinstance(event, str):  # quiet for a while
                    yield b": keep-alive\n\n"
                else:
                    yield sse(event.kind, event.data, event.id)
        finally:
            served.events.unsubscribe(subscriber)

    return StreamingResponse(stream(), media_type="text/event-stream", headers=SSE_HEADERS)
