"""`caxton memory ...` and `caxton route` against a real workspace and its local store."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from caxton.errors import ExitCode
from caxton.memory.embedder import SHIPPED_MODEL
from tests.conftest import Cli


def test_add_search_show(workspace: Path, cli: Cli) -> None:
    assert cli("memory", "add", "billing", "--type", "service", "-o", "issues invoices").code == 0
    result = cli(
        "memory",
        "add",
        "checkout",
        "-t",
        "service",
        "-o",
        "takes payments",
        "--relation",
        "depends_on:billing",
    )
    assert result.code == 0, result.err
    assert (workspace / ".caxton" / "memory.duckdb").is_file()
    found = cli("memory", "search", "who sends invoices")
    assert found.out.splitlines()[0].split()[1:3] == ["entity", "billing"]
    shown = cli("memory", "show", "checkout", "--json")
    graph = json.loads(shown.out)
    assert {e["name"] for e in graph["entities"]} == {"checkout", "billing"}
    assert graph["relations"][0]["type"] == "depends_on"


def test_scopes_from_the_command_line(workspace: Path, cli: Cli) -> None:
    cli(
        "memory",
        "add",
        "plan",
        "-t",
        "note",
        "-o",
        "secret plan",
        "--scope",
        "agent",
        "--agent",
        "assistant",
    )
    assert cli("memory", "search", "secret plan", "--json").out.strip() == "[]"
    mine = json.loads(
        cli(
            "memory", "search", "secret plan", "--scope", "agent", "--agent", "assistant", "--json"
        ).out
    )
    assert mine[0]["name"] == "plan"
    assert mine[0]["scope"] == {"kind": "agent", "owner": "assistant"}
    assert cli("memory", "search", "x", "--scope", "agent").code == ExitCode.USAGE
    assert cli("memory", "search", "x", "--scope", "team").code == ExitCode.USAGE


def test_export_import_and_stats(workspace: Path, cli: Cli, tmp_path: Path) -> None:
    cli("memory", "add", "billing", "-t", "service", "-o", "issues invoices")
    out = tmp_path / "mem.json"
    assert cli("memory", "export", str(out)).code == 0
    document = json.loads(out.read_text())
    document["entities"][0]["name"] = "billing-2"
    out.write_text(json.dumps(document))
    assert cli("memory", "import", str(out)).code == 0
    stats = json.loads(cli("memory", "stats", "--json").out)
    assert stats["entities"] == 2
    assert stats["migrations"] == ["m001_initial"]


def test_bad_import_file(workspace: Path, cli: Cli, tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"format": "caxton-memory", "version": 1, "entities": [{"name": 3}]}')
    result = cli("memory", "import", str(bad))
    assert result.code == ExitCode.INVALID
    assert "entities[0]" in result.err and "nothing was imported" in result.err
    bad.write_text("{not json")
    result = cli("memory", "import", str(bad))
    assert result.code == ExitCode.INVALID and "is not JSON" in result.err


def test_show_unknown_entity(workspace: Path, cli: Cli) -> None:
    result = cli("memory", "show", "ghost")
    assert result.code == ExitCode.NOT_FOUND
    assert "no entity 'ghost'" in result.err


def test_route(workspace: Path, cli: Cli) -> None:
    cli("init", "analyst", "-t", "data-analyzer")
    cli("init", "reviewer", "-t", "code-reviewer")
    result = cli("route", "review my pull request for bugs")
    assert result.code == 0
    assert result.out.strip() == "reviewer"
    assert "→ reviewer" in result.err
    data = json.loads(cli("route", "average of the price column in prices.csv", "--json").out)
    assert data["chosen"] == "analyst"
    assert data["method"] == "embedding"
    assert data["candidates"][0]["best_capability"]
    off = cli("route", "tell me a joke about cats")  # no agent fits: the fallback takes it
    assert off.out.strip() == "assistant"
    assert "the workspace's fallback agent 'assistant'" in off.err


def test_route_falls_back_to_keywords_with_a_broken_model(
    workspace: Path, cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    broken = tmp_path / "model"
    shutil.copytree(SHIPPED_MODEL, broken)
    (broken / "model.safetensors").write_bytes(b"junk")
    monkeypatch.setenv("CAXTON_EMBEDDER", str(broken))
    cli("init", "reviewer", "-t", "code-reviewer")
    result = cli("route", "code review of my diff")
    assert result.code == 0
    assert "warning: routing by keywords only" in result.err
    assert "is corrupt" in result.err
    memory = cli("memory", "search", "anything")
    assert memory.code == ExitCode.IO
    assert str(broken) in memory.err and "hint:" in memory.err


def test_bad_relation_spec_and_missing_import_file(workspace: Path, cli: Cli) -> None:
    result = cli("memory", "add", "x-service", "-t", "service", "-r", "depends_on")
    assert result.code == ExitCode.USAGE
    assert "hint: for example `--relation depends_on:billing`" in result.err
    missing = cli("memory", "import", "nope.json")
    assert missing.code == ExitCode.IO
    assert "cannot read `nope.json`" in missing.err and "hint:" in missing.err


def test_store_held_by_another_process(workspace: Path, cli: Cli) -> None:
    cli("memory", "add", "billing", "-t", "service")
    store = workspace / ".caxton" / "memory.duckdb"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"import duckdb, sys; c = duckdb.connect({str(store)!r}); "
            "print('ok', flush=True); sys.stdin.read()",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "ok"
        result = cli("memory", "search", "billing")
        assert result.code == ExitCode.UNAVAILABLE
        assert f"PID {holder.pid}" in result.err
        assert "hint: one process owns a store" in result.err
    finally:
        holder.communicate("")
