"""In-memory search index mirrored from the store: exact vector scan plus keyword coverage.

One partition per scope, so a scoped search scans exactly that scope's rows and always returns
its true top k (nothing is filtered after the fact). Vectors are L2-normalised float32 rows in a
growable matrix; a search is one matrix-vector product. Keywords boost the vector score by how
much of the query's (IDF-weighted) vocabulary a row contains:
`score = cosine + KEYWORD_WEIGHT * coverage * (1 - cosine)`, so a row with no keyword match keeps
its plain cosine similarity and `min_similarity` keeps its meaning.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

KEYWORD_WEIGHT = 0.5
_TOKEN = re.compile(r"[a-z0-9][a-z0-9_.-]*[a-z0-9]|[a-z0-9]")
_STOPWORDS_TEXT = """
a an and are as at be but by can could do does for from has have how i if in into is it its me
my no not of on or our please so that the their them then there these they this to us was we
were what when where which who why will with would you your
"""
STOPWORDS = frozenset(_STOPWORDS_TEXT.split())

Vector = npt.NDArray[np.float32]


def tokens(text: str) -> frozenset[str]:
    """Searchable words: lowercase, stopwords and one-letter words dropped."""
    return frozenset(t for t in _TOKEN.findall(text.lower()) if len(t) > 1 and t not in STOPWORDS)


@dataclass(frozen=True, slots=True)
class Hit:
    id: int
    score: float
    vector_score: float
    keyword_score: float
    item: Any


def _identity_text(item: Any) -> str:
    return str(item)


class Partition:
    """The rows of one scope: vectors, ids, the items themselves, and an index of their words.

    Items are kept beside their vectors so a search answers without going back to DuckDB, whose
    point lookups scan (15-20 ms at 100k rows).
    """

    def __init__(self, dim: int, text_of: Callable[[Any], str] = _identity_text) -> None:
        self.dim = dim
        self.text_of = text_of
        self.vectors = np.zeros((16, dim), dtype=np.float32)
        self.ids = np.zeros(16, dtype=np.int64)
        self.alive = np.zeros(16, dtype=bool)
        self.size = 0  # rows used, alive or not
        self.row_of: dict[int, int] = {}
        self.items: list[Any] = []
        self.postings: dict[str, set[int]] = {}
        self._arrays: dict[str, npt.NDArray[np.intp]] = {}

    def __len__(self) -> int:
        return len(self.row_of)

    def add(self, items: Sequence[Any], vectors: Vector) -> None:
        """Add or replace items (each has an `id`) with their vectors."""
        for item, vector in zip(items, vectors, strict=True):
            row = self.row_of.get(item.id)
            if row is None:
                row = self._append_row(item.id)
            else:
                self._unindex(row)
            self.vectors[row] = vector
            self.items[row] = item
            for word in tokens(self.text_of(item)):
                self.postings.setdefault(word, set()).add(row)
                self._arrays.pop(word, None)

    def get(self, item_id: int) -> Any:
        row = self.row_of.get(item_id)
        return None if row is None else self.items[row]

    def remove(self, item_id: int) -> None:
        row = self.row_of.pop(item_id, None)
        if row is None:
            return
        self.alive[row] = False
        self.vectors[row] = 0.0
        self._unindex(row)
        self.items[row] = None
        if self.size > 1024 and len(self.row_of) < self.size // 2:
            self._compact()

    def search(
        self, query: Vector, query_words: frozenset[str], limit: int, min_score: float
    ) -> list[Hit]:
        if not self.row_of or limit <= 0:
            return []
        n = self.size
        cosine = self.vectors[:n] @ query
        coverage = self._coverage(query_words, n)
        if coverage is None:
            score = cosine.copy()
        else:
            score = cosine + KEYWORD_WEIGHT * coverage * (1.0 - cosine)
        if len(self.row_of) < n:
            score[~self.alive[:n]] = -np.inf
        k = min(limit, len(self.row_of))
        top = np.argpartition(-score, k - 1)[:k] if k < n else np.arange(n)
        top = top[np.argsort(-score[top], kind="stable")]
        hits = []
        for row in top:
            value = float(score[row])
            if value == -np.inf or value < min_score:
                break
            hits.append(
                Hit(
                    int(self.ids[row]),
                    value,
                    float(cosine[row]),
                    float(coverage[row]) if coverage is not None else 0.0,
                    self.items[row],
                )
            )
        return hits

    def _coverage(self, query_words: frozenset[str], n: int) -> npt.NDArray[np.float32] | None:
        """Per row, the IDF-weighted share of the query's words it contains (None: no row)."""
        if not query_words:
            return None
        docs = len(self.row_of)
        total = 0.0
        arrays, weights = [], []
        for word in query_words:
            rows = self.postings.get(word)
            weight = math.log(1.0 + docs / (1.0 + (len(rows) if rows else 0)))
            total += weight
            if rows:
                arrays.append(self._posting_array(word))
                weights.append(weight)
        if not arrays or total <= 0:
            return None
        lengths = [len(a) for a in arrays]
        coverage = np.bincount(
            np.concatenate(arrays),
            minlength=n,
            weights=np.repeat(np.array(weights) / total, lengths),
        )
        return coverage.astype(np.float32)

    def _posting_array(self, word: str) -> npt.NDArray[np.intp]:
        array = self._arrays.get(word)
        if array is None:
            array = np.fromiter(self.postings[word], dtype=np.intp)
            self._arrays[word] = array
        return array

    def _append_row(self, item_id: int) -> int:
        if self.size == len(self.ids):
            grow = len(self.ids)
            self.vectors = np.vstack([self.vectors, np.zeros((grow, self.dim), np.float32)])
            self.ids = np.concatenate([self.ids, np.zeros(grow, np.int64)])
            self.alive = np.concatenate([self.alive, np.zeros(grow, bool)])
        row = self.size
        self.size += 1
        self.ids[row] = item_id
        self.alive[row] = True
        self.row_of[item_id] = row
        self.items.append(None)
        return row

    def _unindex(self, row: int) -> None:
        item = self.items[row]
        if item is None:
            return
        for word in tokens(self.text_of(item)):
            rows = self.postings.get(word)
            if rows is not None:
                rows.discard(row)
                if not rows:
                    del self.postings[word]
                self._arrays.pop(word, None)

    def _compact(self) -> None:
        keep = np.flatnonzero(self.alive[: self.size])
        fresh = Partition(self.dim, self.text_of)
        fresh.add([self.items[row] for row in keep], self.vectors[keep])
        self.__dict__.update(fresh.__dict__)


