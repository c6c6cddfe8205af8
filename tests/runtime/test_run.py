"""`caxton run` end to end with the `test` model: real workspaces, real tools, real memory."""

from __future__ import annotations

import json
import re
import threading
import time
from pathlib import Path

import pytest

from caxton.errors import ExitCode, UsageError
from caxton.observability.trace import Span
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


def test_the_test_model_remembers_each_request_under_a_name_of_its_own(workspace: Path) -> None:
    """The assistant's `memory_store` call keeps the request, not the prompt: the later
    requests' prompts hold what memory recalled of the earlier ones, and storing that back
    would grow one entity, recalled by every request, with every prompt."""
    requests = [
        "Remember that the weekly report goes out on Thursdays.",
        "What did we decide about the weekly report?",
        "Remember that the weekly report goes out on Thursdays.",  # the same note again
    ]
    runtime = Runtime(workspace, model="test")
    try:
        for request in requests:
            result = runtime.execute(request, agent="assistant")
            assert result.stop_reason == "done", result.detail
        (scope,) = runtime.memory.scopes()
        notes = {e.name: (e.type, list(e.observations)) for e in runtime.memory.entities(scope)}
    finally:
        runtime.close()
    assert "remember-that-the-weekly-report (note)" in result.answer  # recalled in the prompt...
    assert notes == {  # ...and none of it was stored again
        "remember-that-the-weekly-report": ("note", [requests[0]]),
        "what-did-we-decide-about": ("note", [requests[1]]),
    }


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
    assert data["route"]["method"] == "embedding"  # the fallback takes only what fits nobody


def drop_fallback(root: Path) -> None:
    config = root / "caxton.toml"
    config.write_text(config.read_text().replace('fallback = "assistant"\n', ""))


def test_a_request_no_agent_fits_says_how_to_ask_one_by_name(workspace: Path, cli: Cli) -> None:
    """The TUI starts on "auto": its hint must not only speak of the CLI's `--agent`."""
    drop_fallback(workspace)
    result = cli("run", "--model", "test", "zzqx vlorp")
    assert result.code == ExitCode.USAGE and "no agent fits this request" in result.err
    assert "`caxton run --agent NAME`" in result.err and "the TUI's sidebar" in result.err


def test_hello_in_a_new_workspace_reaches_the_fallback_assistant(workspace: Path, cli: Cli) -> None:
    """The first thing a new user types: no agent fits it, so `[routing] fallback` answers."""
    result = cli("run", "--model", "test", "hello")
    assert result.code == 0, result.err
    assert result.out.startswith("[test model]")
    assert re.search(
        r"^routed to assistant: no agent fits \(best: 'assistant' 0\.\d\d < 0\.46\): "
        r"the workspace's fallback agent 'assistant'$",
        result.err,
        re.MULTILINE,
    ), result.err
    data = json.loads(cli("run", "--model", "test", "what is 2+2?", "--json").out)
    assert data["agent"] == "assistant" and data["stop_reason"] == "done"
    route = data["route"]
    assert route["chosen"] == "assistant" and route["method"] == "fallback"
    assert route["candidates"][0]["agent"] == "assistant" and route["candidates"][0]["score"] < 0.46
    span = next(s for s in data["spans"] if s["kind"] == "route")
    assert span["status"] == "ok"
    assert span["attributes"]["caxton.route.method"] == "fallback"
    assert span["attributes"]["caxton.route.chosen"] == "assistant"
    assert span["attributes"]["caxton.route.reason"] == route["reason"]


def test_an_invalid_fallback_is_named_in_the_hint(workspace: Path) -> None:
    assistant = workspace / "agents" / "assistant.toml"
    assistant.write_text(assistant.read_text().replace("capabilities = [", "capabilitys = ["))
    (workspace / "agents" / "helper.toml").write_text(
        'name = "helper"\ndescription = "Reviews code."\ncapabilities = ["code-review"]\n'
        'system_prompt = "You review code."\n'
    )
    spans: list[Span] = []
    runtime = Runtime(workspace, model="test")
    try:
        with pytest.raises(UsageError) as raised:
            runtime.execute("hello", on_span=spans.append)
    finally:
        runtime.close()
    assert raised.value.message.startswith("no agent fits this request: the best, 'helper'")
    problem = (
        "the workspace's fallback agent 'assistant' cannot take it: it is invalid: "
        "agents/assistant.toml:1:1: missing required key 'capabilities' in the top level"
    )
    assert raised.value.hint is not None
    assert raised.value.hint.startswith(f"{problem}; fix it (`caxton validate`), or ask an agent")
    route = next(s for s in spans if s.kind == "route")
    assert route.status == "error"
    assert route.attributes["caxton.route.fallback_problem"] == problem


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
