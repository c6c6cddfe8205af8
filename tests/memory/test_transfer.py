"""JSON export/import: lossless round trips, and bad records that name themselves."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from caxton.memory.embedder import Embedder
from caxton.memory.scope import Scope
from caxton.memory.store import MemoryStore, NewRelation
from caxton.memory.transfer import BadImport, export_memory, import_memory
from tests.memory.helpers import name_of

WS = Scope("workspace", "demo")
ALICE = Scope("agent", "alice")


@pytest.fixture
def filled(tmp_path: Path, embedder: Embedder) -> Iterator[MemoryStore]:
    store = MemoryStore.open(tmp_path / "a.duckdb", embedder)
    store.upsert_entities(
        WS, [("billing", "service", ["invoices", 'Go; "quoted" ✓']), ("checkout", "service", [])]
    )
    store.upsert_entities(ALICE, [("todo", "note", ["buy milk"])])
    store.upsert_entities(Scope("global", "*"), [("company", "org", ["ACME"])])
    store.create_relations(WS, [NewRelation("checkout", "billing", "depends_on", 0.25, 0.5)])
    store.store_interaction(ALICE, "alice", "what's on my list?", "buy milk")
    yield store
    store.close()


def test_round_trip_is_lossless(filled: MemoryStore, tmp_path: Path, embedder: Embedder) -> None:
    document = export_memory(filled)
    json.loads(json.dumps(document))  # plain JSON
    with MemoryStore.open(tmp_path / "b.duckdb", embedder) as other:
        counts = import_memory(other, document)
        assert counts == {"entities": 4, "relations": 1, "interactions": 1}
        assert export_memory(other) == document
        assert name_of(other.search(WS, "invoices", limit=1)[0]) == "billing"


def test_importing_twice_changes_nothing(filled: MemoryStore) -> None:
    document = export_memory(filled)
    import_memory(filled, document)
    assert export_memory(filled) == document


def test_export_of_one_scope(filled: MemoryStore) -> None:
    document = export_memory(filled, ALICE)
    assert [e["name"] for e in document["entities"]] == ["todo"]
    assert len(document["interactions"]) == 1 and document["relations"] == []


def broken(document: dict[str, Any], path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    changed = copy.deepcopy(document)
    target = changed
    for part in path[:-1]:
        target = target[part]
    if value is KeyError:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return changed


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (("entities", 1, "name"), KeyError, "entities[1]: missing 'name'"),
        (("entities", 0, "observations"), "x", "entities[0] ('todo'): 'observations' must be"),
        (
            ("entities", 2, "scope"),
            {"kind": "team", "owner": "x"},
            "entities[2] ('billing'): \"scope\"",
        ),
        (("entities", 0, "created_at"), "yesterday", "not an ISO date-time"),
        (("relations", 0, "strength"), 7, "relations[0] ('checkout'): 'strength' is 7.0"),
        (("relations", 0, "to"), "ghost", "no entity 'ghost'"),
        (("interactions", 0), "text", "interactions[0]: must be a JSON object"),
        (("format",), "other", "\"format\" is 'other'"),
        (("version",), 99, "version 99"),
    ],
)
def test_a_bad_record_names_itself_and_nothing_is_imported(
    filled: MemoryStore,
    tmp_path: Path,
    embedder: Embedder,
    path: tuple[Any, ...],
    value: Any,
    message: str,
) -> None:
    document = broken(export_memory(filled), path, value)
    with MemoryStore.open(tmp_path / "c.duckdb", embedder) as target:
        target.upsert_entities(WS, [("existing", "thing", ["stays"])])
        before = export_memory(target)
        with pytest.raises(BadImport) as caught:
            import_memory(target, document)
        assert message in caught.value.message
        assert "nothing was imported" in caught.value.message
        assert export_memory(target) == before


def test_a_failure_while_writing_rolls_back_everything(
    filled: MemoryStore, tmp_path: Path, embedder: Embedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    document = export_memory(filled)
    with MemoryStore.open(tmp_path / "d.duckdb", embedder) as target:
        calls = {"n": 0}
        real = target._import_entity

        def fail_on_third(*args: Any) -> None:
            calls["n"] += 1
            if calls["n"] == 3:
                raise OSError("disk full")
            real(*args)

        monkeypatch.setattr(target, "_import_entity", fail_on_third)
        with pytest.raises(OSError):
            import_memory(target, document)
        assert target.stats()["entities"] == 0
        assert target.search(None, "invoices") == []
