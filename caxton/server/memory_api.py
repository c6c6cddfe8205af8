"""Routes for a workspace's memory: search, entities, relations, stats, export and import.

Every route names one scope with `?scope=` (agent, workspace or global; `agent` also needs
`?agent=NAME`), like `caxton memory`; the workspace scope is the default. Memory work (DuckDB
and embedding) runs in a thread, never on the event loop.
"""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Body, Query
from fastapi import Path as PathParam

from caxton.errors import UsageError
from caxton.memory.scope import Scope
from caxton.server import models as m
from caxton.server.access import DEPLOYER, VIEWER
from caxton.server.state import Workspace

router = APIRouter(prefix="/api/v1/workspaces/{ws}/memory", tags=["memory"], responses=m.ERRORS)

SCOPE = Query("workspace", description="The memory scope: agent, workspace or global.")
AGENT = Query(None, pattern=m.NAME, description="The agent, with `scope=agent`.")


def _scope(served: Workspace, kind: m.ScopeKind, agent: str | None) -> Scope:
    if kind == "agent" and not agent:
        raise UsageError("scope `agent` needs an agent", "add `&agent=NAME` to the query")
    if kind != "agent" and agent:
        raise UsageError(
            f"`agent` applies to scope `agent`, not {kind!r}",
            f"drop `agent`, or use `scope=agent&agent={agent}`",
        )
    return Scope.of(kind, agent=agent or "", workspace=served.name)


def _store(served: Workspace) -> Any:
    assert served.runtime is not None
    return served.runtime.memory


@router.get("/search", response_model=m.SearchOut)
async def search(
    q: str = Query(..., min_length=1, max_length=2_000, description="What to look for."),
    scope: m.ScopeKind = SCOPE,
    agent: str | None = AGENT,
    limit: int = Query(10, ge=1, le=100),
    min_similarity: float = Query(0.0, ge=-1.0, le=1.0),
    served: Workspace = VIEWER,
) -> dict[str, Any]:
    """Hybrid search (meaning and keywords) over entities, relations and interactions."""
    from caxton.memory.views import hit_json

    chosen = _scope(served, scope, agent)

    def run() -> list[dict[str, Any]]:
        hits = _store(served).search(
            chosen, q, limit=limit, min_similarity=min_similarity,
            kinds=("entity", "relation", "interaction"),
        )  # fmt: skip
        return [hit_json(h) for h in hits]

    return {"workspace": served.name, "hits": await asyncio.to_thread(run)}


@router.get("/entities", response_model=m.EntitiesOut)
async def entities(
    scope: m.ScopeKind = SCOPE, agent: str | None = AGENT, served: Workspace = VIEWER
) -> dict[str, Any]:
    """Every entity in the scope, by name."""
    from caxton.memory.views import entity_json

    chosen = _scope(served, scope, agent)
    found = await asyncio.to_thread(lambda: _store(served).entities(chosen))
    return {
        "workspace": served.name,
        "scope": chosen.to_json(),
        "entities": [entity_json(e) for e in sorted(found, key=lambda e: e.name)],
    }


@router.get("/entities/{name:path}", response_model=m.GraphOut)
async def entity(
    name: str = PathParam(min_length=1, max_length=200),
    depth: int = Query(1, ge=0, le=10, description="Relations to follow."),
    scope: m.ScopeKind = SCOPE,
    agent: str | None = AGENT,
    served: Workspace = VIEWER,
) -> dict[str, Any]:
    """An entity with its neighbours, following relations `depth` steps."""
    from caxton.memory.views import graph_json

    chosen = _scope(served, scope, agent)
    graph = await asyncio.to_thread(lambda: _store(served).neighbours(chosen, name, depth))
    return {"workspace": served.name, "scope": chosen.to_json(), **graph_json(graph)}


@router.post("/entities", response_model=m.EntitiesOut)
async def add_entities(
    body: m.EntitiesIn,
    scope: m.ScopeKind = SCOPE,
    agent: str | None = AGENT,
    served: Workspace = DEPLOYER,
) -> dict[str, Any]:
    """Create entities, or add observations to existing ones (matched by name)."""
    from caxton.memory.views import entity_json

    chosen = _scope(served, scope, agent)
    items = [(e.name, e.type, list(e.observations)) for e in body.entities]
    stored = await asyncio.to_thread(lambda: _store(served).upsert_entities(chosen, items))
    return {
        "workspace": served.name,
        "scope": chosen.to_json(),
        "entities": [entity_json(e) for e in stored],
    }


@router.get("/relations", response_model=m.RelationsOut)
async def relations(
    scope: m.ScopeKind = SCOPE, agent: str | None = AGENT, served: Workspace = VIEWER
) -> dict[str, Any]:
    """Every relation in the scope."""
    from caxton.memory.views import relation_json

    chosen = _scope(served, scope, agent)
    found = await asyncio.to_thread(lambda: _store(served).relations(chosen))
    return {
        "workspace": served.name,
        "scope": chosen.to_json(),
        "relations": [relation_json(r) for r in found],
    }


@router.post("/relations", response_model=m.RelationsOut)
async def add_relations(
    body: m.RelationsIn,
    scope: m.ScopeKind = SCOPE,
    agent: str | None = AGENT,
    served: Workspace = DEPLOYER,
) -> dict[str, Any]:
    """Relate existing entities (404 names any that do not exist); an existing relation is
    updated in place."""
    from caxton.memory.store import NewRelation
    from caxton.memory.views import relation_json

    chosen = _scope(served, scope, agent)
    items = [NewRelation(r.from_, r.to, r.type, r.strength, r.confidence) for r in body.relations]
    stored = await asyncio.to_thread(lambda: _store(served).create_relations(chosen, items))
    return {
        "workspace": served.name,
        "scope": chosen.to_json(),
        "relations": [relation_json(r) for r in stored],
    }


@router.get("/stats", response_model=m.StatsOut)
async def stats(served: Workspace = VIEWER) -> dict[str, Any]:
    """Counts per scope and entity types."""
    figures = await asyncio.to_thread(lambda: _store(served).stats())
    keep = ("entities", "relations", "interactions", "scopes", "entity_types")
    return {"workspace": served.name, **{k: figures[k] for k in keep}}


@router.get("/export")
async def export(
    scope: m.ScopeKind | None = Query(None, description="One scope (default: every scope)."),
    agent: str | None = AGENT,
    served: Workspace = VIEWER,
) -> dict[str, Any]:
    """The memory as the JSON document `caxton memory export` writes (every scope, or one)."""
    from caxton.memory.transfer import export_memory

    if scope is None and agent:
        raise UsageError("`agent` needs `scope=agent`", f"use `scope=agent&agent={agent}`")
    chosen = _scope(served, scope, agent) if scope is not None else None
    return await asyncio.to_thread(lambda: export_memory(_store(served), chosen))


@router.post("/import", response_model=m.ImportedOut)
async def import_(
    document: dict[str, Any] = Body(..., description="A document from `GET memory/export`."),
    served: Workspace = DEPLOYER,
) -> dict[str, Any]:
    """Import an export: every record is checked first, and it is all or nothing (a bad
    document is a 422 naming the record, and nothing is imported)."""
    from caxton.memory.transfer import import_memory

    counts: dict[str, Any] = await asyncio.to_thread(
        lambda: import_memory(_store(served), document)
    )
    return counts
