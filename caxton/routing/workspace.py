"""Routing over a workspace's valid agents (what `caxton route` and the server use)."""

from __future__ import annotations

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


def route_in_workspace(root: Path, request: str, *, top: int = 3) -> RouteOutcome:
    valid, skipped = profiles(load_workspace(root))
    router, warning = make_router()
    router.update(valid)
    return RouteOutcome(router.route(request, top=top), skipped, warning)
