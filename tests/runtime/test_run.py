"""`caxton run` end to end with the `test` model: real workspaces, real tools, real memory."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest

from caxton.errors import ExitCode
from caxton.runtime.executor import ExecutionResult, Overloaded
from caxton.runtime.runtime import Runtime
from caxton.workspace.templates import template_names
from tests.conftest import Cli


@pytest.fixture
def full(workspace: Path, cli: Cli) -> Path:
    """A workspace with one agent from every template."""
    for name in template_names():
        result = cli("init", name, "--template", name)
        assert result.code == 0, result.err
    return workspace


def test_run_answers_with_the_test_model(workspace: Path, cli: Cli) -> None:
    result = cli("run", "--agent", "assistant", "--model", "test", "hello there")
    assert result.code == 0, result.err
    assert result.out.startswith("[test model]")
    assert "assistant: " in result.err and "deterministic model" in result.err


def test_json_output_has_the_trace(workspace: Path, cli: Cli) -> None:
    result = cli("run", "--agent", "assistant", "--model", "test", "hello", "--json")
    assert result.code == 0, result.err
    data = json.loads(result.out)
    assert data["stop_reason"] == "done" and data["deterministic"] is True
    kinds = [s["kind"] for s in data["spans"]]
    assert kinds[0] == "request" and "agent" in kinds and "llm" in kinds
    llm = next(s for s in data["spans"] if s["kind"] == "llm")
    assert llm["attributes"]["gen_ai.operation.name"] == "chat"
    assert llm["attributes"]["gen_ai.usage.input_tokens"] > 0


def test_every_template_runs_end_to_end(full: Path) -> None:
    runtime = Runtime(full, model="test")
    try:
        for name in template_names():
            agent = runtime.snapshot.agents[name]
            result = runtime.execute("summarise the quarterly numbers", agent=name)
            assert result.stop_reason == "done", (name, result.detail)
            assert result.answer.startswith("[test model]"), name
            called = {
                s.attributes["gen_ai.tool.name"]
                for s in result.trace.spans
                if s.kind == "tool" and s.parent_id == _agent_span(result, name)
            }
            assert called == set(agent.tools), name  # the test model calls each tool once
            refused = [s for s in result.trace.spans if s.attributes.get("caxton.tool.refused")]
            assert refused == [], name
    finally:
        runtime.close()


def _agent_span(result: ExecutionResult, name: str) -> str:
    return next(
        s.span_id
        for s in result.trace.spans
        if s.kind == "agent" and s.attributes["gen_ai.agent.name"] == name
    )


def test_the_coordinator_delegates_to_other_agents(full: Path) -> None:
    runtime = Runtime(full, model="test")
    try:
        result = runtime.execute(
            "validate the sales CSV, then analyse it and write a short report",
            agent="pipeline-coordinator",
        )
    finally:
        runtime.close()
    assert result.stop_reason == "done", result.detail
    agents = [s for s in result.trace.spans if s.kind == "agent"]
    assert len({s.trace_id for s in result.trace.spans}) == 1  # one trace across every hop
    assert {s.attributes["caxton.depth"] for s in agents} >= {0, 1}
    performatives = {
        s.attributes["caxton.message.performative"]
        for s in result.trace.spans
        if s.kind == "message"
    }
    assert {"request", "cfp", "accept-proposal", "inform"} <= performatives
    stored = runtime.conversations.messages(result.conversation_id)
    kinds = [m["performative"] for m in stored]
    assert "request" in kinds and "propose" in kinds and "accept-proposal" in kinds
    assert all(m["conversation_id"] == result.conversation_id for m in stored)


def test_routing_picks_the_agent(full: Path, cli: Cli) -> None:
    result = cli("run", "--model", "test", "review this diff for security bugs", "--json")
    assert result.code == 0, result.err
    data = json.loads(result.out)
    assert data["agent"] == "code-reviewer" and data["route"]["chosen"] == "code-reviewer"


def test_a_request_no_agent_fits_says_how_to_ask_one_by_name(workspace: Path, cli: Cli) -> None:
    """The TUI starts on "auto": its hint must not only speak of the CLI's `--agent`."""
    result = cli("run", "--model", "test", "zzqx vlorp")
    assert result.code == ExitCode.USAGE and "no agent fits this request" in result.err
    assert "`caxton run --agent NAME`" in result.err and "the TUI's sidebar" in result.err


