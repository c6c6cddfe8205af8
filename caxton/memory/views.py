"""Memory as JSON: the one shape the CLI's `--json`, the HTTP API and the TUI all show."""

from __future__ import annotations

from typing import Any

from caxton.memory.store import Entity, Graph, Relation, SearchHit


def entity_json(e: Entity) -> dict[str, Any]:
    return {
        "name": e.name,
        "type": e.type,
        "observations": list(e.observations),
        "scope": e.scope.to_json(),
        "created_at": e.created_at.isoformat(),
        "updated_at": e.updated_at.isoformat(),
    }


def relation_json(r: Relation) -> dict[str, Any]:
    return {
        "from": r.from_name,
        "to": r.to_name,
        "type": r.type,
        "strength": r.strength,
        "confidence": r.confidence,
        "valid_from": r.valid_from.isoformat() if r.valid_from else None,
        "valid_to": r.valid_to.isoformat() if r.valid_to else None,
        "scope": r.scope.to_json(),
    }


def graph_json(graph: Graph) -> dict[str, Any]:
    return {
        "entities": [entity_json(e) for e in graph.entities],
        "relations": [relation_json(r) for r in graph.relations],
    }


def hit_json(hit: SearchHit) -> dict[str, Any]:
    """A search hit: its kind and scores, then the item's own fields."""
    item = hit.item
    if isinstance(item, Entity):
        body = entity_json(item)
    elif isinstance(item, Relation):
        body = relation_json(item)
    else:
        body = {
            "agent": item.agent,
            "request": item.request,
            "response": item.response,
            "scope": item.scope.to_json(),
            "created_at": item.created_at.isoformat(),
        }
    return {
        "kind": hit.kind,
        "score": round(hit.score, 4),
        "vector_score": round(hit.vector_score, 4),
        "keyword_score": round(hit.keyword_score, 4),
        **body,
    }
