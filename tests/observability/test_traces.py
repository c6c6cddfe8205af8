"""Persisted traces: `caxton run` logs each request; `caxton logs` and `caxton trace` show them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from caxton.errors import ExitCode
from caxton.observability.store import TraceStore, store_path
from tests.conftest import Cli


def run(cli: Cli, request: str = "hi", agent: str = "assistant") -> dict[str, object]:
    result = cli("run", "--agent", agent, "--model", "test", request, "--json")
    assert result.code == 0, result.err
    data: dict[str, object] = json.loads(result.out)
    return data


@pytest.fixture
def delegating(workspace: Path, cli: Cli) -> Path:
    """The assistant delegates to the one other agent: message and nested agent spans."""
    assert cli("init", "data-analyzer", "--template", "data-analyzer").code == 0
    return workspace


def test_a_run_is_logged_and_listed(workspace: Path, cli: Cli) -> None:
    first = cli("run", "--agent", "assistant", "--model", "test", "hello there")
    assert first.code == 0, first.err
    assert "warning" not in first.err
    run(cli, "a second request\nover two lines")
    logs = cli("logs")
    assert logs.code == 0, logs.err
    lines = logs.out.splitlines()
    assert lines[0].split() == [
        "TIME", "AGENT", "STOP", "SECONDS", "TOKENS", "COST", "TRACE", "REQUEST"
    ]  # fmt: skip
    assert "a second request over two lines" in lines[1]  # newest first, on one line
    assert lines[2].endswith("hello there") and len(lines) == 3
    data = json.loads(cli("logs", "--json", "--limit", "1").out)
    assert data["logging"] is True and len(data["executions"]) == 1
    execution = data["executions"][0]
    assert execution["request"] == "a second request\nover two lines"
    assert execution["agent"] == "assistant" and execution["stop_reason"] == "done"
    assert execution["deterministic"] is True and execution["models"]
    assert execution["input_tokens"] > 0 and execution["cost_usd"] == 0


def test_trace_matches_the_in_memory_trace(delegating: Path, cli: Cli) -> None:
    ran = run(cli, "analyse the numbers")
    shown = cli("trace", "--json")
    assert shown.code == 0, shown.err
    data = json.loads(shown.out)
    assert set(data) == {"execution", "spans"}
    assert data["execution"]["trace_id"] == ran["trace_id"]
    spans = ran["spans"]
    assert isinstance(spans, list)
    assert len(data["spans"]) == len(spans)
    assert {s["span_id"] for s in data["spans"]} == {s["span_id"] for s in spans}
    saved = {s["span_id"]: s for s in data["spans"]}
    for span in spans:
        assert saved[span["span_id"]]["attributes"] == span["attributes"]
        assert saved[span["span_id"]]["parent_id"] == span["parent_id"]
    assert {"request", "agent", "llm", "tool", "message", "memory"} <= {
        s["kind"] for s in data["spans"]
    }


def test_trace_renders_a_tree(delegating: Path, cli: Cli) -> None:
    ran = run(cli, "analyse the numbers")
    trace_id = str(ran["trace_id"])
    for args in (("trace",), ("trace", trace_id), ("trace", trace_id[:6].upper())):
        shown = cli(*args)
        assert shown.code == 0, shown.err
        lines = shown.out.splitlines()
        assert lines[0].startswith(f"trace {trace_id}  assistant  done")
        assert "tokens" in lines[0] and "(deterministic)" in lines[0]
        assert lines[1].startswith("request  [request]")
        assert lines[2].startswith("  invoke_agent assistant  [agent]")
        assert "depth 0" in lines[2]
    text = shown.out
    assert "[llm]" in text and "test/" in text and "(deterministic)" in text
    assert "      invoke_agent data-analyzer  [agent]" in text and "depth 1" in text
    assert "request assistant -> data-analyzer" in text
    assert "fuel " in text  # a sandboxed tool
    assert "scope " in text and " hits" in text  # memory


def test_unknown_bad_and_ambiguous_ids(workspace: Path, cli: Cli) -> None:
    first, second = run(cli), run(cli)
    unknown = cli("trace", "ffff" if not str(first["trace_id"]).startswith("ffff") else "0000")
    assert unknown.code == ExitCode.NOT_FOUND and "hint: `caxton logs`" in unknown.err
    for bad in ("abc", "not-hex"):
        result = cli("trace", bad)
        assert result.code == ExitCode.NOT_FOUND and "4 hex characters" in result.err
    # Make two ids share a prefix, as two traces eventually will.
    with TraceStore.open(store_path(workspace)) as store:
        for table in ("executions", "spans"):
            store._con.execute(f"UPDATE {table} SET trace_id = 'abcd' || trace_id[5:]")
    ambiguous = cli("trace", "abcd")
    assert ambiguous.code == ExitCode.NOT_FOUND
    assert "matches more than one trace" in ambiguous.err and "more characters" in ambiguous.err
    exact = cli("trace", "abcd" + str(second["trace_id"])[4:])
    assert exact.code == 0, exact.err


def test_nothing_logged_yet(workspace: Path, cli: Cli) -> None:
    logs = cli("logs")
    assert logs.code == 0 and logs.out == "" and "no executions logged yet" in logs.err
    assert json.loads(cli("logs", "--json").out) == {"logging": True, "executions": []}
    shown = cli("trace")
    assert shown.code == ExitCode.NOT_FOUND and "caxton run" in shown.err
    assert not store_path(workspace).exists()  # reading creates nothing


def test_logs_off_and_on(workspace: Path, cli: Cli) -> None:
    off = cli("logs", "off")
    assert off.code == 0 and (workspace / ".caxton" / "logs-off").exists()
    run(cli)
    assert not store_path(workspace).exists()
    listed = cli("logs")
    assert "logging is off" in listed.err and "caxton logs on" in listed.err
    assert json.loads(cli("logs", "--json").out)["logging"] is False
    on = cli("logs", "on")
    assert on.code == 0 and not (workspace / ".caxton" / "logs-off").exists()
    ran = run(cli)
    executions = json.loads(cli("logs", "--json").out)["executions"]
    assert [e["trace_id"] for e in executions] == [ran["trace_id"]]


def test_a_locked_store_warns_and_the_run_succeeds(workspace: Path, cli: Cli) -> None:
    path = store_path(workspace)
    TraceStore.open(path).close()
    script = (
        "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); "
        "print('ready', flush=True); time.sleep(60)"
    )
    with subprocess.Popen(
        [sys.executable, "-c", script, str(path)], stdout=subprocess.PIPE, text=True
    ) as holder:
        try:
            assert holder.stdout is not None and holder.stdout.readline().strip() == "ready"
            result = cli("run", "--agent", "assistant", "--model", "test", "hello")
            assert result.code == 0, result.err
            assert result.out.startswith("[test model]")
            assert "warning: this run is not logged" in result.err
            assert f"PID {holder.pid}" in result.err and "hint: " in result.err
            listed = cli("logs")
            assert listed.code == ExitCode.UNAVAILABLE
            assert "in use by another process" in listed.err
        finally:
            holder.kill()
    assert cli("logs", "--json").code == 0


def test_outside_a_workspace(tmp_path: Path, cli: Cli) -> None:
    for args in (("logs",), ("trace",), ("logs", "off")):
        result = cli(*args, cwd=tmp_path)
        assert result.code == ExitCode.NOT_FOUND, args


def test_trace_shows_where_the_route_went(workspace: Path, cli: Cli) -> None:
    assert cli("run", "--model", "test", "hello").code == 0  # no agent fits: the fallback
    lines = cli("trace").out.splitlines()
    route = next(line for line in lines if "[route]" in line)
    assert route.startswith("  route  [route]") and route.endswith("-> assistant (fallback)")
