"""Named schema migrations for the memory store, recorded in `caxton_migrations`.

Append new migrations; never edit or reorder shipped ones. A store that records a migration this
version does not know was written by a newer Caxton, and is refused rather than misread.
"""

from __future__ import annotations

from typing import Any

from caxton.duckdb_files import run_migrations

M001_INITIAL = """
CREATE SEQUENCE memory_ids START 1;
CREATE TABLE entities (
    id BIGINT PRIMARY KEY,
    scope_kind VARCHAR NOT NULL,
    scope_owner VARCHAR NOT NULL,
    name VARCHAR NOT NULL,
    type VARCHAR NOT NULL,
    observations VARCHAR[] NOT NULL,
    embedding BLOB NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    UNIQUE (scope_kind, scope_owner, name)
);
CREATE TABLE relations (
    id BIGINT PRIMARY KEY,
    scope_kind VARCHAR NOT NULL,
    scope_owner VARCHAR NOT NULL,
    from_name VARCHAR NOT NULL,
    to_name VARCHAR NOT NULL,
    type VARCHAR NOT NULL,
    strength DOUBLE NOT NULL,
    confidence DOUBLE NOT NULL,
    valid_from TIMESTAMP,
    valid_to TIMESTAMP,
    embedding BLOB NOT NULL,
    created_at TIMESTAMP NOT NULL,
    UNIQUE (scope_kind, scope_owner, from_name, to_name, type)
);
CREATE TABLE interactions (
    id BIGINT PRIMARY KEY,
    scope_kind VARCHAR NOT NULL,
    scope_owner VARCHAR NOT NULL,
    agent VARCHAR NOT NULL,
    request VARCHAR NOT NULL,
    response VARCHAR NOT NULL,
    embedding BLOB NOT NULL,
    created_at TIMESTAMP NOT NULL
);
"""

MIGRATIONS: tuple[tuple[str, str], ...] = (("m001_initial", M001_INITIAL),)


def applied_migrations(con: Any) -> list[str]:
    con.execute(
        "CREATE TABLE IF NOT EXISTS caxton_migrations ("
        "name VARCHAR PRIMARY KEY, applied_at TIMESTAMP NOT NULL DEFAULT current_timestamp)"
    )
    return [
        row[0] for row in con.execute("SELECT name FROM caxton_migrations ORDER BY name").fetchall()
    ]


def unknown_migrations(applied: list[str]) -> list[str]:
    known = {name for name, _ in MIGRATIONS}
    return [name for name in applied if name not in known]


def migrate(con: Any, applied: list[str]) -> list[str]:
    """Apply the migrations `applied` lacks, each in its own transaction; returns their names."""
    return run_migrations(con, MIGRATIONS, applied)
