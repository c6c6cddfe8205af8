"""The one interface every LLM provider speaks: a conversation in, an assistant turn out.

Providers are tools of the runtime (ARCHITECTURE: "LLM providers as tools"): the executor
builds a `ModelRequest` (messages so far, the tools the agent may call), a provider answers
with a `ModelResponse` (the assistant message, maybe with tool calls, and its usage and cost).
Streaming is a callback for text deltas; the response is always whole. Everything here is
plain data so traces, cassettes and the server can serialise it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from caxton.errors import CaxtonError, ExitCode

Role = Literal["system", "user", "assistant", "tool"]
FinishReason = Literal["stop", "tool_calls", "length", "error"]
OnText = Callable[[str], None]


@dataclass(frozen=True, slots=True)
class ToolSpec:
    """A tool as the model sees it."""

    name: str
    description: str
    input_schema: dict[str, Any]


@dataclass(frozen=True, slots=True)
class ToolCall:
    """One call the model asked for. `arguments` is None when the model sent text that is not
    a JSON object (`raw_arguments` keeps it, for the error the model gets back)."""

    id: str
    name: str
    arguments: dict[str, Any] | None
    raw_arguments: str = ""


@dataclass(frozen=True, slots=True)
class Message:
    role: Role
    content: str = ""
    tool_calls: tuple[ToolCall, ...] = ()  # assistant turns only
    tool_call_id: str | None = None  # tool results only: the call they answer
    name: str | None = None  # tool results only: the tool's name
    is_error: bool = False  # tool results only

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"role": self.role, "content": self.content}
        if self.tool_calls:
            out["tool_calls"] = [
                {"id": c.id, "name": c.name, "arguments": c.arguments, "raw": c.raw_arguments}
                for c in self.tool_calls
            ]
        if self.tool_call_id is not None:
            out["tool_call_id"] = self.tool_call_id
        if self.name is not None:
            out["name"] = self.name
        if self.is_error:
            out["is_error"] = True
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Message:
        calls = tuple(
            ToolCall(c["id"], c["name"], c.get("arguments"), c.get("raw", ""))
            for c in data.get("tool_calls", ())
        )
        return cls(
            data["role"],
            data.get("content", ""),
            calls,
            data.get("tool_call_id"),
            data.get("name"),
            bool(data.get("is_error", False)),
        )


@dataclass(frozen=True, slots=True)
class Usage:
    input_tokens: int = 0
    output_tokens: int = 0

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            self.input_tokens + other.input_tokens, self.output_tokens + other.output_tokens
        )


@dataclass(frozen=True, slots=True)
class ModelRequest:
    messages: tuple[Message, ...]
    tools: tuple[ToolSpec, ...] = ()
    model: str | None = None  # None: the provider's default model
    max_tokens: int = 2048
    temperature: float = 0.2


@dataclass(frozen=True, slots=True)
class ModelResponse:
    message: Message  # role "assistant"
    usage: Usage
    model: str
    provider: str  # the provider's name in the workspace (e.g. "openai", "local", "test")
    finish_reason: FinishReason = "stop"
    cost_usd: float | None = None  # None when the model's price is unknown
    deterministic: bool = False  # the `test` and `replay` models: labelled wherever shown
    attempts: int = 1  # retries included
    seconds: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)


class Provider(Protocol):
    """An LLM endpoint. `complete` may be called from several threads at once."""

    name: str
    deterministic: bool

    def complete(
        self,
        request: ModelRequest,
        *,
        on_text: OnText | None = None,
        deadline: float | None = None,  # time.monotonic() after which to give up
    ) -> ModelResponse: ...


class LlmError(CaxtonError):
    """A model did not answer: no key, refused, unreachable, out of retries, or nonsense."""

    exit_code = ExitCode.UNAVAILABLE


class ProviderConfigError(LlmError):
    """The provider cannot be used as configured (a missing key, an unknown provider)."""

    exit_code = ExitCode.USAGE


class RealRequestsForbidden(LlmError):
    """`CAXTON_FORBID_REAL_LLM` is set (the test suite sets it): only `test` and `replay`."""

    exit_code = ExitCode.USAGE


FORBID_ENV = "CAXTON_FORBID_REAL_LLM"
