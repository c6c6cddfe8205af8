"""The memory tools an agent calls: search, store, relate, open. They run in the host, in the
agent's own scope (`[memory] scope`), which is the only scope they can reach."""

from __future__ import annotations

import json
from typing import Any

from caxton.memory.scope import Scope
from caxton.memory.store import Entity, Interaction, MemoryStore, NewRelation, Relation


def call_memory_tool(
    store: MemoryStore,
    scope: Scope,
    name: str,
    arguments: dict[str, Any],
    *,
    min_similarity: float = 0.0,
) -> str:
    """The tool's answer as JSON text; a CaxtonError (or ValueError) when it cannot be done."""
    if name == "memory_search":
        hits = store.search(
            scope,
            arguments["query"],
            limit=int(arguments.get("limit", 10)),
            min_similarity=min_similarity,
        )
        return _dump([{"kind": h.kind, "score": round(h.score, 3), **_item(h.item)} for h in hits])
    if name == "memory_store":
        entity = store.upsert_entities(
            scope,
            [(arguments["name"], arguments.get("type") or "note", list(arguments["observations"]))],
        )[0]
        return _dump({"stored": _item(entity)})
    if name == "memory_relate":
        relation = store.create_relations(
            scope,
            [
                NewRelation(
                    arguments["from"],
                    arguments["to"],
                    arguments["type"],
                    strength=float(arguments.get("strength", 1.0)),
                )
            ],
        )[0]
        return _dump({"related": _item(relation)})
    if name == "memory_open":
        graph = store.open_nodes(scope, list(arguments["names"]))
        return _dump(
            {
                "entities": [_item(e) for e in graph.entities],
                "relations": [_item(r) for r in graph.relations],
            }
        )
    raise ValueError(f"{name!r} is not a memory tool")


def _item(item: Entity | Relation | Interaction) -> dict[str, Any]:
    if isinstance(item, Entity):
        return {"name": item.name, "type": item.type, "observations": list(item.observations)}
    if isinstance(item, Relation):
        return {
            "from": item.from_name,
            "to": item.to_name,
            "type": item.type,
            "strength": item.strength,
        }
    return {"agent": item.agent, "request": item.request, "response": item.response}


def _dump(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
