"""The memory store on real DuckDB files: CRUD, graph reads, search, scopes, reopening."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest

from caxton.errors import ConflictError, NotFoundError, UsageError
from caxton.memory.embedder import Embedder
from caxton.memory.scope import Scope
from caxton.memory.store import MemoryStore, NewRelation
from tests.memory.helpers import name_of

WS = Scope("workspace", "demo")
ALICE = Scope("agent", "alice")
BOB = Scope("agent", "bob")
GLOBAL = Scope("global", "*")


@pytest.fixture
def store(tmp_path: Path, embedder: Embedder) -> Iterator[MemoryStore]:
    opened = MemoryStore.open(tmp_path / "memory.duckdb", embedder)
    yield opened
    opened.close()


def seed(store: MemoryStore, scope: Scope = WS) -> None:
    store.upsert_entities(
        scope,
        [
            ("billing", "service", ["issues invoices to customers", "written in Go"]),
            ("checkout", "service", ["takes card payments on the web shop"]),
            ("alice", "person", ["on call for payments this week"]),
        ],
    )
    store.create_relations(
        scope,
        [
            NewRelation("checkout", "billing", "depends_on", 0.8, 0.9),
            NewRelation("alice", "billing", "owns"),
        ],
    )


def test_entities_are_created_merged_and_read(store: MemoryStore) -> None:
    seed(store)
    entity = store.entity(WS, "billing")
    assert entity.type == "service"
    assert entity.observations == ("issues invoices to customers", "written in Go")
    again = store.upsert_entities(WS, [("billing", "service", ["written in Go", "runs on k8s"])])
    assert again[0].observations[-1] == "runs on k8s"
    assert again[0].observations.count("written in Go") == 1
    assert again[0].id == entity.id


def test_observations_added_and_removed(store: MemoryStore) -> None:
    seed(store)
    store.add_observations(WS, "checkout", ["p95 latency 300 ms"])
    after = store.remove_observations(WS, "checkout", ["takes card payments on the web shop"])
    assert after.observations == ("p95 latency 300 ms",)
    top = store.search(WS, "card payments web shop", limit=1, kinds=("entity",))
    assert name_of(top[0]) != "checkout" or top[0].score < 0.9


def test_rename_and_retype_keep_relations(store: MemoryStore) -> None:
    seed(store)
    renamed = store.update_entity(WS, "billing", new_name="invoicing", new_type="system")
    assert (renamed.name, renamed.type) == ("invoicing", "system")
    graph = store.open_nodes(WS, ["invoicing"])
    assert {(r.from_name, r.to_name) for r in graph.relations} == {
        ("checkout", "invoicing"),
        ("alice", "invoicing"),
    }
    with pytest.raises(ConflictError):
        store.update_entity(WS, "checkout", new_name="alice")


def test_delete_entity_takes_its_relations(store: MemoryStore) -> None:
    seed(store)
    assert store.delete_entities(WS, ["billing", "nope"]) == 1
    assert store.relations(WS) == []
    with pytest.raises(NotFoundError):
        store.entity(WS, "billing")
    assert all(name_of(h) != "billing" for h in store.search(WS, "invoices", kinds=("entity",)))


def test_relations_need_both_ends_and_sane_numbers(store: MemoryStore) -> None:
    seed(store)
    with pytest.raises(NotFoundError, match="'ghost'"):
        store.create_relations(WS, [NewRelation("checkout", "ghost", "calls")])
    with pytest.raises(UsageError, match="between 0 and 1"):
        store.create_relations(WS, [NewRelation("checkout", "billing", "calls", strength=2.0)])
    later, earlier = dt.datetime(2026, 2, 1), dt.datetime(2026, 1, 1)
    with pytest.raises(UsageError, match="valid_to"):
        store.create_relations(
            WS, [NewRelation("checkout", "billing", "calls", valid_from=later, valid_to=earlier)]
        )
    store.create_relations(WS, [NewRelation("checkout", "billing", "depends_on", 0.3)])
    updated = [r for r in store.relations(WS) if r.type == "depends_on"]
    assert len(updated) == 1 and updated[0].strength == 0.3
    assert store.delete_relations(WS, [("checkout", "billing", "depends_on")]) == 1


def test_neighbours_to_depth(store: MemoryStore) -> None:
    seed(store)
    store.upsert_entities(WS, [("ledger", "database", ["postgres"])])
    store.create_relations(WS, [NewRelation("billing", "ledger", "writes_to")])
    assert {e.name for e in store.neighbours(WS, "checkout", 0).entities} == {"checkout"}
    assert {e.name for e in store.neighbours(WS, "checkout", 1).entities} == {"checkout", "billing"}
    two = store.neighbours(WS, "checkout", 2)
    assert {e.name for e in two.entities} == {"checkout", "billing", "alice", "ledger"}
    assert len(two.relations) == 3


def test_search_ranks_by_meaning_and_keywords(store: MemoryStore) -> None:
    seed(store)
    hits = store.search(WS, "who handles customer invoices?", kinds=("entity",))
    assert name_of(hits[0]) == "billing"
    assert hits[0].score >= hits[0].vector_score
    store.upsert_entities(WS, [("INC-4711", "incident", ["checkout outage"])])
    exact = store.search(WS, "inc-4711", limit=1, kinds=("entity",))
    assert name_of(exact[0]) == "INC-4711"
    assert exact[0].keyword_score > 0
    assert store.search(WS, "invoices", min_similarity=0.99) == []


def test_interactions_are_stored_and_searchable(store: MemoryStore) -> None:
    store.store_interaction(ALICE, "alice", "what is our refund policy?", "30 days, no questions")
    hits = store.search(ALICE, "refund policy", kinds=("interaction",))
    assert hits[0].kind == "interaction"
    assert store.interactions(ALICE)[0].response == "30 days, no questions"


@pytest.mark.parametrize("reader", [BOB, WS, GLOBAL, Scope("workspace", "other")])
def test_scopes_never_leak(store: MemoryStore, reader: Scope) -> None:
    store.upsert_entities(ALICE, [("alice-secret", "note", ["the vault code is 1234"])])
    store.store_interaction(ALICE, "alice", "remember the vault code", "1234")
    assert (
        store.search(reader, "vault code 1234", kinds=("entity", "relation", "interaction")) == []
    )
    assert store.entities(reader) == []
    assert store.interactions(reader) == []
    with pytest.raises(NotFoundError):
        store.entity(reader, "alice-secret")
    with pytest.raises(NotFoundError):
        store.neighbours(reader, "alice-secret")
    assert store.delete_entities(reader, ["alice-secret"]) == 0
    assert store.entity(ALICE, "alice-secret").observations == ("the vault code is 1234",)


def test_same_name_in_two_scopes_are_two_entities(store: MemoryStore) -> None:
    store.upsert_entities(ALICE, [("plan", "note", ["alice's plan"])])
    store.upsert_entities(BOB, [("plan", "note", ["bob's plan"])])
    assert store.entity(ALICE, "plan").observations == ("alice's plan",)
    assert store.entity(BOB, "plan").observations == ("bob's plan",)
    all_scopes = store.search(None, "plan", kinds=("entity",))
    assert {h.item.scope for h in all_scopes} == {ALICE, BOB}


def test_scoped_search_returns_full_results_among_many_others(store: MemoryStore) -> None:
    store.upsert_entities(WS, [(f"noise-{i}", "note", [f"payments note {i}"]) for i in range(300)])
    store.upsert_entities(ALICE, [(f"mine-{i}", "note", [f"payments note {i}"]) for i in range(15)])
    hits = store.search(ALICE, "payments note", limit=10, kinds=("entity",))
    assert len(hits) == 10
    assert all(h.item.scope == ALICE for h in hits)


def test_reopening_restores_data_and_index(tmp_path: Path, embedder: Embedder) -> None:
    path = tmp_path / "memory.duckdb"
    with MemoryStore.open(path, embedder) as first:
        seed(first)
        first.store_interaction(WS, "alice", "hello", "hi")
    with MemoryStore.open(path, embedder) as second:
        found = second.search(WS, "invoices", limit=1, kinds=("entity",))
        assert name_of(found[0]) == "billing"
        stats = second.stats()
        assert (stats["entities"], stats["relations"], stats["interactions"]) == (3, 2, 1)
        assert stats["migrations"] == ["m001_initial"]


def test_failed_transaction_leaves_store_and_index_as_they_were(store: MemoryStore) -> None:
    seed(store)
    before = store.search(WS, "invoices", kinds=("entity",))
    with pytest.raises(RuntimeError), store.transaction():
        store._con.execute("DELETE FROM entities")
        raise RuntimeError("crash in the middle")
    assert [name_of(h) for h in store.search(WS, "invoices", kinds=("entity",))] == [
        name_of(h) for h in before
    ]
