"""Routing over a workspace's valid agents (what `caxton route` and the server use)."""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from caxton.agents.model import AgentConfig
from caxton.errors import CaxtonError
from caxton.routing.router import AgentProfile, Router, RouteResult
from caxton.workspace.loader import Workspace, load_workspace


@dataclass(slots=True)
class RouteOutcome:
    result: RouteResult
    skipped: list[str] = field(default_factory=list)
    warning: tuple[str, str] | None = None


def profile(config: AgentConfig) -> AgentProfile:
    """The router's view of an agent: capabilities, description, examples, prompt and docs."""
    return AgentProfile(
        config.name,
        tuple(config.capabilities),
        config.description,
        tuple(config.examples),
        f"{config.system_prompt}\n{config.documentation}",
    )


def profiles(workspace: Workspace) -> tuple[list[AgentProfile], list[str]]:
    """Profiles of the valid agents, and the names of the invalid ones left out."""
    valid, skipped = [], []
    for agent in workspace.agents:
        if agent.valid and agent.config is not None:
            valid.append(profile(agent.config))
        else:
            skipped.append(agent.config.name if agent.config else agent.path.stem)
    return valid, skipped


def make_router() -> tuple[Router, tuple[str, str] | None]:
    """A router on the embedding model, or on keywords (with a warning) when it cannot load."""
    from caxton.memory.embedder import get_embedder

    try:
        return Router(get_embedder()), None
    except CaxtonError as exc:
        return Router(None), (
            f"routing by keywords only: {exc.message}",
            exc.hint or "fix the embedding model",
        )


def with_fallback(
    result: RouteResult,
    fallback: str | None,
    agents: Collection[str],
    invalid: Mapping[str, str],
) -> RouteResult:
    """`result`, or, when no agent fits it, the workspace's `[routing] fallback` agent taking
    the request (method "fallback"). A fallback that is not among the valid `agents` takes
    nothing: "no agent fits" stands, and `fallback_problem` says why (its first error, from
    `invalid`, or that no agent has its name)."""
    if result.chosen is not None or fallback is None:
        return result
    if fallback not in agents:
        problem = invalid.get(fallback)
        why = f"it is invalid: {problem}" if problem is not None else "no agent has that name"
        return dataclasses.replace(
            result,
            fallback_problem=f"the workspace's fallback agent {fallback!r} cannot take it: {why}",
        )
    best = result.candidates[0] if result.candidates else None
    fits = (
        f"no agent fits (best: {best.agent!r} {best.score:.2f} < {result.threshold:.2f})"
        if best is not None
        else "no agent fits"
    )
    reason = f"{fits}: the workspace's fallback agent {fallback!r}"
    if result.method == "keyword":
        reason += "; routing by keywords only: no embedding model"
    return dataclasses.replace(result, chosen=fallback, method="fallback", reason=reason)


def route_in_workspace(root: Path, request: str, *, top: int = 3) -> RouteOutcome:
    workspace = load_workspace(root)
    valid, skipped = profiles(workspace)
    router, warning = make_router()
    router.update(valid)
    fallback = workspace.config.routing.fallback if workspace.config is not None else None
    result = with_fallback(
        router.route(request, top=top),
        fallback,
        {p.name for p in valid},
        workspace.invalid_agents(),
    )
    return RouteOutcome(result, skipped, warning)
