"""OpenAI-compatible Chat Completions: OpenAI, Ollama, vLLM, llama.cpp, LM Studio, OpenRouter.

`POST {base_url}/chat/completions`, streamed (`stream: true`, usage in a last chunk) when the
caller wants text as it comes, whole otherwise. Tool calls arrive in pieces keyed by index and
are put back together here; arguments that are not a JSON object become a `ToolCall` with
`arguments=None` and the text kept in `raw_arguments`.
"""

from __future__ import annotations

import json
import re
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

OPENAI_BASE_URL = "https://api.openai.com/v1"
DEFAULT_MODEL = "gpt-4o-mini"

# o-series and gpt-5 models take `max_completion_tokens` and only the default temperature.
_REASONING = re.compile(r"^(?:[a-z0-9_.-]+/)?(?:o\d|gpt-5)")

_FINISH: dict[str, FinishReason] = {
    "stop": "stop",
    "tool_calls": "tool_calls",
    "function_call": "tool_calls",
    "length": "length",
    "content_filter": "error",
}


class OpenAIProvider(RemoteProvider):
    """A Chat Completions endpoint."""

    kind = "openai"

    path = "chat/completions"

    def request_body(self, request: ModelRequest, model: str, *, stream: bool) -> dict[str, Any]:
        return request_body(request, model, stream=stream)

    def headers(self, key: str | None) -> dict[str, str]:
        return {"authorization": f"Bearer {key}"} if key else {}

    def parse(self, data: Any) -> Turn:
        return parse_completion(data, self.name)

    def stream_consumer(self, emit: OnText) -> StreamConsumer:
        return ChatStream(self.name, emit)


# ----- the request ----------------------------------------------------------------------------


def request_body(request: ModelRequest, model: str, *, stream: bool) -> dict[str, Any]:
    body: dict[str, Any] = {
        "model": model,
        "messages": [_message(m) for m in request.messages],
    }
    if _REASONING.match(model.lower()):
        body["max_completion_tokens"] = request.max_tokens
    else:
        body["max_tokens"] = request.max_tokens
        body["temperature"] = request.temperature
    if request.tools:
        body["tools"] = [
            {
                "type": "function",
                "function": {
                    "name": t.name,
                    "description": t.description,
                    "parameters": t.input_schema,
                },
            }
            for t in request.tools
        ]
    if stream:
        body["stream"] = True
        body["stream_options"] = {"include_usage": True}
    return body


def _message(message: Message) -> dict[str, Any]:
    if message.role == "tool":
        return {
            "role": "tool",
            "tool_call_id": message.tool_call_id or "",
            "content": message.content,
        }
    if message.role == "assistant" and message.tool_calls:
        return {
            "role": "assistant",
            "content": message.content or None,
            "tool_calls": [
                {
                    "id": call.id,
                    "type": "function",
                    "function": {"name": call.name, "arguments": _arguments_text(call)},
                }
                for call in message.tool_calls
            ],
        }
    return {"role": message.role, "content": message.content}


def _arguments_text(call: ToolCall) -> str:
    """What the model sent, when it can be sent back; servers that parse it (vLLM's chat
    templates) refuse text that is not JSON, so broken arguments go back as `{}`."""
    if call.arguments is not None:
        return json.dumps(call.arguments)
    try:
        json.loads(call.raw_arguments)
    except ValueError:
        return "{}"
    return call.raw_arguments


# ----- the answer -----------------------------------------------------------------------------


def parse_completion(data: Any, provider: str) -> Turn:
    """A whole (non-streamed) chat completion."""
    if isinstance(data, dict) and data.get("error"):
        raise LlmError(
            f"{provider}: the server answered with an error: {error_text(json.dumps(data))}"
        )
    choices = data.get("choices") if isinstance(data, dict) else None
    if not choices or not isinstance(choices[0], dict):
        raise LlmError(f"{provider}: the answer has no choices: {error_text(json.dumps(data))}")
    choice = choices[0]
    message = choice.get("message") or {}
    calls = []
    for i, raw in enumerate(message.get("tool_calls") or ()):
        function = raw.get("function") or {}
        arguments, text = parse_arguments(function.get("arguments"))
        calls.append(
            ToolCall(raw.get("id") or f"call_{i}", function.get("name", ""), arguments, text)
        )
    turn = Turn(
        text=_content_text(message.get("content")),
        calls=tuple(calls),
        model=data.get("model") or "",
    )
    _finish(turn, choice.get("finish_reason"))
    _usage(turn, data.get("usage"))
    return turn


