"""Route dependencies: the Gate has authenticated the token; these find the workspace in the
path and check the role the route needs (viewer < deployer < admin)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import Depends, Request
from fastapi import Path as PathParam
from fastapi.security import HTTPBearer

from caxton.errors import NotFoundError
from caxton.observability.store import TraceStoreUnavailable
from caxton.server.auth import Claims, Role, authorize
from caxton.server.state import ServerState, Workspace

_BEARER = Depends(HTTPBearer(auto_error=False, description="A token from `caxton token create`."))


def _access(role: Role) -> Callable[..., Awaitable[Workspace]]:
    async def dependency(
        request: Request,
        ws: str = PathParam(description="The workspace's name."),
        _: Any = _BEARER,  # declares the scheme in OpenAPI; the Gate verified the token
    ) -> Workspace:
        state: ServerState = request.app.state.caxton
        claims: Claims = request.scope["state"]["claims"]
        served = state.workspaces.get(ws)
        if served is None:
            reachable = sorted(n for n in state.workspaces if claims.reaches(n))
            raise NotFoundError(
                f"no workspace {ws!r} on this server",
                "this token reaches: " + ", ".join(reachable)
                if reachable
                else "this token reaches no workspace served here",
            )
        authorize(claims, ws, role)
        if served.problem is not None:
            raise TraceStoreUnavailable(
                f"workspace {ws!r} is not available: {served.problem.message}",
                served.problem.hint,
            )
        return served

    return dependency


VIEWER = Depends(_access("viewer"))
DEPLOYER = Depends(_access("deployer"))  # runs agents or changes data: it costs and writes
ADMIN = Depends(_access("admin"))


def claims_of(request: Request) -> Claims:
    claims: Claims = request.scope["state"]["claims"]
    return claims
