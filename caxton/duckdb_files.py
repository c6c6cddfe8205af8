"""What Caxton's DuckDB files share: who holds a locked file, and applying migrations."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

_LOCK_PID = re.compile(r"Conflicting lock is held in (?P<exe>.+?) \(PID (?P<pid>\d+)\)")


def lock_holder(message: str) -> str | None:
    """From DuckDB's "conflicting lock" error: "PID n: its command line", else None."""
    holder = _LOCK_PID.search(message)
    if holder is None:
        return None
    pid = holder["pid"]
    return f"PID {pid}: {_process_command(int(pid)) or holder['exe']}"


def _process_command(pid: int) -> str | None:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return None
    return " ".join(part.decode(errors="replace") for part in raw.split(b"\0") if part) or None


def run_migrations(
    con: Any, migrations: Sequence[tuple[str, str]], applied: list[str]
) -> list[str]:
    """Apply the `migrations` (name, SQL) not in `applied`, each in its own transaction and
    recorded in `caxton_migrations`; returns the names applied."""
    done = []
    for name, sql in migrations:
        if name in applied:
            continue
        con.execute("BEGIN TRANSACTION")
        try:
            for statement in (s.strip() for s in sql.split(";")):
                if statement:
                    con.execute(statement)
            con.execute("INSERT INTO caxton_migrations (name) VALUES (?)", [name])
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        done.append(name)
    return done
