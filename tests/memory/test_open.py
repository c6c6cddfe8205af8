"""Opening stores: migrations, newer stores, files that are not stores, and the process lock."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from pathlib import Path

import duckdb
import pytest

from caxton.memory.embedder import Embedder
from caxton.memory.migrations import MIGRATIONS
from caxton.memory.store import MemoryStore, StoreUnavailable


def test_migrations_are_named_and_recorded(tmp_path: Path, embedder: Embedder) -> None:
    path = tmp_path / "m.duckdb"
    MemoryStore.open(path, embedder).close()
    con = duckdb.connect(str(path))
    names = [r[0] for r in con.execute("SELECT name FROM caxton_migrations").fetchall()]
    con.close()
    assert names == [name for name, _ in MIGRATIONS]
    MemoryStore.open(path, embedder).close()  # reopening applies nothing twice


def test_a_store_from_a_newer_version_is_refused(tmp_path: Path, embedder: Embedder) -> None:
    path = tmp_path / "m.duckdb"
    MemoryStore.open(path, embedder).close()
    con = duckdb.connect(str(path))
    con.execute("INSERT INTO caxton_migrations (name) VALUES ('m999_from_the_future')")
    con.close()
    with pytest.raises(StoreUnavailable) as caught:
        MemoryStore.open(path, embedder)
    assert "newer Caxton" in caught.value.message
    assert "m999_from_the_future" in caught.value.message
    assert "upgrade Caxton" in str(caught.value.hint)


def test_a_file_that_is_not_a_store(tmp_path: Path, embedder: Embedder) -> None:
    path = tmp_path / "m.duckdb"
    path.write_text("hello " * 2000)
    with pytest.raises(StoreUnavailable, match="not a Caxton memory store"):
        MemoryStore.open(path, embedder)


def test_a_second_process_is_told_who_holds_the_store(tmp_path: Path, embedder: Embedder) -> None:
    path = tmp_path / "m.duckdb"
    MemoryStore.open(path, embedder).close()
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(f"""
            import duckdb, sys, time
            con = duckdb.connect({str(path)!r})
            print("holding", flush=True)
            sys.stdin.read()
        """),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "holding"
        with pytest.raises(StoreUnavailable) as caught:
            MemoryStore.open(path, embedder)
        assert f"PID {holder.pid}" in caught.value.message
        assert "in use by another process" in caught.value.message
        assert "server's API" in str(caught.value.hint)
    finally:
        holder.communicate("")
    deadline = time.monotonic() + 10
    while holder.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    MemoryStore.open(path, embedder).close()  # free again once the holder exits
