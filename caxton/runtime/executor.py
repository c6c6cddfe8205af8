"""The executor: a request becomes an LLM conversation that calls tools, within limits.

On demand: each request gets a fresh `ExecutionContext` (the agent's config from one snapshot of
the workspace, its budget, its trace, its memory scope) and nothing survives it but the stores
(memory, conversations, audit). The loop asks the model, runs the tool calls it makes (only the
agent's own tools: any other name is refused and recorded), feeds the results back, and ends
with the model's answer or, cleanly, at the first limit reached (turns, tool calls, time, cost),
with the reason and the trace so far.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from caxton.agents.model import AgentConfig
from caxton.errors import CaxtonError, ExitCode, NotFoundError
from caxton.llm.base import (
    Message,
    ModelRequest,
    ModelResponse,
    OnText,
    Provider,
    ToolCall,
    ToolSpec,
    Usage,
)
from caxton.memory.scope import Scope
from caxton.observability import trace as t
from caxton.observability.trace import Span, Trace
from caxton.tools.registry import ToolInfo
from caxton.workspace.config import WorkspaceConfig

StopReason = Literal["done", "max_turns", "max_tool_calls", "timeout", "max_cost_usd", "error"]
PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
TOOL_RESULT_CHARS = 16_000  # what the model sees of one tool result


class Overloaded(CaxtonError):
    """Too many requests are running; this one was refused rather than queued forever."""

    exit_code = ExitCode.UNAVAILABLE


@dataclass(frozen=True, slots=True)
class Snapshot:
    """The workspace as a request sees it: loaded once, never changed under a request."""

    root: Path
    config: WorkspaceConfig | None
    agents: dict[str, AgentConfig]  # the valid ones
    invalid: dict[str, str]  # agent name -> its first problem
    tools: dict[str, ToolInfo]
    workspace_name: str
    loaded_at: float


@dataclass(slots=True)
class ExecutionContext:
    """Everything one agent's handling of one request needs; built per request, then gone."""

    agent: AgentConfig
    snapshot: Snapshot
    trace: Trace
    span: Span
    conversation_id: str
    depth: int
    chain: tuple[str, ...]  # agents on the way here, this one last (cycle detection)
    deadline: float  # time.monotonic()
    on_text: OnText | None
    history: tuple[tuple[str, str], ...] = ()  # earlier (request, answer) pairs of a chat
    turns: int = 0
    tool_calls: int = 0
    usage: Usage = field(default_factory=Usage)
    cost_usd: float = 0.0
    cost_known: bool = True
    deterministic: bool = False
    models: list[str] = field(default_factory=list)

    @property
    def scope(self) -> Scope:
        return Scope.of(
            self.agent.memory.scope, agent=self.agent.name, workspace=self.snapshot.workspace_name
        )


@dataclass(frozen=True, slots=True)
class ExecutionResult:
    agent: str
    answer: str
    stop_reason: StopReason
    detail: str  # for a stop other than "done": what was reached, and the hint
    conversation_id: str
    trace: Trace
    usage: Usage
    cost_usd: float | None
    turns: int
    tool_calls: int
    deterministic: bool  # answered by the `test` or `replay` model
    models: tuple[str, ...]
    route: dict[str, Any] | None = None
    error: CaxtonError | None = None  # what ended a request whose stop_reason is "error"

    @property
    def ok(self) -> bool:
        return self.stop_reason == "done"

    def to_json(self) -> dict[str, Any]:
        return {
            "agent": self.agent,
            "answer": self.answer,
            "stop_reason": self.stop_reason,
            "detail": self.detail,
            "conversation_id": self.conversation_id,
            "trace_id": self.trace.trace_id,
            "usage": {
                "input_tokens": self.usage.input_tokens,
                "output_tokens": self.usage.output_tokens,
            },
            "cost_usd": self.cost_usd,
            "turns": self.turns,
            "tool_calls": self.tool_calls,
            "deterministic": self.deterministic,
            "models": list(self.models),
            "route": self.route,
            "trace": self.trace.summary(),
        }


class LimitReached(Exception):
    def __init__(self, reason: StopReason, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


def render(template: str, values: dict[str, str]) -> str:
    """`{{name}}` replaced by its value; names without a value stay as written."""
    return PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), template)


def param_text(value: object) -> str:
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


ToolHandler = Callable[[ExecutionContext, ToolInfo, dict[str, Any], Span], tuple[str, bool]]


