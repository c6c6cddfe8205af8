"""A local HTTP server that speaks the OpenAI and Anthropic APIs, scripted per test.

Each test pushes `Reply`s (an answer, a stream of events, or a fault) and reads back the
requests the server received. Streams go out with chunked transfer encoding, as the real
APIs send them, so a stream cut mid-way is a truncated chunked body, not a tidy EOF.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Reply:
    """One scripted answer."""

    status: int = 200
    body: Any = None  # JSON document
    events: list[str] | None = None  # SSE events, each without its closing blank line
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds to wait before answering (read timeouts)
    cut_after: int | None = None  # stream: send this many events and half the next, then drop
    chunk_size: int | None = None  # stream: write in pieces this big (lines split anywhere)
    pause: float = 0.0  # stream: seconds between pieces
    newline: str = "\n"  # stream: "\r\n" like some servers
    raw: bytes | None = None  # a body as is


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: Any
    at: float


class FakeServer:
    """`ThreadingHTTPServer` on 127.0.0.1:0 in a daemon thread."""

    def __init__(self) -> None:
        self.replies: deque[Reply] = deque()
        self.requests: list[Received] = []
        self.lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                raw = self.rfile.read(length)
                try:
                    body: Any = json.loads(raw)
                except ValueError:
                    body = raw
                with fake.lock:
                    fake.requests.append(
                        Received(
                            "POST",
                            self.path,
                            {k.lower(): v for k, v in self.headers.items()},
                            body,
                            time.monotonic(),
                        )
                    )
                    reply = fake.replies.popleft() if fake.replies else None
                if reply is None:
                    reply = Reply(500, {"error": {"message": "no scripted reply left"}})
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    fake.answer(self, reply)  # unless the client gave up (a timeout test)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def push(self, *replies: Reply) -> None:
        with self.lock:
            self.replies.extend(replies)

    def start(self) -> FakeServer:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    # ----- answering ---------------------------------------------------------------------------

    def answer(self, handler: BaseHTTPRequestHandler, reply: Reply) -> None:
        if reply.delay:
            time.sleep(reply.delay)
        if reply.events is not None and reply.status == 200:
            self._stream(handler, reply)
            return
        if reply.raw is not None:
            payload, kind = reply.raw, "application/octet-stream"
        else:
            payload, kind = json.dumps(reply.body).encode(), "application/json"
        handler.send_response(reply.status)
        handler.send_header("content-type", kind)
        handler.send_header("content-length", str(len(payload)))
        handler.send_header("connection", "close")
        for key, value in reply.headers.items():
            handler.send_header(key, value)
        handler.end_headers()
        handler.wfile.write(payload)
        handler.close_connection = True

    def _stream(self, handler: BaseHTTPRequestHandler, reply: Reply) -> None:
        handler.send_response(200)
        handler.send_header("content-type", "text/event-stream; charset=utf-8")
        handler.send_header("transfer-encoding", "chunked")
        handler.send_header("connection", "close")
        for key, value in reply.headers.items():
            handler.send_header(key, value)
        handler.end_headers()
        nl = reply.newline
        events = reply.events or []
        blocks = [e.replace("\n", nl) + nl + nl for e in events]
        if reply.cut_after is not None:
            sent = "".join(blocks[: reply.cut_after])
            rest = blocks[reply.cut_after] if reply.cut_after < len(blocks) else ""
            data = (sent + rest[: len(rest) // 2]).encode()
        else:
            data = "".join(blocks).encode()
        size = reply.chunk_size or len(data) or 1
        for start in range(0, len(data), size):
            piece = data[start : start + size]
            handler.wfile.write(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
            handler.wfile.flush()
            if reply.pause:
                time.sleep(reply.pause)
        if reply.cut_after is None:
            handler.wfile.write(b"0\r\n\r\n")
        handler.wfile.flush()
        handler.close_connection = True


# ----- OpenAI Chat Completions --------------------------------------------------------------


def openai_completion(
    text: str | None = "Hello!",
    *,
    tool_calls: Sequence[tuple[str, str, str]] = (),
    finish: str | None = None,
    usage: tuple[int, int] | None = (12, 5),
    model: str = "gpt-4o-2024-08-06",
) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": text}
    if tool_calls:
        message["tool_calls"] = [
            {"id": i, "type": "function", "function": {"name": n, "arguments": a}}
            for i, n, a in tool_calls
        ]
    out: dict[str, Any] = {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1,
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": message,
                "logprobs": None,
                "finish_reason": finish or ("tool_calls" if tool_calls else "stop"),
            }
        ],
    }
    if usage is not None:
        out["usage"] = {
            "prompt_tokens": usage[0],
            "completion_tokens": usage[1],
            "total_tokens": sum(usage),
        }
    return out


def openai_chunk(
    delta: dict[str, Any], finish: str | None = None, model: str = "gpt-4o-2024-08-06"
) -> str:
    return "data: " + json.dumps(
        {
            "id": "chatcmpl-1",
            "object": "chat.completion.chunk",
            "created": 1,
            "model": model,
            "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
        }
    )


def openai_stream(
    parts: Sequence[str] = ("Hel", "lo", "!"),
    *,
    tool_calls: Sequence[tuple[str, str, list[str]]] = (),
    finish: str | None = None,
    usage: tuple[int, int] | None = (12, 5),
    done: bool = True,
    model: str = "gpt-4o-2024-08-06",
) -> list[str]:
    """The event sequence OpenAI sends: role, content deltas, tool call pieces by index,
    the finish reason, a usage chunk with empty choices, `[DONE]`."""
    events = [
        openai_chunk({"role": "assistant", "content": "", "refusal": None}, model=model),
        ": keep-alive comment",
    ]
    events += [openai_chunk({"content": p}, model=model) for p in parts]
    for index, (call_id, name, pieces) in enumerate(tool_calls):
        events.append(
            openai_chunk(
                {
                    "tool_calls": [
                        {
                            "index": index,
                            "id": call_id,
                            "type": "function",
                            "function": {"name": name, "arguments": ""},
                        }
                    ]
                },
                model=model,
            )
        )
        events += [
            openai_chunk(
                {"tool_calls": [{"index": index, "function": {"arguments": piece}}]}, model=model
            )
            for piece in pieces
        ]
    events.append(openai_chunk({}, finish or ("tool_calls" if tool_calls else "stop"), model=model))
    if usage is not None:
        events.append(
            "data: "
            + json.dumps(
                {
                    "id": "chatcmpl-1",
                    "object": "chat.completion.chunk",
                    "created": 1,
                    "model": model,
                    "choices": [],
                    "usage": {
                        "prompt_tokens": usage[0],
                        "completion_tokens": usage[1],
                        "total_tokens": sum(usage),
                    },
                }
            )
        )
    if done:
        events.append("data: [DONE]")
    return events


# ----- Anthropic Messages -------------------------------------------------------------------


def anthropic_message(
    text: str = "Hello!",
    *,
    tool_uses: Sequence[tuple[str, str, dict[str, Any]]] = (),
    stop: str | None = None,
    usage: tuple[int, int] = (20, 6),
    model: str = "claude-sonnet-4-5-20250929",
) -> dict[str, Any]:
    content: list[dict[str, Any]] = [{"type": "text", "text": text}] if text else []
    content += [{"type": "tool_use", "id": i, "name": n, "input": a} for i, n, a in tool_uses]
    return {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": stop or ("tool_use" if tool_uses else "end_turn"),
        "stop_sequence": None,
        "usage": {"input_tokens": usage[0], "output_tokens": usage[1]},
    }


def anthropic_event(name: str, data: dict[str, Any]) -> str:
    return f"event: {name}\ndata: {json.dumps(data)}"


def anthropic_stream(
    parts: Sequence[str] = ("Hel", "lo", "!"),
    *,
    tool_uses: Sequence[tuple[str, str, list[str]]] = (),
    stop: str | None = None,
    usage: tuple[int, int] = (20, 6),
    model: str = "claude-sonnet-4-5-20250929",
    error: dict[str, str] | None = None,  # an `error` event after the first text delta
) -> list[str]:
    """The full event sequence of a streamed Messages answer."""
    events = [
        anthropic_event(
            "message_start",
            {
                "type": "message_start",
                "message": {
                    "id": "msg_1",
                    "type": "message",
                    "role": "assistant",
                    "content": [],
                    "model": model,
                    "stop_reason": None,
                    "stop_sequence": None,
                    "usage": {"input_tokens": usage[0], "output_tokens": 1},
                },
            },
        ),
        anthropic_event("ping", {"type": "ping"}),
    ]
    index = 0
    if parts:
        events.append(
            anthropic_event(
                "content_block_start",
                {
                    "type": "content_block_start",
                    "index": 0,
                    "content_block": {"type": "text", "text": ""},
                },
            )
        )
        for n, part in enumerate(parts):
            events.append(
                anthropic_event(
                    "content_block_delta",
                    {
                        "type": "content_block_delta",
                        "index": 0,
                        "delta": {"type": "text_delta", "text": part},
                    },
                )
            )
            if n == 0 and error is not None:
                events.append(anthropic_event("error", {"type": "error", "error": error}))
        events.append(
            anthropic_event("content_block_stop", {"type": "content_block_stop", "index": 0})
        )
        index = 1
    for call_id, name, pieces in tool_uses:
        events.append(
            anthropic_event(
                "content_block_start",
                {
                    "type": "content_block_start",
                    "index": index,
                    "content_block": {"type": "tool_use", "id": call_id, "name": name, "input": {}},
                },
            )
        )
        events += [
            anthropic_event(
                "content_block_delta",
                {
                    "type": "content_block_delta",
                    "index": index,
                    "delta": {"type": "input_json_delta", "partial_json": piece},
                },
            )
            for piece in ["", *pieces]
        ]
        events.append(
            anthropic_event("content_block_stop", {"type": "content_block_stop", "index": index})
        )
        index += 1
    events += [
        anthropic_event(
            "message_delta",
            {
                "type": "message_delta",
                "delta": {
                    "stop_reason": stop or ("tool_use" if tool_uses else "end_turn"),
                    "stop_sequence": None,
                },
                "usage": {"output_tokens": usage[1]},
            },
        ),
        anthropic_event("message_stop", {"type": "message_stop"}),
    ]
    return events
