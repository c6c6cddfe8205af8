"""The runtime of one workspace: what every request shares, and `execute()`.

Shared, and safe to use from many threads at once: a snapshot of the workspace (swapped whole
by `reload()`: a request in flight keeps the snapshot it started with), the tool runner (WASM
modules compiled once), the memory store, the router, the LLM providers and the conversation
store. Per request: an `ExecutionContext` (see executor.py), built in microseconds.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

from caxton.agents.model import AgentConfig
from caxton.errors import CaxtonError, UsageError
from caxton.llm.base import OnText, Provider
from caxton.observability import trace as t
from caxton.observability.trace import OnSpan, Span, Trace
from caxton.runtime.executor import (
    ExecutionContext,
    ExecutionResult,
    Executor,
    Limiter,
    Snapshot,
    dump,
    find_agent,
    new_conversation_id,
)
from caxton.tools.registry import ToolInfo, ToolRunner


class Runtime:
    def __init__(
        self,
        root: Path,
        *,
        model: str | None = None,
        record: Path | None = None,
        max_concurrent: int = 16,
    ) -> None:
        """`model` names a provider every agent uses instead of its own (e.g. "test");
        `record` appends every model turn to a cassette (for the `replay` model)."""
        from caxton.messaging.message import ConversationStore
        from caxton.messaging.protocols import Messaging
        from caxton.paths import workspace_state_dir

        self.root = root
        self.model = model
        self.record = record
        self.limiter = Limiter(max_concurrent)
        self.tools = ToolRunner(root)
        # resolved: a deployed version's `.caxton` is a link to state that outlives versions
        self.conversations = ConversationStore(
            workspace_state_dir(root).resolve() / "conversations"
        )
        self.messaging = Messaging(self, self.conversations)
        self._lock = threading.Lock()
        self._store: Any = None
        self._router: Any = None
        self._routed_snapshot: Snapshot | None = None
        self._providers: dict[str, Provider] = {}
        self._mcp: dict[tuple[int, str], ToolInfo] = {}  # (id of snapshot, tool) -> described
        self.snapshot = self._load()
        self.executor = Executor(
            self._providers_for,
            {
                "memory": self._memory_tool,
                "messaging": self._messaging_tool,
            },
            self._wasm_tool,
            self._recall,
            self._auto_store,
            self._capabilities,
            self._described,
        )

    # ----- the workspace -----------------------------------------------------------------------

    def _load(self, loaded: Any = None) -> Snapshot:
        from caxton.tools.registry import available_tools
        from caxton.workspace.loader import load_workspace

        workspace = loaded if loaded is not None else load_workspace(self.root)
        agents = {
            agent.config.name: agent.config
            for agent in workspace.agents
            if agent.valid and agent.config is not None
        }
        config = workspace.config
        return Snapshot(
            self.root,
            config,
            agents,
            workspace.invalid_agents(),
            {tool.name: tool for tool in available_tools(self.root)},
            config.workspace.name if config is not None else self.root.name,
            time.time(),
        )

    def reload(self, root: Path | None = None, loaded: Any = None) -> Snapshot:
        """Read the workspace again (from `root`, a deployed version's folder, when given;
        `loaded` is that folder's workspace when the caller has just loaded it); requests
        already running finish on their snapshot."""
        if root is not None and root != self.root:
            self.root = root
            self.tools.root = root
        snapshot = self._load(loaded)
        with self._lock:
            self.snapshot = snapshot
            self._providers.clear()
            self._mcp.clear()
        return snapshot

    # ----- requests ----------------------------------------------------------------------------

    def execute(
        self,
        request: str,
        *,
        agent: str | None = None,
        on_text: OnText | None = None,
        conversation_id: str | None = None,
        history: tuple[tuple[str, str], ...] = (),
        on_span: OnSpan | None = None,
    ) -> ExecutionResult:
        """Answer one request: routed when no agent is named. Refused when overloaded.
        `history` gives the model earlier (request, answer) pairs of a chat; `on_span` is
        called with each span as it ends."""
        with self.limiter:
            snapshot = self.snapshot
            trace = Trace(on_end=on_span)
            conversation = conversation_id or new_conversation_id()
            with trace.span(
                "request", "request", None, **{t.CONVERSATION_ID: conversation}
            ) as root:
                route = None
                if agent is None:
                    agent, route = self._route_request(snapshot, trace, root, request)
                config = find_agent(snapshot, agent)
                result = self._run(
                    snapshot,
                    config,
                    trace,
                    root,
                    request,
                    conversation,
                    0,
                    (),
                    on_text,
                    history=history,
                )
                root.set(**{"caxton.stop_reason": result.stop_reason})
        if route is not None:
            from dataclasses import replace

            result = replace(result, route=route)
        return result

    def execute_nested(
        self, ctx: ExecutionContext, agent: str, request: str, parent: Span
    ) -> ExecutionResult:
        """Another agent handling part of a request: same trace, same conversation, one level
        deeper, its own limits (bounded by what remains of the caller's time)."""
        config = find_agent(ctx.snapshot, agent)
        return self._run(
            ctx.snapshot,
            config,
            ctx.trace,
            parent,
            request,
            ctx.conversation_id,
            ctx.depth + 1,
            ctx.chain,
            None,
            deadline=ctx.deadline,
        )

    def _run(
        self,
        snapshot: Snapshot,
        config: AgentConfig,
        trace: Trace,
        parent: Span,
        request: str,
        conversation: str,
        depth: int,
        chain: tuple[str, ...],
        on_text: OnText | None,
        *,
        deadline: float | None = None,
        history: tuple[tuple[str, str], ...] = (),
    ) -> ExecutionResult:
        own_deadline = time.monotonic() + config.limits.timeout.seconds
        with trace.span(
            f"invoke_agent {config.name}",
            "agent",
            parent,
            **{
                t.OPERATION: "invoke_agent",
                t.AGENT_NAME: config.name,
                t.CONVERSATION_ID: conversation,
                "caxton.depth": depth,
            },
        ) as span:
            ctx = ExecutionContext(
                config,
                snapshot,
                trace,
                span,
                conversation,
                depth,
                (*chain, config.name),
                min(own_deadline, deadline) if deadline is not None else own_deadline,
                on_text,
                history,
            )
            return self.executor.run(ctx, request)

    def _route_request(
        self, snapshot: Snapshot, trace: Trace, parent: Span, request: str
    ) -> tuple[str, dict[str, Any]]:
        from caxton.routing.workspace import with_fallback

        with trace.span("route", "route", parent) as span:
            config = snapshot.config
            result = with_fallback(
                self.route(request, top=3),
                config.routing.fallback if config is not None else None,
                snapshot.agents,
                snapshot.invalid,
            )
            span.set(
                **{
                    "caxton.route.chosen": result.chosen or "",
                    "caxton.route.method": result.method,
                    "caxton.route.reason": result.reason,
                }
            )
            if result.fallback_problem is not None:
                span.set(**{"caxton.route.fallback_problem": result.fallback_problem})
            if result.chosen is None:
                reason = result.reason.removeprefix("no agent fits: ")
                hint = (
                    "ask an agent by name (`caxton run --agent NAME`, `agent` in the API, or "
                    "choose it in the TUI's sidebar), or add capabilities or examples to the "
                    "agent that should take such requests"
                )
                if result.fallback_problem is not None:
                    hint = f"{result.fallback_problem}; fix it (`caxton validate`), or {hint}"
                raise UsageError(f"no agent fits this request: {reason}", hint)
            route = {
                "chosen": result.chosen,
                "method": result.method,
                "reason": result.reason,
                "candidates": [
                    {"agent": c.agent, "score": round(c.score, 3)} for c in result.candidates
                ],
            }
            return result.chosen, route

    def route(self, text: str, *, top: int) -> Any:
        """The router's answer over the current snapshot's valid agents (built once per
        snapshot; embedding profiles only for agents that changed)."""
        from caxton.routing.workspace import make_router, profile

        with self._lock:
            snapshot = self.snapshot
            if self._router is None:
                self._router, _ = make_router()
            if self._routed_snapshot is not snapshot:
                self._router.update([profile(a) for a in snapshot.agents.values()])
                self._routed_snapshot = snapshot
            router = self._router
        return router.route(text, top=top)

    def _capabilities(self, ctx: ExecutionContext, request: str) -> list[str]:
        """The other agents' capabilities, those of the agents best fitting `request` first."""
        others = {n: a for n, a in ctx.snapshot.agents.items() if n != ctx.agent.name}
        if not others:
            return []
        ranked = [c.agent for c in self.route(request, top=len(ctx.snapshot.agents)).candidates]
        order = [n for n in ranked if n in others] + sorted(n for n in others if n not in ranked)
        return list(dict.fromkeys(c for n in order for c in others[n].capabilities))

    def _described(self, ctx: ExecutionContext, tool: ToolInfo) -> ToolInfo:
        """An external MCP tool as its server describes it (asked once per snapshot: listing
        the workspace never starts a server). A server that cannot be reached leaves the
        declared placeholder; calling the tool will then say why."""
        from caxton.tools.registry import find_tool

        key = (id(ctx.snapshot), tool.name)
        with self._lock:
            known = self._mcp.get(key)
        if known is not None:
            return known
        try:
            known = find_tool(self.root, tool.name, connect=True)
        except CaxtonError:
            return tool
        with self._lock:
            self._mcp[key] = known
        return known

    # ----- models ------------------------------------------------------------------------------

    def _providers_for(self, agent: AgentConfig, snapshot: Snapshot) -> list[Provider]:
        names = (
            [self.model]
            if self.model is not None
            else [
                agent.llm.provider
                or (snapshot.config.llm.default_provider if snapshot.config else "test"),
                *agent.llm.fallback,
            ]
        )
        return [self._provider(name, snapshot) for name in names]

    def _provider(self, name: str, snapshot: Snapshot) -> Provider:
        with self._lock:
            cached = self._providers.get(name)
        if cached is not None:
            return cached
        from caxton.llm.providers import provider_for

        provider = provider_for(name, self.root, snapshot.config)
        if self.record is not None and not provider.deterministic:
            from caxton.llm.replay import RecordingProvider

            provider = RecordingProvider(provider, self.record)
        with self._lock:
            self._providers.setdefault(name, provider)
            return self._providers[name]

    # ----- tools -------------------------------------------------------------------------------

    def _wasm_tool(
        self, ctx: ExecutionContext, tool: ToolInfo, arguments: dict[str, Any], span: Span
    ) -> tuple[str, bool]:
        result = self.tools.call(tool, arguments, caller=ctx.agent.name)
        run = result.run
        span.set(
            **{
                t.SANDBOXED: tool.kind == "wasm",
                t.FUEL: run.fuel_used,
                "caxton.tool.seconds": round(run.seconds, 6),
            }
        )
        if getattr(run, "http", None):
            span.set(**{"caxton.tool.http": [r.to_json() for r in run.http]})
        return result.text(), result.is_error

    def _memory_tool(
        self, ctx: ExecutionContext, tool: ToolInfo, arguments: dict[str, Any], span: Span
    ) -> tuple[str, bool]:
        from caxton.runtime.memory_tools import call_memory_tool

        scope = ctx.scope
        span.set(**{"caxton.memory.scope": str(scope)})
        text = call_memory_tool(
            self.memory,
            scope,
            tool.name,
            arguments,
            min_similarity=ctx.agent.memory.min_similarity,
        )
        return text, False

    def _messaging_tool(
        self, ctx: ExecutionContext, tool: ToolInfo, arguments: dict[str, Any], span: Span
    ) -> tuple[str, bool]:
        return self.messaging.handler(ctx, tool.name, arguments, span)

    # ----- memory ------------------------------------------------------------------------------

    @property
    def memory(self) -> Any:
        """The workspace's memory store, opened on first use."""
        with self._lock:
            if self._store is None:
                from caxton.memory.local import store_path
                from caxton.memory.store import MemoryStore

                self._store = MemoryStore.open(store_path(self.root))
            return self._store

    def _recall(self, ctx: ExecutionContext, request: str) -> str:
        settings = ctx.agent.memory
        with ctx.trace.span("memory search", "memory", ctx.span) as span:
            hits = self.memory.search(
                ctx.scope,
                request,
                limit=settings.search_limit,
                min_similarity=settings.min_similarity,
            )
            span.set(**{"caxton.memory.scope": str(ctx.scope), "caxton.memory.hits": len(hits)})
        lines = []
        for hit in hits:
            item = hit.item
            if hit.kind == "entity":
                lines.append(f"- {item.name} ({item.type}): " + "; ".join(item.observations))
            elif hit.kind == "interaction":
                lines.append(f"- earlier: {item.request!r} -> {item.response[:200]!r}")
        return "\n".join(lines)

    def _auto_store(self, ctx: ExecutionContext, request: str, answer: str) -> None:
        with ctx.trace.span("memory store", "memory", ctx.span) as span:
            self.memory.store_interaction(ctx.scope, ctx.agent.name, request, answer)
            span.set(**{"caxton.memory.scope": str(ctx.scope)})

    def close(self) -> None:
        with self._lock:
            if self._store is not None:
                self._store.close()
                self._store = None


__all__ = ["Runtime", "dump"]
