"""Anthropic Messages: `POST {base_url}/v1/messages`, whole or streamed.

The system prompt goes in the top-level `system`; tool calls are `tool_use` content blocks and
their results `tool_result` blocks in the next user message (consecutive results share one
message, as the API asks). The stream is a sequence of typed events (`message_start`, content
blocks and their deltas, `message_delta` with the stop reason and usage, `message_stop`), with
`ping`s and possibly an `error` event in between.
"""

from __future__ import annotations

import json
from typing import Any

from caxton.llm.base import (
    FinishReason,
    LlmError,
    Message,
    ModelRequest,
    OnText,
    ToolCall,
    Usage,
)
from caxton.llm.http import (
    RemoteProvider,
    SseEvent,
    StreamConsumer,
    StreamFault,
    Turn,
    error_text,
    parse_arguments,
)

ANTHROPIC_BASE_URL = "https://api.anthropic.com"
ANTHROPIC_VERSION = "2023-06-01"
DEFAULT_MODEL = "claude-sonnet-4-5"

_STOP: dict[str, FinishReason] = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "pause_turn": "stop",
    "tool_use": "tool_calls",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "refusal": "error",
}
# error event types worth another attempt when no text has been shown yet
_RETRYABLE_ERRORS = frozenset({"overloaded_error", "api_error", "rate_limit_error"})


class AnthropicProvider(RemoteProvider):
    """The Anthropic Messages API."""

    kind = "anthropic"

    path = "v1/messages"

    def request_body(self, request: ModelRequest, model: str, *, stream: bool) -> dict[str, Any]:
        return request_body(request, model, stream=stream)

    def headers(self, key: str | None) -> dict[str, str]:
        headers = {"anthropic-version": ANTHROPIC_VERSION}
        if key:
            headers["x-api-key"] = key
        return headers

    def parse(self, data: Any) -> Turn:
        return parse_message(data, self.name)

    def stream_consumer(self, emit: OnText) -> StreamConsumer:
        return MessageStream(self.name, emit)


# ----- the request ----------------------------------------------------------------------------


def request_body(request: ModelRequest, model: str, *, stream: bool) -> dict[str, Any]:
    system = "\n\n".join(m.content for m in request.messages if m.role == "system" and m.content)
    body: dict[str, Any] = {
        "model": model,
        "max_tokens": request.max_tokens,
        "temperature": min(request.temperature, 1.0),  # the API's range is 0 to 1
        "messages": messages(request.messages),
    }
    if system:
        body["system"] = system
    if request.tools:
        body["tools"] = [
            {"name": t.name, "description": t.description, "input_schema": t.input_schema}
            for t in request.tools
        ]
    if stream:
        body["stream"] = True
    return body


def messages(history: tuple[Message, ...]) -> list[dict[str, Any]]:
    """The conversation in Messages form: system prompts lifted out, tool results (and any
    user text right after them) grouped into one user message."""
    out: list[dict[str, Any]] = []
    for message in history:
        if message.role == "system":
            continue
        if message.role == "tool":
            block: dict[str, Any] = {
                "type": "tool_result",
                "tool_use_id": message.tool_call_id or "",
                "content": message.content,
            }
            if message.is_error:
                block["is_error"] = True
            _user_blocks(out).append(block)
        elif message.role == "user":
            if out and out[-1]["role"] == "user" and isinstance(out[-1]["content"], list):
                if message.content:
                    out[-1]["content"].append({"type": "text", "text": message.content})
            else:
                out.append({"role": "user", "content": message.content})
        else:
            out.append({"role": "assistant", "content": _assistant_content(message)})
    return out


