"""Traces: every step of a request is a span, with OpenTelemetry GenAI attribute names.

A trace is one request end to end, across agents: routing, each agent's execution, each LLM
call (model, tokens, cost, latency), each tool call (fuel, duration), each memory operation and
each message between agents. Spans are plain data, collected in memory while the request runs;
the server persists them, the TUI shows them, an OTLP exporter can send them (the attribute
names follow the GenAI semantic conventions so other tools read them as they are).
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Literal

SpanKind = Literal["request", "route", "agent", "llm", "tool", "memory", "message"]
Status = Literal["ok", "error"]

# OpenTelemetry GenAI semantic conventions (gen_ai.*), and ours (caxton.*) where they are silent.
OPERATION = "gen_ai.operation.name"  # chat | execute_tool | invoke_agent
PROVIDER = "gen_ai.provider.name"
REQUEST_MODEL = "gen_ai.request.model"
RESPONSE_MODEL = "gen_ai.response.model"
INPUT_TOKENS = "gen_ai.usage.input_tokens"
OUTPUT_TOKENS = "gen_ai.usage.output_tokens"
FINISH_REASONS = "gen_ai.response.finish_reasons"
REQUEST_MAX_TOKENS = "gen_ai.request.max_tokens"
REQUEST_TEMPERATURE = "gen_ai.request.temperature"
TOOL_NAME = "gen_ai.tool.name"
TOOL_CALL_ID = "gen_ai.tool.call.id"
TOOL_TYPE = "gen_ai.tool.type"
TOOL_ARGUMENTS = "gen_ai.tool.call.arguments"  # JSON, cut at SHOWN_CHARS
TOOL_RESULT = "gen_ai.tool.call.result"  # the text the model got back, cut at SHOWN_CHARS
SHOWN_CHARS = 2_000
AGENT_NAME = "gen_ai.agent.name"
CONVERSATION_ID = "gen_ai.conversation.id"
COST_USD = "caxton.cost_usd"
DETERMINISTIC = "caxton.model.deterministic"
FUEL = "caxton.tool.fuel"
SANDBOXED = "caxton.tool.sandboxed"
ERROR = "caxton.error"


def new_id(bytes_: int = 8) -> str:
    return os.urandom(bytes_).hex()


@dataclass(slots=True)
class Span:
    trace_id: str
    span_id: str
    parent_id: str | None
    name: str
    kind: SpanKind
    start: float  # seconds since the epoch
    end: float | None = None
    status: Status = "ok"
    attributes: dict[str, Any] = field(default_factory=dict)

    @property
    def seconds(self) -> float:
        return (self.end if self.end is not None else time.time()) - self.start

    def set(self, **attributes: Any) -> None:
        self.attributes.update(attributes)

    def fail(self, message: str) -> None:
        self.status = "error"
        self.attributes[ERROR] = message

    def to_json(self) -> dict[str, Any]:
        return {
            "trace_id": self.trace_id,
            "span_id": self.span_id,
            "parent_id": self.parent_id,
            "name": self.name,
            "kind": self.kind,
            "start": self.start,
            "end": self.end,
            "status": self.status,
            "attributes": self.attributes,
        }


OnSpan = Callable[[Span], None]


class Trace:
    """The spans of one request (all hops); safe to add to from several threads. `on_end`, if
    given, is called with each span as it ends (on the thread that ends it), e.g. to stream
    tool calls to a client while the request runs."""

    __slots__ = ("_lock", "on_end", "spans", "trace_id")

    def __init__(self, trace_id: str | None = None, on_end: OnSpan | None = None) -> None:
        self.trace_id = trace_id or new_id(16)
        self.spans: list[Span] = []
        self.on_end = on_end
        self._lock = threading.Lock()

    def start(
        self, name: str, kind: SpanKind, parent: Span | None = None, **attributes: Any
    ) -> Span:
        span = Span(
            self.trace_id,
            new_id(),
            parent.span_id if parent is not None else None,
            name,
            kind,
            time.time(),
            attributes=attributes,
        )
        with self._lock:
            self.spans.append(span)
        return span

    @contextmanager
    def span(
        self, name: str, kind: SpanKind, parent: Span | None = None, **attributes: Any
    ) -> Iterator[Span]:
        """A span around a block: ended when the block ends, marked failed if it raises."""
        span = self.start(name, kind, parent, **attributes)
        try:
            yield span
        except BaseException as exc:
            span.fail(getattr(exc, "message", None) or str(exc) or type(exc).__name__)
            raise
        finally:
            self.end(span)

    def end(self, span: Span, at: float | None = None) -> None:
        """End `span` (now, or `at`) and tell `on_end`; a failing listener never fails the
        request it watches."""
        span.end = time.time() if at is None else at
        if self.on_end is not None:
            with contextlib.suppress(Exception):  # a listener's bug is not the request's
                self.on_end(span)

    def to_json(self) -> list[dict[str, Any]]:
        with self._lock:
            return [s.to_json() for s in self.spans]

    def summary(self) -> dict[str, Any]:
        """Counts and totals for a one-line summary."""
        with self._lock:
            spans = list(self.spans)
        llm = [s for s in spans if s.kind == "llm"]
        cost = [s.attributes.get(COST_USD) for s in llm]
        return {
            "spans": len(spans),
            "llm_calls": len(llm),
            "tool_calls": sum(1 for s in spans if s.kind == "tool"),
            "messages": sum(1 for s in spans if s.kind == "message"),
            "input_tokens": sum(s.attributes.get(INPUT_TOKENS, 0) for s in llm),
            "output_tokens": sum(s.attributes.get(OUTPUT_TOKENS, 0) for s in llm),
            "cost_usd": None if any(c is None for c in cost) else round(sum(cost), 6),  # type: ignore[arg-type]
            "errors": sum(1 for s in spans if s.status == "error"),
        }