class VectorIndex:
    """Partitions by scope key; a search names its partition, or all of them explicitly."""

    def __init__(self, dim: int, text_of: Callable[[Any], str] = _identity_text) -> None:
        self.dim = dim
        self.text_of = text_of
        self.partitions: dict[tuple[str, str], Partition] = {}

    def __len__(self) -> int:
        return sum(len(p) for p in self.partitions.values())

    def add(self, key: tuple[str, str], items: Sequence[Any], vectors: Vector) -> None:
        partition = self.partitions.get(key)
        if partition is None:
            partition = self.partitions[key] = Partition(self.dim, self.text_of)
        partition.add(items, vectors)

    def get(self, key: tuple[str, str], item_id: int) -> Any:
        partition = self.partitions.get(key)
        return None if partition is None else partition.get(item_id)

    def remove(self, key: tuple[str, str], item_id: int) -> None:
        partition = self.partitions.get(key)
        if partition is not None:
            partition.remove(item_id)

    def search(
        self,
        keys: Iterable[tuple[str, str]],
        query: Vector,
        query_words: frozenset[str],
        limit: int,
        min_score: float,
    ) -> list[Hit]:
        hits: list[Hit] = []
        for key in keys:
            partition = self.partitions.get(key)
            if partition is not None:
                hits += partition.search(query, query_words, limit, min_score)
        hits.sort(key=lambda h: -h.score)
        return hits[:limit]

    def nbytes(self) -> int:
        return sum(p.vectors.nbytes + p.ids.nbytes for p in self.partitions.values())
