"""Routes for a workspace's tools: list and describe them, and call one (as `caxton tool test`
does): a WASM tool in its sandbox, an MCP server's tool on its server."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi import Path as PathParam

from caxton.errors import NotFoundError, UsageError
from caxton.server import models as m
from caxton.server.access import DEPLOYER, VIEWER, claims_of
from caxton.server.state import Workspace

router = APIRouter(prefix="/api/v1/workspaces/{ws}/tools", tags=["tools"], responses=m.ERRORS)
TOOL_NAME = PathParam(min_length=1, max_length=64)


def _tool_json(served: Workspace, tool: Any) -> dict[str, Any]:
    assert served.runtime is not None
    data: dict[str, Any] = tool.to_json()
    data.pop("module", None)  # a path on the server's disk: not the caller's business
    data["sandboxed"] = tool.kind == "wasm"
    data["used_by"] = sorted(
        a.name for a in served.runtime.snapshot.agents.values() if tool.name in a.tools
    )
    return data


def _find(served: Workspace, name: str) -> Any:
    assert served.runtime is not None
    tools = served.runtime.snapshot.tools
    tool = tools.get(name)
    if tool is None:
        raise NotFoundError(
            f"no tool {name!r} in {served.name!r}",
            "the workspace's tools are listed at `GET tools`",
        )
    return tool


@router.get("", response_model=m.ToolsOut)
async def tools(served: Workspace = VIEWER) -> dict[str, Any]:
    """Every tool the workspace's agents could use: built-in, the workspace's own WASM
    tools, and those of its MCP servers, with the agents that list each."""
    assert served.runtime is not None
    listed = served.runtime.snapshot.tools.values()
    return {"workspace": served.name, "tools": [_tool_json(served, t) for t in listed]}


@router.get("/{name}", response_model=m.ToolOut)
async def tool(name: str = TOOL_NAME, served: Workspace = VIEWER) -> dict[str, Any]:
    """One tool: its input schema, limits, permissions (WASM) or server (MCP)."""
    return _tool_json(served, _find(served, name))


@router.post("/{name}/calls", response_model=m.ToolCallOut)
async def call(
    body: m.ToolCallIn, request: Request, name: str = TOOL_NAME, served: Workspace = DEPLOYER
) -> dict[str, Any]:
    """Call the tool once with `arguments` (checked against its input schema first: 400 if
    they do not match). A tool that answers with an error result is still a 200 with
    `is_error: true`; one that crashes or hits a limit is a 422. Recorded in the audit log
    with the caller's token subject."""
    assert served.runtime is not None
    runtime = served.runtime
    tool = _find(served, name)
    if tool.kind not in ("wasm", "mcp"):
        raise UsageError(
            f"{name!r} is a {tool.kind} tool: it works inside an agent's request only",
            "send a request to an agent that lists it (`POST messages`)",
        )
    caller = f"api:{claims_of(request).subject}"
    result = await served.submit(lambda: runtime.tools.call(tool, body.arguments, caller=caller))
    run = result.run
    return {
        "tool": name,
        "content": result.content,
        "text": result.text(),
        "is_error": result.is_error,
        "fuel_used": run.fuel_used,
        "seconds": round(run.seconds, 6),
    }
