"""JSON export and import of memory: lossless, and an import is all-or-nothing.

The export holds the data, not the vectors: embeddings are derived and recomputed on import (so
a store can move to another embedding model through export and import).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from caxton.errors import CaxtonError, ExitCode
from caxton.memory.scope import SCOPE_KINDS, Scope
from caxton.memory.store import MemoryStore

FORMAT = "caxton-memory"
VERSION = 1


class BadImport(CaxtonError):
    """An import file that cannot be imported; nothing was imported."""

    exit_code = ExitCode.INVALID


@dataclass(frozen=True, slots=True)
class ImportedEntity:
    scope: Scope
    name: str
    type: str
    observations: tuple[str, ...]
    created_at: dt.datetime
    updated_at: dt.datetime


@dataclass(frozen=True, slots=True)
class ImportedRelation:
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
class ImportedInteraction:
    scope: Scope
    agent: str
    request: str
    response: str
    created_at: dt.datetime


@dataclass(slots=True)
class Records:
    entities: list[ImportedEntity]
    relations: list[ImportedRelation]
    interactions: list[ImportedInteraction]


def _time(value: dt.datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def export_memory(store: MemoryStore, scope: Scope | None = None) -> dict[str, Any]:
    """Everything in `scope` (None: every scope) as a JSON-ready document."""
    scopes = [scope] if scope is not None else store.scopes()
    entities, relations, interactions = [], [], []
    for current in scopes:
        for e in store.entities(current):
            entities.append(
                {
                    "scope": current.to_json(),
                    "name": e.name,
                    "type": e.type,
                    "observations": list(e.observations),
                    "created_at": _time(e.created_at),
                    "updated_at": _time(e.updated_at),
                }
            )
        for r in store.relations(current):
            relations.append(
                {
                    "scope": current.to_json(),
                    "from": r.from_name,
                    "to": r.to_name,
                    "type": r.type,
                    "strength": r.strength,
                    "confidence": r.confidence,
                    "valid_from": _time(r.valid_from),
                    "valid_to": _time(r.valid_to),
                    "created_at": _time(r.created_at),
                }
            )
        for i in reversed(store.interactions(current, limit=None)):
            interactions.append(
                {
                    "scope": current.to_json(),
                    "agent": i.agent,
                    "request": i.request,
                    "response": i.response,
                    "created_at": _time(i.created_at),
                }
            )
    return {
        "format": FORMAT,
        "version": VERSION,
        "entities": entities,
        "relations": relations,
        "interactions": interactions,
    }


def import_memory(store: MemoryStore, document: Any) -> dict[str, int]:
    """Check every record, then import them all in one transaction; returns counts."""
    records = parse_document(document)
    _check_relation_ends(store, records)
    return store.import_records(records)


def parse_document(document: Any) -> Records:
    if not isinstance(document, Mapping):
        raise BadImport("the import is not a JSON object", _FORMAT_HINT)
    if document.get("format") != FORMAT:
        raise BadImport(
            f'the import\'s "format" is {document.get("format")!r}, not {FORMAT!r}; nothing was '
            "imported",
            _FORMAT_HINT,
        )
    if document.get("version") != VERSION:
        raise BadImport(
            f"the import is version {document.get('version')!r}; this Caxton reads "
            f"version {VERSION}; nothing was imported",
            "export it again with this version of Caxton",
        )
    return Records(
        [_entity(r, f"entities[{i}]") for i, r in enumerate(_list(document, "entities"))],
        [_relation(r, f"relations[{i}]") for i, r in enumerate(_list(document, "relations"))],
        [
            _interaction(r, f"interactions[{i}]")
            for i, r in enumerate(_list(document, "interactions"))
        ],
    )


_FORMAT_HINT = "import a file written by `caxton memory export`"


def _list(document: Mapping[str, Any], key: str) -> Sequence[Any]:
    value = document.get(key, [])
    if not isinstance(value, list):
        raise BadImport(f'"{key}" must be a list', _FORMAT_HINT)
    return value


def _fail(where: str, record: Any, problem: str) -> BadImport:
    label = ""
    if isinstance(record, Mapping):
        name = record.get("name") or record.get("from") or record.get("agent")
        if isinstance(name, str):
            label = f" ({name!r})"
    return BadImport(
        f"{where}{label}: {problem}; nothing was imported",
        "fix or remove that record and import again",
    )


def _field(
    record: Mapping[str, Any],
    key: str,
    where: str,
    kind: type,
    required: bool = True,
    default: Any = None,
) -> Any:
    if key not in record:
        if required:
            raise _fail(where, record, f"missing {key!r}")
        return default
    value = record[key]
    if value is None and not required:
        return default
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        raise _fail(where, record, f"{key!r} must be a {kind.__name__}, not {value!r}")
    if isinstance(value, str) and required and not value.strip():
        raise _fail(where, record, f"{key!r} is empty")
    return value


def _timestamp(
    record: Mapping[str, Any], key: str, where: str, required: bool = True
) -> dt.datetime | None:
    raw = _field(record, key, where, str, required=required)
    if raw is None:
        return None
    try:
        value = dt.datetime.fromisoformat(raw)
    except ValueError:
        raise _fail(where, record, f"{key!r} is not an ISO date-time: {raw!r}") from None
    if value.tzinfo is not None:
        value = value.astimezone(dt.UTC).replace(tzinfo=None)
    return value


def _scope(record: Mapping[str, Any], where: str) -> Scope:
    raw = _field(record, "scope", where, dict)
    kind, owner = raw.get("kind"), raw.get("owner")
    if kind not in SCOPE_KINDS or not isinstance(owner, str):
        raise _fail(
            where,
            record,
            f'"scope" must be {{"kind": one of {list(SCOPE_KINDS)}, "owner": a name}}, not {raw!r}',
        )
    try:
        return Scope(kind, owner)
    except ValueError as exc:
        raise _fail(where, record, f"bad scope: {exc}") from None


def _record(raw: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(raw, Mapping):
        raise _fail(where, raw, "must be a JSON object")
    return raw


def _entity(raw: Any, where: str) -> ImportedEntity:
    r = _record(raw, where)
    observations = _field(r, "observations", where, list, required=False, default=[])
    if not all(isinstance(o, str) for o in observations):
        raise _fail(where, r, '"observations" must be a list of strings')
    created = _timestamp(r, "created_at", where)
    assert created is not None
    return ImportedEntity(
        _scope(r, where),
        _field(r, "name", where, str),
        _field(r, "type", where, str),
        tuple(observations),
        created,
        _timestamp(r, "updated_at", where) or created,
    )


def _relation(raw: Any, where: str) -> ImportedRelation:
    r = _record(raw, where)
    strength = _field(r, "strength", where, float, required=False, default=1.0)
    confidence = _field(r, "confidence", where, float, required=False, default=1.0)
    for name, value in (("strength", strength), ("confidence", confidence)):
        if not 0.0 <= value <= 1.0:
            raise _fail(where, r, f"{name!r} is {value}; it must be between 0 and 1")
    created = _timestamp(r, "created_at", where)
    assert created is not None
    return ImportedRelation(
        _scope(r, where),
        _field(r, "from", where, str),
        _field(r, "to", where, str),
        _field(r, "type", where, str),
        strength,
        confidence,
        _timestamp(r, "valid_from", where, required=False),
        _timestamp(r, "valid_to", where, required=False),
        created,
    )


def _interaction(raw: Any, where: str) -> ImportedInteraction:
    r = _record(raw, where)
    created = _timestamp(r, "created_at", where)
    assert created is not None
    return ImportedInteraction(
        _scope(r, where),
        _field(r, "agent", where, str),
        _field(r, "request", where, str),
        _field(r, "response", where, str, required=False, default=""),
        created,
    )


def _check_relation_ends(store: MemoryStore, records: Records) -> None:
    incoming: dict[Scope, set[str]] = {}
    for e in records.entities:
        incoming.setdefault(e.scope, set()).add(e.name)
    existing: dict[Scope, set[str]] = {}
    for i, r in enumerate(records.relations):
        if r.scope not in existing:
            existing[r.scope] = set(store.entity_names(r.scope))
        for end in (r.from_name, r.to_name):
            if end not in incoming.get(r.scope, set()) and end not in existing[r.scope]:
                raise BadImport(
                    f"relations[{i}] ({r.from_name!r} -> {r.to_name!r}): no entity {end!r} in "
                    f"{r.scope} memory or in the import; nothing was imported",
                    "add the entity to the import, or remove the relation",
                )
