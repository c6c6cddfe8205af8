"""Routes for traces: recent executions, and one execution's spans."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Query
from fastapi import Path as PathParam

from caxton.observability.store import TraceStore, TraceStoreUnavailable
from caxton.server import models as m
from caxton.server.access import VIEWER
from caxton.server.state import Workspace

router = APIRouter(prefix="/api/v1/workspaces/{ws}", tags=["traces"], responses=m.ERRORS)


def _with_store(served: Workspace, read: Callable[[TraceStore], Any]) -> Any:
    if served.traces is None:
        raise TraceStoreUnavailable(f"workspace {served.name!r} has no trace store open")
    served.saved()  # what was answered before this read is in the store
    with served.store_lock:
        return read(served.traces)


@router.get("/traces", response_model=m.ExecutionsOut)
async def traces(
    served: Workspace = VIEWER,
    limit: int = Query(20, ge=1, le=1000, description="How many, newest first."),
) -> dict[str, Any]:
    """Recent executions, newest first."""
    rows = await asyncio.to_thread(_with_store, served, lambda s: s.executions(limit))
    return {"workspace": served.name, "executions": [e.to_json() for e in rows]}


@router.get("/traces/{trace_id}", response_model=m.TraceOut)
async def trace(
    trace_id: str = PathParam(description="A trace id or a unique prefix (4+ hex digits)."),
    served: Workspace = VIEWER,
) -> dict[str, Any]:
    """One execution and all of its spans, in start order."""
    execution, spans = await asyncio.to_thread(_with_store, served, lambda s: s.trace(trace_id))
    return {"execution": execution.to_json(), "spans": [s.to_json() for s in spans]}
