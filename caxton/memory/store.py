"""The memory store: a knowledge graph with vectors in one DuckDB file, owned by one process.

DuckDB is the source of truth. Search runs over an in-memory index mirrored from it at open
time and kept in step by every write (see `index.py` for why). All reads and writes name a
`Scope`; `Scope.where()` is the only way a filter is built.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from caxton.duckdb_files import lock_holder
from caxton.errors import CaxtonError, ConflictError, ExitCode, NotFoundError, UsageError
from caxton.memory.index import VectorIndex, tokens
from caxton.memory.migrations import applied_migrations, migrate, unknown_migrations
from caxton.memory.scope import Scope

if TYPE_CHECKING:
    from caxton.memory.embedder import Embedder

Kind = Literal["entity", "relation", "interaction"]
KINDS: tuple[Kind, ...] = ("entity", "relation", "interaction")


class StoreUnavailable(CaxtonError):
    """The store file is held by another process, corrupt, or from a newer Caxton."""

    exit_code = ExitCode.UNAVAILABLE


@dataclass(frozen=True, slots=True)
class Entity:
    id: int
    scope: Scope
    name: str
    type: str
    observations: tuple[str, ...]
    created_at: dt.datetime
    updated_at: dt.datetime


@dataclass(frozen=True, slots=True)
class Relation:
    id: int
    scope: Scope
    from_name: str
    to_name: str
    type: str
    strength: float
    confidence: float
    valid_from: dt.datetime | None
    valid_to: dt.datetime | None
    created_at: dt.datetime


@dataclass(frozen=True, slots=True)
class Interaction:
    id: int
    scope: Scope
    agent: str
    request: str
    response: str
    created_at: dt.datetime


@dataclass(frozen=True, slots=True)
class SearchHit:
    kind: Kind
    score: float
    vector_score: float
    keyword_score: float
    item: Entity | Relation | Interaction


@dataclass(slots=True)
class Graph:
    entities: list[Entity] = field(default_factory=list)
    relations: list[Relation] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class NewRelation:
    from_name: str
    to_name: str
    type: str
    strength: float = 1.0
    confidence: float = 1.0
    valid_from: dt.datetime | None = None
    valid_to: dt.datetime | None = None


def entity_text(name: str, type_: str, observations: Iterable[str]) -> str:
    return f"{name} ({type_}): " + "; ".join(observations)


def relation_text(from_name: str, type_: str, to_name: str) -> str:
    return f"{from_name} {type_.replace('_', ' ')} {to_name}"


def interaction_text(request: str, response: str) -> str:
    return f"{request}\n{response}"


_COLUMNS: dict[Kind, tuple[str, str]] = {
    "entity": ("entities", "id, name, type, observations, created_at, updated_at"),
    "relation": (
        "relations",
        "id, from_name, to_name, type, strength, confidence, valid_from, valid_to, created_at",
    ),
    "interaction": ("interactions", "id, agent, request, response, created_at"),
}
_ITEM: dict[Kind, Callable[[Scope, Sequence[Any]], Any]] = {
    "entity": lambda scope, r: Entity(r[0], scope, r[1], r[2], tuple(r[3]), r[4], r[5]),
    "relation": lambda scope, r: Relation(r[0], scope, *r[1:]),
    "interaction": lambda scope, r: Interaction(r[0], scope, *r[1:]),
}
_TEXT_OF: dict[Kind, Callable[[Any], str]] = {
    "entity": lambda e: entity_text(e.name, e.type, e.observations),
    "relation": lambda r: relation_text(r.from_name, r.type, r.to_name),
    "interaction": lambda i: interaction_text(i.request, i.response),
}


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)


def _objects(values: Sequence[Any]) -> Any:
    """A 1-D numpy object array (lists stay lists; numpy would make equal lists a 2-D array)."""
    out = np.empty(len(values), dtype=object)
    for i, value in enumerate(values):
        out[i] = value
    return out


class MemoryStore:
    """One DuckDB file (or `:memory:`), its search index, and every memory operation."""

    def __init__(self, con: Any, path: Path | None, embedder: Embedder) -> None:
        self._con = con
        self.path = path
        self.embedder = embedder
        self._lock = threading.RLock()
        self._index: dict[Kind, VectorIndex] = {}
        # name -> entity per scope, mirrored like the index: point lookups in DuckDB scan
        self._names: dict[tuple[str, str], dict[str, Entity]] = {}
        self._reload()

    # ----- opening -------------------------------------------------------------------------

    @classmethod
    def open(cls, path: Path | None, embedder: Embedder | None = None) -> MemoryStore:
        """Open (creating and migrating if needed) the store at `path`; None is in-memory."""
        import duckdb

        from caxton.memory.embedder import get_embedder

        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
        try:
            con = duckdb.connect(str(path) if path is not None else ":memory:")
        except duckdb.IOException as exc:
            raise _open_error(path, str(exc)) from exc
        try:
            applied = applied_migrations(con)
            newer = unknown_migrations(applied)
            if newer:
                raise StoreUnavailable(
                    f"the memory store `{path}` was written by a newer Caxton "
                    f"(it has migration {newer[0]!r}, which this version does not know)",
                    "upgrade Caxton (`pip install -U caxton`), or export the memory with the "
                    "newer version and import it here",
                )
            migrate(con, applied)
            return cls(con, path, embedder or get_embedder())
        except BaseException:
            con.close()
            raise

    def close(self) -> None:
        with self._lock:
            self._con.close()

    def __enter__(self) -> MemoryStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _empty_index(self) -> dict[Kind, VectorIndex]:
        return {kind: VectorIndex(self.embedder.dim, _TEXT_OF[kind]) for kind in KINDS}

    def _reload(self) -> None:
        """Rebuild the whole mirror from DuckDB (after a rollback or an import)."""
        self._index = self._empty_index()
        self._names = {}
        self._load_index()

    def _load_index(self) -> None:
        for kind in KINDS:
            table = _COLUMNS[kind][0]
            for kind_, owner in self._con.execute(
                f"SELECT DISTINCT scope_kind, scope_owner FROM {table}"
            ).fetchall():
                self._sync(kind, Scope(kind_, owner))

    def _sync(self, kind: Kind, scope: Scope, ids: Sequence[int] | None = None) -> list[Any]:
        """Mirror rows of one scope from DuckDB: the given ids, or the whole scope.

        Ids no longer in the table leave the mirror. Returns the items loaded, in id order.
        """
        table, columns = _COLUMNS[kind]
        where, params = scope.where()
        sql = f"SELECT {columns}, embedding FROM {table} WHERE {where}"
        args: list[Any] = list(params)
        if ids is not None:
            if not ids:
                return []
            sql += " AND list_contains(?, id)"
            args.append(list(ids))
        rows = self._con.execute(sql + " ORDER BY id", args).fetchall()
        if ids is None:
            self._index[kind].partitions.pop(scope.key, None)
            if kind == "entity":
                self._names.pop(scope.key, None)
            gone: list[int] = []
        else:
            found = {row[0] for row in rows}
            gone = [item_id for item_id in ids if item_id not in found]
        items = [_ITEM[kind](scope, row[:-1]) for row in rows]
        vectors = np.frombuffer(b"".join(row[-1] for row in rows), dtype=np.float32)
        self._mirror(kind, scope, items, vectors.reshape(len(rows), self.embedder.dim), gone)
        return items

    def _mirror(
        self, kind: Kind, scope: Scope, items: Sequence[Any], vectors: Any, gone: Sequence[int] = ()
    ) -> None:
        """Put written items (and drop deleted ids) in the index and the name map."""
        index = self._index[kind]
        names = self._names.setdefault(scope.key, {}) if kind == "entity" else None
        for item_id in gone:
            old = index.get(scope.key, item_id)
            if names is not None and old is not None:
                names.pop(old.name, None)
            index.remove(scope.key, item_id)
        if items:
            if names is not None:
                for item in items:
                    old = index.get(scope.key, item.id)
                    if old is not None:
                        names.pop(old.name, None)
                    names[item.name] = item
            index.add(scope.key, items, vectors)

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """One DuckDB transaction; the index is rebuilt if it rolls back."""
        with self._lock:
            self._con.execute("BEGIN TRANSACTION")
            try:
                yield
                self._con.execute("COMMIT")
            except BaseException:
                self._con.execute("ROLLBACK")
                self._reload()
                raise

    def _ids(self, count: int) -> list[int]:
        rows = self._con.execute("SELECT nextval('memory_ids') FROM range(?)", [count]).fetchall()
        return [int(r[0]) for r in rows]

    # ----- entities --------------------------------------------------------------------------

    def upsert_entities(
        self, scope: Scope, items: Sequence[tuple[str, str, Sequence[str]]]
    ) -> list[Entity]:
        """Create entities, or add observations to (and retype) those that exist; batched."""
        with self._lock:
            names = [name for name, _, _ in items]
            _check_names(names, "entity")
            known = self._names.get(scope.key, {})
            existing = {n: known[n] for n in names if n in known}
            merged: dict[str, tuple[str, list[str]]] = {}
            for name, type_, observations in items:
                base = merged.get(name) or (
                    (existing[name].type, list(existing[name].observations))
                    if name in existing
                    else (type_, [])
                )
                obs = base[1] + [o for o in observations if o not in base[1]]
                merged[name] = (type_ or base[0], obs)
            now = _now()
            texts = [entity_text(n, t, o) for n, (t, o) in merged.items()]
            vectors = self.embedder.embed(texts)
            new_names = [n for n in merged if n not in existing]
            ids = dict(zip(new_names, self._ids(len(new_names)), strict=True))
            where, params = scope.where()
            with self.transaction():
                for (name, (type_, obs)), vector in zip(merged.items(), vectors, strict=True):
                    if name in existing:
                        self._con.execute(
                            f"UPDATE entities SET type = ?, observations = ?, embedding = ?, "
                            f"updated_at = ? WHERE {where} AND name = ?",
                            [type_, obs, vector.tobytes(), now, *params, name],
                        )
                if new_names:
                    vector_of = dict(zip(merged, vectors, strict=True))
                    batch = {
                        "id": np.array([ids[n] for n in new_names], dtype=np.int64),
                        "name": _objects(new_names),
                        "type": _objects([merged[n][0] for n in new_names]),
                        "observations": _objects([merged[n][1] for n in new_names]),
                        "embedding": _objects([vector_of[n].tobytes() for n in new_names]),
                    }
                    self._insert_entities(scope, batch, now)
            written = [
                Entity(existing[n].id, scope, n, t, tuple(o), existing[n].created_at, now)
                if n in existing
                else Entity(ids[n], scope, n, t, tuple(o), now, now)
                for n, (t, o) in merged.items()
            ]
            self._mirror("entity", scope, written, vectors)
            return written

    def _insert_entities(self, scope: Scope, batch: dict[str, Any], now: dt.datetime) -> None:
        """Insert new entities in one statement (row-by-row inserts are 10x slower)."""
        count = len(batch["id"])
        batch["scope_kind"] = _objects([scope.kind] * count)
        batch["scope_owner"] = _objects([scope.owner] * count)
        batch["created_at"] = np.array([now] * count, dtype="datetime64[us]")
        batch["updated_at"] = batch["created_at"]
        columns = ", ".join(batch)
        self._con.register("caxton_batch", batch)
        try:
            self._con.execute(
                f"INSERT INTO entities ({columns}) SELECT {columns} FROM caxton_batch"
            )
        finally:
            self._con.unregister("caxton_batch")

    def entity(self, scope: Scope, name: str) -> Entity:
        found = self._names.get(scope.key, {}).get(name)
        if found is None:
            raise NotFoundError(
                f"no entity {name!r} in {scope} memory",
                "`caxton memory search` finds entities by meaning",
            )
        return found

    def _entities(self, scope: Scope, names: Sequence[str] | None = None) -> list[Entity]:
        known = self._names.get(scope.key, {})
        chosen = known.values() if names is None else (known[n] for n in names if n in known)
        return sorted(chosen, key=lambda e: e.name)

    def entities(self, scope: Scope, names: Sequence[str] | None = None) -> list[Entity]:
        with self._lock:
            return self._entities(scope, names)

    def entity_names(self, scope: Scope) -> list[str]:
        with self._lock:
            return sorted(self._names.get(scope.key, {}))

    def relations(self, scope: Scope) -> list[Relation]:
        with self._lock:
            return self._relations(scope)

    def update_entity(
        self, scope: Scope, name: str, *, new_name: str | None = None, new_type: str | None = None
    ) -> Entity:
        with self._lock:
            current = self.entity(scope, name)
            target = new_name or name
            if new_name:
                _check_names([new_name], "entity")
                if new_name != name and self._entities(scope, [new_name]):
                    raise ConflictError(
                        f"an entity {new_name!r} already exists in {scope}",
                        "choose another name, or delete that entity first",
                    )
            type_ = new_type or current.type
            vector = self.embedder.embed_one(entity_text(target, type_, current.observations))
            where, params = scope.where()
            with self.transaction():
                if new_name and new_name != name:
                    # Entities are unique by name, which DuckDB indexes: rename by reinsert.
                    self._con.execute(
                        f"DELETE FROM entities WHERE {where} AND id = ?", [*params, current.id]
                    )
                    self._con.execute(
                        "INSERT INTO entities VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        [
                            current.id,
                            scope.kind,
                            scope.owner,
                            target,
                            type_,
                            list(current.observations),
                            vector.tobytes(),
                            current.created_at,
                            _now(),
                        ],
                    )
                    for column in ("from_name", "to_name"):
                        self._con.execute(
                            f"UPDATE relations SET {column} = ? WHERE {where} AND {column} = ?",
                            [target, *params, name],
                        )
                else:
                    self._con.execute(
                        f"UPDATE entities SET type = ?, embedding = ?, updated_at = ? "
                        f"WHERE {where} AND id = ?",
                        [type_, vector.tobytes(), _now(), *params, current.id],
                    )
            (updated,) = self._sync("entity", scope, [current.id])
            if new_name and new_name != name:
                self._sync("relation", scope)
            return updated  # type: ignore[no-any-return]

    def delete_entities(self, scope: Scope, names: Sequence[str]) -> int:
        """Delete entities and every relation touching them; returns how many entities went."""
        with self._lock:
            found = self._entities(scope, names)
            if not found:
                return 0
            where, params = scope.where()
            gone = [e.name for e in found]
            with self.transaction():
                self._con.execute(
                    f"DELETE FROM relations WHERE {where} AND "
                    "(list_contains(?, from_name) OR list_contains(?, to_name))",
                    [*params, gone, gone],
                )
                self._con.execute(
                    f"DELETE FROM entities WHERE {where} AND list_contains(?, name)",
                    [*params, gone],
                )
            self._sync("entity", scope, [e.id for e in found])
            self._sync("relation", scope)
            return len(found)

    def add_observations(self, scope: Scope, name: str, observations: Sequence[str]) -> Entity:
        current = self.entity(scope, name)
        return self.upsert_entities(scope, [(name, current.type, observations)])[0]

    def remove_observations(self, scope: Scope, name: str, observations: Sequence[str]) -> Entity:
        with self._lock:
            current = self.entity(scope, name)
            kept = [o for o in current.observations if o not in set(observations)]
            text = entity_text(name, current.type, kept)
            vector = self.embedder.embed_one(text)
            where, params = scope.where()
            with self.transaction():
                self._con.execute(
                    f"UPDATE entities SET observations = ?, embedding = ?, updated_at = ? "
                    f"WHERE {where} AND id = ?",
                    [kept, vector.tobytes(), _now(), *params, current.id],
                )
            (updated,) = self._sync("entity", scope, [current.id])
            return updated  # type: ignore[no-any-return]

    # ----- relations -------------------------------------------------------------------------

    def create_relations(self, scope: Scope, items: Sequence[NewRelation]) -> list[Relation]:
        """Create relations between existing entities; an existing one is updated in place."""
        with self._lock:
            names = {n for r in items for n in (r.from_name, r.to_name)}
            known = {e.name for e in self._entities(scope, sorted(names))}
            missing = sorted(names - known)
            if missing:
                raise NotFoundError(
                    f"no entit{'y' if len(missing) == 1 else 'ies'} "
                    + ", ".join(repr(m) for m in missing)
                    + f" in {scope} memory",
                    "create the entities first; relations join entities of the same scope",
                )
            for r in items:
                _check_unit(r.strength, "strength")
                _check_unit(r.confidence, "confidence")
                if r.valid_from and r.valid_to and r.valid_to < r.valid_from:
                    raise UsageError(
                        f"relation {r.from_name} -> {r.to_name}: valid_to is before valid_from",
                        "swap the two dates",
                    )
            texts = [relation_text(r.from_name, r.type, r.to_name) for r in items]
            vectors = self.embedder.embed(texts)
            now = _now()
            with self.transaction():
                created = {
                    self._put_relation(scope, r, vector, now)
                    for r, vector in zip(items, vectors, strict=True)
                }
            return [r for r in self._sync("relation", scope) if r.id in created]

    def _put_relation(self, scope: Scope, r: Any, vector: Any, created_at: dt.datetime) -> int:
        """Insert one relation (`NewRelation` or an imported one), replacing its namesake."""
        where, params = scope.where()
        self._con.execute(
            f"DELETE FROM relations WHERE {where} AND from_name = ? AND to_name = ? AND type = ?",
            [*params, r.from_name, r.to_name, r.type],
        )
        (new_id,) = self._ids(1)
        self._con.execute(
            "INSERT INTO relations VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                new_id,
                scope.kind,
                scope.owner,
                r.from_name,
                r.to_name,
                r.type,
                r.strength,
                r.confidence,
                r.valid_from,
                r.valid_to,
                vector.tobytes(),
                created_at,
            ],
        )
        return new_id

    def delete_relations(self, scope: Scope, items: Sequence[tuple[str, str, str]]) -> int:
        with self._lock:
            where, params = scope.where()
            count = 0
            with self.transaction():
                for from_name, to_name, type_ in items:
                    count += len(
                        self._con.execute(
                            f"DELETE FROM relations WHERE {where} AND from_name = ? "
                            "AND to_name = ? AND type = ? RETURNING id",
                            [*params, from_name, to_name, type_],
                        ).fetchall()
                    )
            self._sync("relation", scope)
            return count

    def _relations(self, scope: Scope, touching: Sequence[str] | None = None) -> list[Relation]:
        where, params = scope.where()
        sql = (
            "SELECT id, from_name, to_name, type, strength, confidence, valid_from, valid_to, "
            f"created_at FROM relations WHERE {where}"
        )
        if touching is not None:
            sql += " AND (list_contains(?, from_name) OR list_contains(?, to_name))"
            params = [*params, list(touching), list(touching)]  # type: ignore[list-item]
        rows = self._con.execute(sql + " ORDER BY from_name, type, to_name", params).fetchall()
        return [Relation(r[0], scope, *r[1:]) for r in rows]

    # ----- graph reads -----------------------------------------------------------------------

    def open_nodes(self, scope: Scope, names: Sequence[str]) -> Graph:
        """The named entities and every relation that touches them."""
        with self._lock:
            return Graph(self._entities(scope, names), self._relations(scope, names))

    def neighbours(self, scope: Scope, name: str, depth: int = 1) -> Graph:
        """The entity and everything reachable from it within `depth` relations (either way)."""
        if depth < 0:
            raise UsageError("depth cannot be negative", "use a depth of 0 or more")
        with self._lock:
            start = self.entity(scope, name)
            seen = {start.name}
            frontier = [start.name]
            relations: dict[int, Relation] = {}
            for _ in range(depth):
                if not frontier:
                    break
                found = self._relations(scope, frontier)
                nxt = []
                for relation in found:
                    relations[relation.id] = relation
                    for other in (relation.from_name, relation.to_name):
                        if other not in seen:
                            seen.add(other)
                            nxt.append(other)
                frontier = nxt
            return Graph(
                self._entities(scope, sorted(seen)), sorted(relations.values(), key=lambda r: r.id)
            )

    # ----- interactions ----------------------------------------------------------------------

    def store_interaction(self, scope: Scope, agent: str, request: str, response: str) -> int:
        with self._lock:
            text = interaction_text(request, response)
            vector = self.embedder.embed_one(text)
            (new_id,) = self._ids(1)
            with self.transaction():
                self._con.execute(
                    "INSERT INTO interactions VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    [
                        new_id,
                        scope.kind,
                        scope.owner,
                        agent,
                        request,
                        response,
                        vector.tobytes(),
                        _now(),
                    ],
                )
            self._sync("interaction", scope, [new_id])
            return new_id

    def interactions(self, scope: Scope, limit: int | None = 100) -> list[Interaction]:
        """The newest interactions first; `limit=None` for all of them."""
        where, params = scope.where()
        with self._lock:  # one connection: a query beside another thread's write fails
            rows = self._con.execute(
                "SELECT id, agent, request, response, created_at FROM interactions "
                f"WHERE {where} ORDER BY id DESC LIMIT ?",
                [*params, limit if limit is not None else 2**62],
            ).fetchall()
        return [Interaction(r[0], scope, *r[1:]) for r in rows]

    # ----- import ----------------------------------------------------------------------------

    def import_records(self, records: Any) -> dict[str, int]:
        """Write checked import records (see `transfer.py`) in one transaction."""
        with self._lock:
            entity_vectors = self.embedder.embed(
                [entity_text(e.name, e.type, e.observations) for e in records.entities]
            )
            relation_vectors = self.embedder.embed(
                [relation_text(r.from_name, r.type, r.to_name) for r in records.relations]
            )
            interaction_vectors = self.embedder.embed(
                [interaction_text(i.request, i.response) for i in records.interactions]
            )
            counts = {"entities": 0, "relations": 0, "interactions": 0}
            with self.transaction():
                for e, vector in zip(records.entities, entity_vectors, strict=True):
                    self._import_entity(e, vector)
                    counts["entities"] += 1
                for r, vector in zip(records.relations, relation_vectors, strict=True):
                    self._put_relation(r.scope, r, vector, r.created_at)
                    counts["relations"] += 1
                for i, vector in zip(records.interactions, interaction_vectors, strict=True):
                    where, params = i.scope.where()
                    duplicate = self._con.execute(
                        f"SELECT count(*) FROM interactions WHERE {where} AND agent = ? AND "
                        "request = ? AND response = ? AND created_at = ?",
                        [*params, i.agent, i.request, i.response, i.created_at],
                    ).fetchone()[0]
                    if duplicate:
                        continue
                    (new_id,) = self._ids(1)
                    self._con.execute(
                        "INSERT INTO interactions VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                        [
                            new_id,
                            i.scope.kind,
                            i.scope.owner,
                            i.agent,
                            i.request,
                            i.response,
                            vector.tobytes(),
                            i.created_at,
                        ],
                    )
                    counts["interactions"] += 1
            self._reload()
            return counts

    def _import_entity(self, e: Any, vector: Any) -> None:
        where, params = e.scope.where()
        row = self._con.execute(
            f"SELECT id, observations, created_at, updated_at FROM entities "
            f"WHERE {where} AND name = ?",
            [*params, e.name],
        ).fetchone()
        if row is None:
            (new_id,) = self._ids(1)
            self._con.execute(
                "INSERT INTO entities VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    new_id,
                    e.scope.kind,
                    e.scope.owner,
                    e.name,
                    e.type,
                    list(e.observations),
                    vector.tobytes(),
                    e.created_at,
                    e.updated_at,
                ],
            )
            return
        observations = list(row[1]) + [o for o in e.observations if o not in row[1]]
        text = entity_text(e.name, e.type, observations)
        merged_vector = (
            vector if observations == list(e.observations) else (self.embedder.embed_one(text))
        )
        self._con.execute(
            f"UPDATE entities SET type = ?, observations = ?, embedding = ?, created_at = ?, "
            f"updated_at = ? WHERE {where} AND id = ?",
            [
                e.type,
                observations,
                merged_vector.tobytes(),
                min(row[2], e.created_at),
                max(row[3], e.updated_at),
                *params,
                row[0],
            ],
        )

    # ----- search ----------------------------------------------------------------------------

    def search(
        self,
        scope: Scope | None,
        query: str,
        *,
        limit: int = 10,
        min_similarity: float = 0.0,
        kinds: Sequence[Kind] = ("entity", "interaction"),
    ) -> list[SearchHit]:
        """Hybrid search in one scope (None: every scope, for administration only)."""
        if limit <= 0:
            return []
        vector = self.embedder.embed_one(query)
        words = tokens(query)
        with self._lock:
            found: list[tuple[Kind, Any]] = []
            for kind in kinds:
                index = self._index[kind]
                keys = [scope.key] if scope is not None else list(index.partitions)
                for hit in index.search(keys, vector, words, limit, min_similarity):
                    found.append((kind, hit))
        found.sort(key=lambda pair: -pair[1].score)
        return [
            SearchHit(kind, h.score, h.vector_score, h.keyword_score, h.item)
            for kind, h in found[:limit]
        ]

    # ----- stats -----------------------------------------------------------------------------

    def scopes(self) -> list[Scope]:
        with self._lock:
            rows = self._con.execute(
                "SELECT DISTINCT scope_kind, scope_owner FROM entities UNION "
                "SELECT DISTINCT scope_kind, scope_owner FROM relations UNION "
                "SELECT DISTINCT scope_kind, scope_owner FROM interactions ORDER BY 1, 2"
            ).fetchall()
        return [Scope(r[0], r[1]) for r in rows]

    def stats(self) -> dict[str, Any]:
        with self._lock:
            per_scope = []
            for scope in self.scopes():
                where, params = scope.where()
                counts = {
                    table: self._con.execute(
                        f"SELECT count(*) FROM {table} WHERE {where}", params
                    ).fetchone()[0]
                    for table in ("entities", "relations", "interactions")
                }
                per_scope.append({"scope": scope.to_json(), **counts})
            types = self._con.execute(
                "SELECT type, count(*) FROM entities GROUP BY type ORDER BY 2 DESC, 1"
            ).fetchall()
            return {
                "path": str(self.path) if self.path else ":memory:",
                "file_bytes": self.path.stat().st_size if self.path and self.path.exists() else 0,
                "entities": sum(s["entities"] for s in per_scope),
                "relations": sum(s["relations"] for s in per_scope),
                "interactions": sum(s["interactions"] for s in per_scope),
                "scopes": per_scope,
                "entity_types": {t: c for t, c in types},
                "index_bytes": sum(i.nbytes() for i in self._index.values()),
                "embedder": str(self.embedder.path),
                "migrations": applied_migrations(self._con),
            }


def _check_names(names: Sequence[str], what: str) -> None:
    for name in names:
        if not isinstance(name, str) or not name.strip():
            raise UsageError(f"an {what} needs a non-empty name", "give every entity a name")


def _check_unit(value: float, what: str) -> None:
    if not 0.0 <= value <= 1.0:
        raise UsageError(
            f"{what} is {value}; it must be between 0 and 1", f"use a {what} from 0 to 1"
        )


def _open_error(path: Path | None, message: str) -> StoreUnavailable:
    holder = lock_holder(message)
    if holder:
        return StoreUnavailable(
            f"the memory store `{path}` is in use by another process ({holder})",
            "one process owns a store: stop that process, or, when it is a Caxton server, "
            "use the server's API instead of the file",
        )
    if "not a valid DuckDB database file" in message:
        return StoreUnavailable(
            f"`{path}` is not a Caxton memory store (not a DuckDB database file)",
            "move the file away; Caxton creates a new store in its place",
        )
    return StoreUnavailable(
        f"cannot open the memory store `{path}`: {message}",
        "check the file's permissions and the disk",
    )
