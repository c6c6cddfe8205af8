"""The `test` model: calls each allowed tool once, then answers from what the tools returned.

Deterministic and offline, for tests, benchmarks and trying a workspace without a key. Its
answers start with "[test model]" and its responses are marked `deterministic`, so no one
mistakes them for a real model's. It is on the per-request hot path of every benchmark, so it
does the least work it can: one pass over the conversation, arguments from cached plans.

The tools get the request, not the whole prompt: the prompt holds what memory recalled, and a
`memory_store` call that stored it would feed every later prompt, which would be stored again.
"""

from __future__ import annotations

import re

from caxton.llm.base import (
    FinishReason,
    Message,
    ModelRequest,
    ModelResponse,
    OnText,
    ToolCall,
    Usage,
)
from caxton.llm.schema_args import arguments_for

LABEL = "[test model]"
MODEL = "test"
REQUEST_CHARS = 200  # of the user's request, quoted in the answer
RESULT_CHARS = 200  # of each tool result, quoted in the answer
ARGUMENT_CHARS = 500  # of the request, put in the tools' content fields: a bound on what it writes
_PARAGRAPH_END = re.compile(r"\n[ \t]*\n")
WORDS_PER_CHUNK = 8  # streamed text arrives in groups of words, like a real model's


class TestModel:
    """A `Provider` that needs no network: tool calls first, then a summary of their results."""

    __test__ = False  # its name starts with "Test"; pytest must not collect it
    deterministic = True

    def __init__(self, name: str = "test") -> None:
        self.name = name

    def complete(
        self,
        request: ModelRequest,
        *,
        on_text: OnText | None = None,
        deadline: float | None = None,  # it answers at once: nothing to give up on
    ) -> ModelResponse:
        called: set[str] = set()
        calls = 0
        user = ""
        chars = 0
        for message in request.messages:
            chars += len(message.content)
            if message.role == "user":
                user = message.content
            elif message.tool_calls:
                calls += len(message.tool_calls)
                called.update(c.name for c in message.tool_calls)
        finish: FinishReason
        new: list[ToolCall] = []
        text = request_in(user)[:ARGUMENT_CHARS]
        for tool in request.tools:
            if tool.name not in called:
                called.add(tool.name)
                calls += 1
                arguments = arguments_for(tool.input_schema, text=text)
                new.append(ToolCall(f"call_{calls}", tool.name, arguments))
        if new:
            message = Message("assistant", "", tuple(new))
            out_chars = sum(24 + len(c.name) for c in new)
            finish = "tool_calls"
        else:
            reply = answer(request.messages, user)
            limit = max(1, request.max_tokens) * 4
            finish = "stop"
            if len(reply) > limit:
                reply, finish = reply[:limit], "length"
            if on_text is not None:
                stream_text(reply, on_text)
            message = Message("assistant", reply)
            out_chars = len(reply)
        return ModelResponse(
            message,
            Usage((chars + 3) // 4 + 4 * len(request.messages), (out_chars + 3) // 4),
            MODEL,
            self.name,
            finish,
            cost_usd=0.0,
            deterministic=True,
        )


def request_in(prompt: str) -> str:
    """The request in an agent's prompt: the prompt's first paragraph, where every template
    puts `{{request}}` (what memory recalled and the settings come after a blank line),
    without a heading line such as "Analysis request:". Its lines stay: a request may hold
    CSV rows or code."""
    prompt = prompt.strip()
    end = _PARAGRAPH_END.search(prompt)
    lines = (prompt[: end.start()] if end else prompt).splitlines()
    if len(lines) > 1 and lines[0].rstrip().endswith(":"):
        lines = lines[1:]
    return "\n".join(lines).strip()


def answer(messages: tuple[Message, ...], request: str) -> str:
    """The final answer: the request, then one list item per tool result, in the order they
    came. Markdown that reads the same as plain text: clients render answers as Markdown,
    where lines not set apart (a blank line, a list) would run together into one paragraph."""
    head = f"{LABEL} request: {_one_line(request, REQUEST_CHARS) or '(none)'}"
    names: dict[str, str] = {}
    items: list[str] = []
    for message in messages:
        if message.role == "assistant":
            for call in message.tool_calls:
                names[call.id] = call.name
        elif message.role == "tool":
            name = message.name or names.get(message.tool_call_id or "", "?")
            status = " failed" if message.is_error else ""
            items.append(f"- tool {name}{status}: {_one_line(message.content, RESULT_CHARS)}")
    return head + "\n\n" + ("\n".join(items) if items else "no tools were called.")


def _one_line(text: str, limit: int) -> str:
    short = " ".join(text[:limit].split())
    return short + "..." if len(text) > limit else short


def stream_text(text: str, on_text: OnText) -> None:
    """Send `text` to `on_text` in groups of words; the pieces join back to `text` exactly."""
    if not text:
        return
    words = text.split(" ")
    last = len(words) - WORDS_PER_CHUNK
    for start in range(0, len(words), WORDS_PER_CHUNK):
        chunk = " ".join(words[start : start + WORDS_PER_CHUNK])
        on_text(chunk + " " if start < last else chunk)