class Executor:
    """Runs one agent on one request. The `Runtime` owns the shared parts it uses: providers,
    the tool runner, the memory store and the messaging tools."""

    def __init__(
        self,
        provider: Callable[[AgentConfig, Snapshot], list[Provider]],
        host_tools: dict[str, ToolHandler],
        wasm_tools: ToolHandler,
        memory_recall: Callable[[ExecutionContext, str], str] | None,
        auto_store: Callable[[ExecutionContext, str, str], None] | None,
        capabilities: Callable[[ExecutionContext, str], list[str]] | None = None,
        described: Callable[[ExecutionContext, ToolInfo], ToolInfo] | None = None,
    ) -> None:
        self._providers = provider
        self._host_tools = host_tools
        self._wasm_tools = wasm_tools
        self._recall = memory_recall
        self._auto_store = auto_store
        self._capabilities = capabilities
        self._described = described

    def run(self, ctx: ExecutionContext, request: str) -> ExecutionResult:
        agent = ctx.agent
        answer, reason, detail = "", "done", ""
        error: CaxtonError | None = None
        messages: list[Message] = []
        try:
            messages = self._prompt(ctx, request)
            specs = self._specs(ctx, request)
            providers = self._providers(agent, ctx.snapshot)
            while True:
                self._check(ctx, "turn")
                response = self._ask(ctx, providers, messages, specs)
                messages.append(response.message)
                if not response.message.tool_calls:
                    answer = response.message.content
                    break
                for call in response.message.tool_calls:
                    messages.append(self._tool(ctx, call))
        except LimitReached as stop:
            reason, detail = stop.reason, stop.detail
            answer = _last_text(messages)
        except CaxtonError as exc:
            if time.monotonic() >= ctx.deadline:  # the model call was cut by the deadline
                reason = "timeout"
                detail = (
                    f"the request ran past its {agent.limits.timeout} time limit while the "
                    f"model was answering; raise [limits] timeout in agents/{agent.name}.toml"
                )
                answer = _last_text(messages)
            else:
                reason, error = "error", exc
                detail = exc.message + (f"\nhint: {exc.hint}" if exc.hint else "")
                ctx.span.fail(exc.message)
        if reason == "done" and self._auto_store is not None and agent.memory.auto_store:
            # A memory that cannot be stored costs the memory, not the answer: the failure is
            # on the `memory store` span of the trace.
            with contextlib.suppress(Exception):
                self._auto_store(ctx, request, answer)
        ctx.span.set(**{"caxton.stop_reason": reason})
        if reason != "done" and reason != "error":
            ctx.span.set(**{"caxton.limit": detail})
        return ExecutionResult(
            agent.name,
            answer,
            reason,  # type: ignore[arg-type]
            detail,
            ctx.conversation_id,
            ctx.trace,
            ctx.usage,
            round(ctx.cost_usd, 6) if ctx.cost_known else None,
            ctx.turns,
            ctx.tool_calls,
            ctx.deterministic,
            tuple(dict.fromkeys(ctx.models)),
            error=error,
        )

    # ----- the steps -----------------------------------------------------------------------

    def _specs(self, ctx: ExecutionContext, request: str) -> tuple[ToolSpec, ...]:
        """The agent's tools as the model sees them. The messaging tools' `capability` is
        limited to what the other agents can do, most relevant to this request first, so a
        model asks for capabilities that exist."""
        specs = []
        capabilities: list[str] | None = None
        for name in ctx.agent.tools:
            tool = ctx.snapshot.tools.get(name)
            if tool is None:
                continue
            if tool.kind == "mcp" and self._described is not None:
                tool = self._described(ctx, tool)  # the server's own description and schema
            schema = tool.input_schema
            if tool.kind == "messaging" and self._capabilities is not None:
                if capabilities is None:
                    capabilities = self._capabilities(ctx, request)
                if capabilities:
                    properties = dict(schema.get("properties", {}))
                    properties["capability"] = {
                        **properties.get("capability", {}),
                        "enum": capabilities,
                    }
                    schema = {**schema, "properties": properties}
            specs.append(ToolSpec(name, tool.description, schema))
        return tuple(specs)

    def _prompt(self, ctx: ExecutionContext, request: str) -> list[Message]:
        agent = ctx.agent
        values = {k: param_text(v) for k, v in agent.parameters.items()}
        values["agent_name"] = agent.name
        values["request"] = request
        context = ""
        if agent.memory.enabled and self._recall is not None:
            context = self._recall(ctx, request)
        values["context"] = context
        system = render(agent.system_prompt, values)
        user = render(agent.user_prompt_template, values)
        earlier = [
            message
            for asked, answered in ctx.history
            for message in (Message("user", asked), Message("assistant", answered))
        ]
        return [Message("system", system), *earlier, Message("user", user)]

    def _check(self, ctx: ExecutionContext, before: str) -> None:
        limits = ctx.agent.limits
        if time.monotonic() >= ctx.deadline:
            raise LimitReached(
                "timeout",
                f"the request ran past its {limits.timeout} time limit (before the next "
                f"{before}); raise [limits] timeout in agents/{ctx.agent.name}.toml",
            )
        if ctx.cost_known and ctx.cost_usd > limits.max_cost_usd:
            raise LimitReached(
                "max_cost_usd",
                f"the request cost ${ctx.cost_usd:.4f}, past its ${limits.max_cost_usd} budget; "
                f"raise [limits] max_cost_usd in agents/{ctx.agent.name}.toml",
            )
        if before == "turn" and ctx.turns >= limits.max_turns:
            raise LimitReached(
                "max_turns",
                f"the model was asked {ctx.turns} times without finishing (max_turns = "
                f"{limits.max_turns}); raise [limits] max_turns, or make the prompt more direct",
            )

    def _ask(
        self,
        ctx: ExecutionContext,
        providers: list[Provider],
        messages: list[Message],
        specs: tuple[ToolSpec, ...],
    ) -> ModelResponse:
        from caxton.llm.providers import complete_with_fallback

        agent = ctx.agent
        ctx.turns += 1
        request = ModelRequest(
            tuple(messages), specs, agent.llm.model, agent.llm.max_tokens, agent.llm.temperature
        )
        with ctx.trace.span(
            f"chat {agent.llm.model or providers[0].name}",
            "llm",
            ctx.span,
            **{
                t.OPERATION: "chat",
                t.PROVIDER: providers[0].name,
                t.REQUEST_MODEL: agent.llm.model or "",
                t.REQUEST_MAX_TOKENS: agent.llm.max_tokens,
                t.REQUEST_TEMPERATURE: agent.llm.temperature,
                t.AGENT_NAME: agent.name,
                t.CONVERSATION_ID: ctx.conversation_id,
            },
        ) as span:
            response = complete_with_fallback(
                providers,
                request,
                on_text=self._budgeted(ctx, providers[0], request),
                deadline=ctx.deadline,
            )
            span.set(
                **{
                    t.PROVIDER: response.provider,
                    t.RESPONSE_MODEL: response.model,
                    t.INPUT_TOKENS: response.usage.input_tokens,
                    t.OUTPUT_TOKENS: response.usage.output_tokens,
                    t.FINISH_REASONS: [response.finish_reason],
                    t.COST_USD: response.cost_usd,
                    t.DETERMINISTIC: response.deterministic,
                    "caxton.attempts": response.attempts,
                }
            )
            if response.extra.get("fallback_errors"):
                span.set(**{"caxton.fallback_errors": response.extra["fallback_errors"]})
        ctx.usage = ctx.usage + response.usage
        ctx.models.append(f"{response.provider}/{response.model}")
        ctx.deterministic = ctx.deterministic or response.deterministic
        if response.cost_usd is None:
            ctx.cost_known = False
        else:
            ctx.cost_usd += response.cost_usd
        return response

    def _budgeted(
        self, ctx: ExecutionContext, provider: Provider, request: ModelRequest
    ) -> OnText | None:
        """The text callback, guarded by the budget: while a priced model streams, its cost so
        far is estimated (4 characters a token) and the stream is cut once the request would
        be over `max_cost_usd`. Unpriced and deterministic models are passed through."""
        cost = getattr(provider, "cost", None)
        model = request.model or getattr(provider, "model", None) or ""
        if provider.deterministic or cost is None or not model or not ctx.cost_known:
            return ctx.on_text
        prompt_tokens = sum(len(m.content) for m in request.messages) // 4
        budget = ctx.agent.limits.max_cost_usd
        spent = ctx.cost_usd
        streamed = 0
        forward = ctx.on_text

        def on_text(text: str) -> None:
            nonlocal streamed
            streamed += len(text)
            estimate = cost((model,), Usage(prompt_tokens, streamed // 4), reported=True)
            if estimate is not None and spent + estimate > budget:
                ctx.cost_usd = spent + estimate  # an estimate: the usage never arrived
                raise LimitReached(
                    "max_cost_usd",
                    f"the answer being streamed would take the request past its ${budget} "
                    f"budget (about ${spent + estimate:.4f} so far); the stream was cut; "
                    f"raise [limits] max_cost_usd in agents/{ctx.agent.name}.toml",
                )
            if forward is not None:
                forward(text)

        return on_text

    def _tool(self, ctx: ExecutionContext, call: ToolCall) -> Message:
        """Run one call the model asked for; the answer goes back to the model as a message.

        A refusal, bad arguments or a failing tool become an error result the model can read
        (it may try again differently); only the limits end the request."""
        agent = ctx.agent
        self._check(ctx, "tool call")
        if ctx.tool_calls >= agent.limits.max_tool_calls:
            raise LimitReached(
                "max_tool_calls",
                f"the model asked for more than {agent.limits.max_tool_calls} tool calls "
                f"(max_tool_calls); raise [limits] max_tool_calls in agents/{agent.name}.toml",
            )
        ctx.tool_calls += 1
        tool = ctx.snapshot.tools.get(call.name)
        with ctx.trace.span(
            f"execute_tool {call.name}",
            "tool",
            ctx.span,
            **{
                t.OPERATION: "execute_tool",
                t.TOOL_NAME: call.name,
                t.TOOL_CALL_ID: call.id,
                t.TOOL_TYPE: tool.kind if tool is not None else "unknown",
                t.AGENT_NAME: agent.name,
            },
        ) as span:
            if call.name not in agent.tools or tool is None:
                allowed = ", ".join(agent.tools) or "none"
                text = (
                    f"tool {call.name!r} is not allowed for agent {agent.name!r}; "
                    f"it may call: {allowed}"
                )
                span.set(**{"caxton.tool.refused": True})
                span.fail(text)
                return _result(call, text, error=True)
            if call.arguments is None:
                text = (
                    f"the arguments for {call.name!r} are not a JSON object: "
                    f"{call.raw_arguments[:200]!r}; send a JSON object matching its input schema"
                )
                span.fail(text)
                return _result(call, text, error=True)
            try:
                handler = self._host_tools.get(tool.kind)
                if handler is None:
                    handler = self._wasm_tools  # checks arguments itself, then audits the call
                else:
                    check_host_arguments(tool, call.arguments)
                span.set(**{t.TOOL_ARGUMENTS: _shown(json.dumps(call.arguments))})
                text, is_error = handler(ctx, tool, call.arguments, span)
                span.set(**{t.TOOL_RESULT: _shown(text)})
            except LimitReached:
                raise
            except CaxtonError as exc:
                span.fail(exc.message)
                return _result(call, exc.message + (f" ({exc.hint})" if exc.hint else ""), True)
            except (KeyError, ValueError) as exc:
                span.fail(str(exc))
                return _result(call, f"{call.name} failed: {exc}", error=True)
            if is_error:
                span.fail(text[:300])
            return _result(call, text, error=is_error)


_host_validators: dict[str, Any] = {}


def _shown(text: str) -> str:
    """What a trace keeps of a tool's arguments or result: enough to read, never megabytes."""
    if len(text) <= t.SHOWN_CHARS:
        return text
    return text[: t.SHOWN_CHARS] + f"... ({len(text) - t.SHOWN_CHARS} more characters)"


def check_host_arguments(tool: ToolInfo, arguments: dict[str, Any]) -> None:
    """A host tool's arguments against its input schema, as the registry does for the others."""
    from caxton.tools.registry import check_arguments, validator_for

    validator = _host_validators.get(tool.name)
    if validator is None:
        validator = _host_validators[tool.name] = validator_for(tool)
    check_arguments(tool, arguments, validator)


def _result(call: ToolCall, text: str, error: bool = False) -> Message:
    if len(text) > TOOL_RESULT_CHARS:
        text = text[:TOOL_RESULT_CHARS] + f"\n[... {len(text) - TOOL_RESULT_CHARS} more characters]"
    return Message("tool", text, tool_call_id=call.id, name=call.name, is_error=error)


def _last_text(messages: list[Message]) -> str:
    for message in reversed(messages):
        if message.role == "assistant" and message.content:
            return message.content
    return ""


class Limiter:
    """At most `limit` requests at once; the next one is refused at once, never queued."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._slots = threading.BoundedSemaphore(limit)

    def __enter__(self) -> None:
        if not self._slots.acquire(blocking=False):
            raise Overloaded(
                f"{self.limit} requests are already running; this one was refused",
                "retry shortly, or raise the limit (`caxton serve --max-concurrent`)",
            )

    def __exit__(self, *exc: object) -> None:
        self._slots.release()


def new_conversation_id() -> str:
    return os.urandom(16).hex()


class AgentInvalid(CaxtonError):
    """The agent named exists but its file has problems."""

    exit_code = ExitCode.INVALID


def find_agent(snapshot: Snapshot, name: str) -> AgentConfig:
    if name in snapshot.agents:
        return snapshot.agents[name]
    raise agent_error(name, list(snapshot.agents), snapshot.invalid.get(name))


def agent_error(name: str, valid: list[str], problem: str | None) -> CaxtonError:
    """Why the agent `name` cannot run: its first problem, or that there is none by that name
    (with the closest of the `valid` names)."""
    from caxton.workspace.schema import suggest

    if problem is not None:
        return AgentInvalid(
            f"agent {name!r} has problems and cannot run: {problem}",
            "`caxton validate` lists them",
        )
    close = suggest(name, valid)
    return NotFoundError(
        f"no agent named {name!r}" + (f"; did you mean {close!r}?" if close else ""),
        "`caxton agent list` shows the workspace's agents",
    )


def dump(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
