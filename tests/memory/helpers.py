"""Small helpers shared by the memory tests."""

from __future__ import annotations

from caxton.memory.store import SearchHit


def name_of(hit: SearchHit) -> str | None:
    """The name of an entity hit (None for relations and interactions)."""
    name = getattr(hit.item, "name", None)
    return name if isinstance(name, str) else None
