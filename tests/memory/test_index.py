"""The search index agrees with a plain numpy brute force, through adds, updates and deletes."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from caxton.memory.index import Partition, VectorIndex, tokens


@dataclass(frozen=True)
class Doc:
    id: int
    text: str = ""


def docs(ids: range | list[int], texts: list[str] | None = None) -> list[Doc]:
    return [Doc(i, texts[n] if texts else "") for n, i in enumerate(ids)]


def part(dim: int) -> Partition:
    return Partition(dim, lambda d: d.text)


def unit(rng: np.random.Generator, n: int, dim: int = 16) -> np.ndarray:
    v = rng.normal(size=(n, dim)).astype(np.float32)
    out: np.ndarray = v / np.linalg.norm(v, axis=1, keepdims=True)
    return out


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(1, 1500), st.data())
def test_top_k_matches_brute_force(seed: int, n: int, data: st.DataObject) -> None:
    rng = np.random.default_rng(seed)
    vectors = unit(rng, n)
    p = part(16)
    p.add(docs(range(n)), vectors)
    deleted = set(data.draw(st.lists(st.integers(0, n - 1), max_size=n // 2)))
    for i in deleted:
        p.remove(i)
    query = unit(rng, 1)[0]
    k = data.draw(st.integers(1, 20))
    hits = p.search(query, frozenset(), k, -2.0)
    alive = np.array([i for i in range(n) if i not in deleted])
    if len(alive) == 0:
        assert hits == []
        return
    scores = vectors[alive] @ query
    expected = alive[np.argsort(-scores, kind="stable")[:k]]
    assert [h.id for h in hits] == [int(i) for i in expected]  # random floats: no ties


def test_keyword_coverage_lifts_rows_that_contain_the_words() -> None:
    p = part(4)
    vectors = np.eye(4, dtype=np.float32)
    p.add(docs([1, 2, 3], ["alpha beta", "gamma", "alpha"]), vectors[:3])
    hits = p.search(np.array([0, 0, 0, 1], np.float32), tokens("alpha beta"), 3, -1.0)
    assert [h.id for h in hits] == [1, 3, 2]
    assert hits[0].keyword_score == 1.0 and hits[0].vector_score == 0.0
    assert hits[-1].score == 0.0


def test_updates_replace_vectors_and_words() -> None:
    p = part(4)
    p.add([Doc(7, "old words")], np.eye(4, dtype=np.float32)[:1])
    p.add([Doc(7, "new words")], np.eye(4, dtype=np.float32)[1:2])
    assert len(p) == 1
    assert "old" not in p.postings
    hit = p.search(np.eye(4, dtype=np.float32)[1], frozenset(), 1, 0.5)[0]
    assert (hit.id, hit.item.text) == (7, "new words")


def test_partitions_are_separate() -> None:
    index = VectorIndex(4, lambda d: d.text)
    v = np.eye(4, dtype=np.float32)
    index.add(("agent", "a"), [Doc(1, "x")], v[:1])
    index.add(("agent", "b"), [Doc(2, "x")], v[:1])
    assert [h.id for h in index.search([("agent", "a")], v[0], frozenset(), 5, -1)] == [1]
    assert {h.id for h in index.search(list(index.partitions), v[0], frozenset(), 5, -1)} == {1, 2}


def test_compaction_keeps_the_survivors() -> None:
    rng = np.random.default_rng(3)
    vectors = unit(rng, 3000)
    p = part(16)
    p.add(docs(range(3000), [f"w{i}" for i in range(3000)]), vectors)
    for i in range(2000):
        p.remove(i)
    assert p.size < 3000  # compacted
    hits = p.search(vectors[2500], tokens("w2500"), 1, -1)
    assert hits[0].id == 2500 and hits[0].keyword_score == 1.0