def test_unknown_agent_and_no_workspace(workspace: Path, cli: Cli, tmp_path: Path) -> None:
    wrong = cli("run", "--agent", "asistant", "--model", "test", "hi")
    assert wrong.code == ExitCode.NOT_FOUND and "did you mean 'assistant'?" in wrong.err
    outside = cli("run", "--model", "test", "hi", cwd=tmp_path)
    assert outside.code == ExitCode.NOT_FOUND


def test_overload_is_refused_not_queued(workspace: Path) -> None:
    runtime = Runtime(workspace, model="test", max_concurrent=1)
    release = threading.Event()
    started = threading.Event()

    def slow(text: str) -> None:
        started.set()
        release.wait(10)

    worker = threading.Thread(
        target=runtime.execute, args=("hello",), kwargs={"agent": "assistant", "on_text": slow}
    )
    worker.start()
    try:
        assert started.wait(10)
        begun = time.monotonic()
        with pytest.raises(Overloaded, match="already running"):
            runtime.execute("second", agent="assistant")
        assert time.monotonic() - begun < 1
    finally:
        release.set()
        worker.join(10)
        runtime.close()


def test_requests_in_flight_keep_their_snapshot(workspace: Path) -> None:
    runtime = Runtime(workspace, model="test")
    release, started = threading.Event(), threading.Event()
    results = []

    def slow(text: str) -> None:
        started.set()
        release.wait(10)

    worker = threading.Thread(
        target=lambda: results.append(runtime.execute("hello", agent="assistant", on_text=slow))
    )
    worker.start()
    try:
        assert started.wait(10)
        agent_file = workspace / "agents" / "assistant.toml"
        agent_file.write_text(
            agent_file.read_text().replace('name = "assistant"', 'name = "helper"')
        )
        runtime.reload()
        assert "helper" in runtime.snapshot.agents and "assistant" not in runtime.snapshot.agents
    finally:
        release.set()
        worker.join(10)
        runtime.close()
    assert results[0].agent == "assistant" and results[0].stop_reason == "done"


def test_chat_is_a_line_repl_with_one_conversation(
    workspace: Path, cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    import io

    monkeypatch.setattr("sys.stdin", io.StringIO("hello\nand again\n\nnot read\n"))
    result = cli("chat", "assistant", "--model", "test")
    assert result.code == 0, result.err
    answers = [line for line in result.out.splitlines() if line.startswith("[test model]")]
    assert len(answers) == 2  # the empty line ended the chat
    assert "chatting with assistant" in result.err and result.err.count("assistant: ") == 2
    wrong = cli("chat", "nobody", "--model", "test")
    assert wrong.code == ExitCode.NOT_FOUND and "no agent named 'nobody'" in wrong.err


def test_an_external_mcp_tool_reaches_the_model_with_its_real_schema(
    workspace: Path, cli: Cli
) -> None:
    import sys

    with (workspace / "caxton.toml").open("a", encoding="utf-8") as handle:
        command = json.dumps([sys.executable, "-m", "mcp_server_time", "--local-timezone", "UTC"])
        handle.write(f'\n[mcp_servers.time]\ncommand = {command}\ntools = ["get_current_time"]\n')
    (workspace / "agents" / "clock.toml").write_text(
        'name = "clock"\ndescription = "Tells the time."\ncapabilities = ["time"]\n'
        'tools = ["get_current_time"]\nsystem_prompt = "You tell the time."\n'
        'user_prompt_template = "{{request}}"\n'
    )
    result = cli("run", "--agent", "clock", "--model", "test", "what time is it?", "--json")
    assert result.code == 0, result.err
    data = json.loads(result.out)
    tool = next(s for s in data["spans"] if s["kind"] == "tool")
    assert tool["attributes"]["caxton.tool.sandboxed"] is False
    # The test model filled the server's required `timezone` because it saw the real schema
    # (with the declared placeholder it would send no arguments at all); the server itself
    # then judged the made-up value, so the call reached it and answered.
    assert "Invalid timezone" in tool["attributes"]["caxton.error"]