def _user_blocks(out: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The content blocks of the user message being built, starting one if needed."""
    if not out or out[-1]["role"] != "user" or not isinstance(out[-1]["content"], list):
        out.append({"role": "user", "content": []})
    blocks: list[dict[str, Any]] = out[-1]["content"]
    return blocks


def _assistant_content(message: Message) -> str | list[dict[str, Any]]:
    if not message.tool_calls:
        return message.content
    blocks: list[dict[str, Any]] = []
    if message.content:
        blocks.append({"type": "text", "text": message.content})
    for call in message.tool_calls:
        blocks.append(
            {"type": "tool_use", "id": call.id, "name": call.name, "input": call.arguments or {}}
        )
    return blocks


# ----- the answer -----------------------------------------------------------------------------


def parse_message(data: Any, provider: str) -> Turn:
    """A whole (non-streamed) Messages answer."""
    if not isinstance(data, dict) or data.get("type") == "error" or "content" not in data:
        raise LlmError(f"{provider}: unexpected answer: {error_text(json.dumps(data))}")
    text: list[str] = []
    calls = []
    for block in data.get("content") or ():
        if block.get("type") == "text":
            text.append(block.get("text", ""))
        elif block.get("type") == "tool_use":
            arguments, raw = parse_arguments(block.get("input"))
            calls.append(ToolCall(block.get("id", ""), block.get("name", ""), arguments, raw))
    turn = Turn(text="".join(text), calls=tuple(calls), model=data.get("model") or "")
    _stop(turn, data.get("stop_reason"))
    _usage(turn, data.get("usage"))
    return turn


def _stop(turn: Turn, reason: Any) -> None:
    if isinstance(reason, str):
        turn.raw_finish = reason
        turn.finish_reason = _STOP.get(reason, "stop")


_PROMPT_KEYS = ("input_tokens", "cache_creation_input_tokens", "cache_read_input_tokens")


def _usage(turn: Turn, usage: Any) -> None:
    """Fold in a usage object; `message_delta` may carry only the (cumulative) output count."""
    if not isinstance(usage, dict):
        return
    # prompt tokens read from or written to the cache are counted apart by the API
    prompt = (
        sum(int(usage.get(k) or 0) for k in _PROMPT_KEYS)
        if any(k in usage for k in _PROMPT_KEYS)
        else turn.usage.input_tokens
    )
    output = (
        int(usage.get("output_tokens") or 0)
        if "output_tokens" in usage
        else turn.usage.output_tokens
    )
    turn.usage = Usage(prompt, output)
    turn.usage_reported = True


class _Block:
    __slots__ = ("id", "json", "kind", "name", "start_input")

    def __init__(self, kind: str, id: str = "", name: str = "", start_input: Any = None) -> None:
        self.kind = kind
        self.id = id
        self.name = name
        self.start_input = start_input
        self.json: list[str] = []


class MessageStream(StreamConsumer):
    """Messages stream events, assembled; text goes to `on_text` as it comes."""

    def __init__(self, provider: str, on_text: OnText) -> None:
        self.provider = provider
        self.on_text = on_text
        self.text: list[str] = []
        self.blocks: dict[int, _Block] = {}
        self.state = Turn()
        self.stopped = False
        self.whole_turn = False

    def event(self, event: SseEvent) -> None:
        if not event.data.strip():
            return
        try:
            data = json.loads(event.data)
        except ValueError:
            raise LlmError(
                f"{self.provider}: the server sent a stream event that is not JSON: "
                f"{event.data[:80]!r}"
                + (", after part of the answer had been streamed" if self.delivered else ""),
                "check that `base_url` points at the Anthropic API",
            ) from None
        if not isinstance(data, dict):
            return
        kind = data.get("type") or event.event
        if kind == "message_start":
            message = data.get("message") or {}
            self.state.model = message.get("model") or ""
            _usage(self.state, message.get("usage"))
        elif kind == "content_block_start":
            block = data.get("content_block") or {}
            self.blocks[int(data.get("index", len(self.blocks)))] = _Block(
                block.get("type", ""),
                block.get("id", ""),
                block.get("name", ""),
                block.get("input"),
            )
            if block.get("type") == "text" and block.get("text"):
                self._emit(block["text"])
        elif kind == "content_block_delta":
            self._delta(int(data.get("index", 0)), data.get("delta") or {})
        elif kind == "message_delta":
            _stop(self.state, (data.get("delta") or {}).get("stop_reason"))
            _usage(self.state, data.get("usage"))
            self.stopped = self.state.raw_finish is not None
        elif kind == "message_stop":
            self.done = True
        elif kind == "error":
            error = data.get("error") or {}
            raise StreamFault(
                f"the server reported an error mid-stream: "
                f"{error.get('type', 'error')}: {error.get('message', '')}".rstrip(": "),
                retryable=error.get("type") in _RETRYABLE_ERRORS,
            )
        # ping, content_block_stop and event types added later: nothing to do

    def _delta(self, index: int, delta: dict[str, Any]) -> None:
        block = self.blocks.setdefault(index, _Block("text"))
        kind = delta.get("type")
        if kind == "text_delta" and delta.get("text"):
            self._emit(delta["text"])
        elif kind == "input_json_delta":
            block.json.append(delta.get("partial_json") or "")

    def _emit(self, text: str) -> None:
        self.text.append(text)
        self.delivered = True
        self.on_text(text)

    def whole(self, body: Any) -> None:
        self.state = parse_message(body, self.provider)
        if self.state.text:
            self._emit(self.state.text)
        self.whole_turn = True
        self.done = True

    def ended(self) -> bool:
        return self.done or self.stopped

    def turn(self) -> Turn:
        if self.whole_turn:
            return self.state
        calls = []
        for index in sorted(self.blocks):
            block = self.blocks[index]
            if block.kind != "tool_use":
                continue
            sent = "".join(block.json)
            arguments, raw = parse_arguments(sent if sent.strip() else block.start_input)
            calls.append(ToolCall(block.id or f"toolu_{index}", block.name, arguments, raw))
        self.state.text = "".join(self.text)
        self.state.calls = tuple(calls)
        return self.state