def _content_text(content: Any) -> str:
    if isinstance(content, list):  # content parts, from some servers
        return "".join(p.get("text", "") for p in content if isinstance(p, dict))
    return content if isinstance(content, str) else ""


def _finish(turn: Turn, reason: Any) -> None:
    if isinstance(reason, str):
        turn.raw_finish = reason
        turn.finish_reason = _FINISH.get(reason, "stop")


def _usage(turn: Turn, usage: Any) -> None:
    if isinstance(usage, dict):
        turn.usage = Usage(
            int(usage.get("prompt_tokens") or 0), int(usage.get("completion_tokens") or 0)
        )
        turn.usage_reported = True


class _PartialCall:
    __slots__ = ("arguments", "id", "name")

    def __init__(self) -> None:
        self.id = ""
        self.name = ""
        self.arguments: list[str] = []


class ChatStream(StreamConsumer):
    """Chat completion chunks, assembled; text goes to `on_text` as it comes."""

    def __init__(self, provider: str, on_text: OnText) -> None:
        self.provider = provider
        self.on_text = on_text
        self.text: list[str] = []
        self.calls: dict[int, _PartialCall] = {}
        self.state = Turn()
        self.finished = False
        self.whole_turn = False

    def event(self, event: SseEvent) -> None:
        data = event.data.strip()
        if data == "[DONE]":
            self.done = True
            return
        if not data:
            return
        try:
            chunk = json.loads(data)
        except ValueError:
            raise LlmError(
                f"{self.provider}: the server sent a stream chunk that is not JSON: {data[:80]!r}"
                + (", after part of the answer had been streamed" if self.delivered else ""),
                "check that `base_url` points at an OpenAI-compatible server",
            ) from None
        if not isinstance(chunk, dict):
            return
        if chunk.get("error"):
            raise StreamFault(
                f"the server reported an error mid-stream: {error_text(data)}", retryable=False
            )
        if chunk.get("model"):
            self.state.model = chunk["model"]
        _usage(self.state, chunk.get("usage"))
        for choice in chunk.get("choices") or ():
            if not isinstance(choice, dict) or choice.get("index", 0) != 0:
                continue
            delta = choice.get("delta") or {}
            content = _content_text(delta.get("content"))
            if content:
                self.text.append(content)
                self.delivered = True
                self.on_text(content)
            for piece in delta.get("tool_calls") or ():
                self._tool_piece(piece)
            if choice.get("finish_reason"):
                _finish(self.state, choice["finish_reason"])
                self.finished = True

    def _tool_piece(self, piece: dict[str, Any]) -> None:
        index = piece.get("index")
        if not isinstance(index, int):  # servers that send whole calls without an index
            last = max(self.calls) if self.calls else -1
            fresh = last < 0 or (piece.get("id") and piece["id"] != self.calls[last].id)
            index = last + 1 if fresh else last
        call = self.calls.setdefault(index, _PartialCall())
        if piece.get("id"):
            call.id = piece["id"]
        function = piece.get("function") or {}
        if function.get("name"):
            call.name = function["name"]
        arguments = function.get("arguments")
        if isinstance(arguments, dict):  # a whole object, from some servers
            arguments = json.dumps(arguments)
        if arguments:
            call.arguments.append(arguments)

    def whole(self, body: Any) -> None:
        self.state = parse_completion(body, self.provider)
        if self.state.text:
            self.delivered = True
            self.on_text(self.state.text)
        self.whole_turn = True
        self.done = True

    def ended(self) -> bool:
        # some servers close without `[DONE]`; after the finish reason nothing is lost but usage
        return self.done or self.finished

    def turn(self) -> Turn:
        if self.whole_turn:
            return self.state
        calls = []
        for index in sorted(self.calls):
            partial = self.calls[index]
            arguments, raw = parse_arguments("".join(partial.arguments))
            calls.append(ToolCall(partial.id or f"call_{index}", partial.name, arguments, raw))
        self.state.text = "".join(self.text)
        self.state.calls = tuple(calls)
        return self.state
