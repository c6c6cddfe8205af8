"""Delegation, broadcast and contract-net between agents: the messaging tools.

Each tool turns into ACL messages (persisted with the conversation) and, for `delegate` and
`contract_net`, a nested execution of another agent inside the same trace and conversation.
Depth is bounded and a delegation back to an agent already on the path is refused as a
cycle, so agents that keep passing work around stop with a clear error instead of looping.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from caxton.messaging.message import AclMessage, ConversationStore, Performative
from caxton.observability import trace as t

if TYPE_CHECKING:
    from caxton.observability.trace import Span
    from caxton.routing.router import RouteResult
    from caxton.runtime.executor import ExecutionContext, ExecutionResult

MAX_DEPTH = 4  # agent hops below the first: a request may be passed on four times


class Runs(Protocol):
    def route(self, text: str, *, top: int) -> RouteResult: ...

    def execute_nested(
        self, ctx: ExecutionContext, agent: str, request: str, parent: Span
    ) -> ExecutionResult: ...


@dataclass(slots=True)
class Messaging:
    runtime: Runs
    store: ConversationStore

    def handler(
        self, ctx: ExecutionContext, name: str, arguments: dict[str, Any], span: Span
    ) -> tuple[str, bool]:
        tools: dict[str, Callable[[ExecutionContext, dict[str, Any], Span], tuple[str, bool]]] = {
            "delegate": self.delegate,
            "inform": self.inform,
            "contract_net": self.contract_net,
        }
        return tools[name](ctx, arguments, span)

    # ----- the tools ---------------------------------------------------------------------------

    def delegate(
        self, ctx: ExecutionContext, arguments: dict[str, Any], span: Span
    ) -> tuple[str, bool]:
        capability, request = arguments["capability"], arguments["request"]
        refused = self._depth(ctx)
        if refused:
            return refused, True
        candidates = self._capable(ctx, capability, request, top=3)
        if not candidates:
            return self._nobody(ctx, capability), True
        target = candidates[0][0]
        if target in ctx.chain:
            path = " -> ".join((*ctx.chain, target))
            span.set(**{"caxton.message.cycle": path})
            return (
                f"delegating to {target!r} would make a cycle ({path}); do this part yourself "
                "or ask for a different capability",
                True,
            )
        asked = self._send(ctx, span, "request", request, receiver=target, capability=capability)
        result = self.runtime.execute_nested(ctx, target, request, span)
        self._answer(ctx, span, asked, target, result)
        return _dump(
            {"agent": target, "answer": result.answer, "stop_reason": result.stop_reason}
        ), (not result.ok)

    def inform(
        self, ctx: ExecutionContext, arguments: dict[str, Any], span: Span
    ) -> tuple[str, bool]:
        capability, content = arguments["capability"], arguments["content"]
        receivers = [name for name, _ in self._capable(ctx, capability, content, top=8)]
        for receiver in receivers:
            self._send(ctx, span, "inform", content, receiver=receiver, capability=capability)
        if not receivers:
            return self._nobody(ctx, capability), True
        return _dump({"informed": receivers}), False

    def contract_net(
        self, ctx: ExecutionContext, arguments: dict[str, Any], span: Span
    ) -> tuple[str, bool]:
        capability, task = arguments["capability"], arguments["task"]
        refused = self._depth(ctx)
        if refused:
            return refused, True
        bidders = [
            (name, score)
            for name, score in self._capable(
                ctx, capability, task, top=int(arguments.get("max_bidders", 3))
            )
            if name not in ctx.chain
        ]
        if not bidders:
            return self._nobody(ctx, capability), True
        cfp = self._send(ctx, span, "cfp", task, capability=capability)
        proposals: list[dict[str, Any]] = []
        for name, score in bidders:
            # A bid is the bidder's fitness for the task (its capability match) and its budget:
            # deterministic, and free (no model call per bidder).
            agent = ctx.snapshot.agents[name]
            bid = {
                "agent": name,
                "fitness": round(score, 3),
                "budget_usd": agent.limits.max_cost_usd,
            }
            proposals.append(bid)
            self.store.append(cfp.reply("propose", name, bid))
        winner: str = max(proposals, key=lambda p: (p["fitness"], -p["budget_usd"]))["agent"]
        for bid in proposals:
            verdict = "accept-proposal" if bid["agent"] == winner else "reject-proposal"
            self._send(
                ctx,
                span,
                verdict,
                task if verdict == "accept-proposal" else bid,
                receiver=bid["agent"],
                in_reply_to=cfp.id,
            )
        span.set(
            **{"caxton.contract_net.winner": winner, "caxton.contract_net.bidders": len(proposals)}
        )
        result = self.runtime.execute_nested(ctx, winner, task, span)
        self._answer(ctx, span, cfp, winner, result)
        return (
            _dump(
                {
                    "winner": winner,
                    "proposals": proposals,
                    "answer": result.answer,
                    "stop_reason": result.stop_reason,
                }
            ),
            not result.ok,
        )

    # ----- helpers -----------------------------------------------------------------------------

    def _depth(self, ctx: ExecutionContext) -> str | None:
        if ctx.depth >= MAX_DEPTH:
            return (
                f"this request has already been passed on {ctx.depth} times "
                f"({' -> '.join(ctx.chain)}); the limit is {MAX_DEPTH}: answer with what you have"
            )
        return None

    def _capable(
        self, ctx: ExecutionContext, capability: str, text: str, *, top: int
    ) -> list[tuple[str, float]]:
        """Agents able to do `capability` for `text`, best first, the asking agent left out."""
        result = self.runtime.route(f"{capability}: {text}", top=top + 1)
        return [
            (c.agent, c.score)
            for c in result.candidates
            if c.agent != ctx.agent.name
            and c.score >= result.threshold
            and c.agent in ctx.snapshot.agents
        ][:top]

    def _nobody(self, ctx: ExecutionContext, capability: str) -> str:
        others = sorted(a for a in ctx.snapshot.agents if a != ctx.agent.name)
        return (
            f"no other agent is able to do {capability!r}"
            + (f" (agents: {', '.join(others)})" if others else " (this is the only agent)")
            + "; do it yourself or ask for another capability"
        )

    def _send(
        self, ctx: ExecutionContext, parent: Span, performative: Any, content: Any, **fields: Any
    ) -> AclMessage:
        message = AclMessage.new(
            performative,
            ctx.agent.name,
            content,
            conversation_id=ctx.conversation_id,
            trace_id=ctx.trace.trace_id,
            span_id=parent.span_id,
            **fields,
        )
        self.store.append(message)
        span = ctx.trace.start(
            f"message {performative}",
            "message",
            parent,
            **{
                "caxton.message.performative": performative,
                "caxton.message.sender": ctx.agent.name,
                "caxton.message.receiver": fields.get("receiver") or "",
                "caxton.message.capability": fields.get("capability") or "",
                t.CONVERSATION_ID: ctx.conversation_id,
            },
        )
        ctx.trace.end(span, at=span.start)
        return message

    def _answer(
        self,
        ctx: ExecutionContext,
        parent: Span,
        asked: AclMessage,
        agent: str,
        result: ExecutionResult,
    ) -> None:
        performative: Performative = "inform" if result.ok else "failure"
        content = result.answer if result.ok else f"{result.stop_reason}: {result.detail}"
        self.store.append(asked.reply(performative, agent, content))


def _dump(value: Any) -> str:
    import json

    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
