"""A model that misbehaves, served over real HTTP by a scripted OpenAI-compatible server: the
runtime refuses what is not allowed, and every limit ends the request cleanly with its reason.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from caxton.errors import ExitCode
from caxton.llm.base import FORBID_ENV
from caxton.runtime.runtime import Runtime
from tests.conftest import Cli
from tests.llm.fake_servers import FakeServer, Reply, openai_completion, openai_stream

KEY_ENV = "CAXTON_FAKE_KEY"


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeServer]:
    monkeypatch.delenv(FORBID_ENV, raising=False)
    monkeypatch.setenv(KEY_ENV, "sk-fake")
    fake = FakeServer().start()
    yield fake
    fake.stop()


def agent(root: Path, name: str, tools: list[str], limits: str = "") -> None:
    (root / "agents" / f"{name}.toml").write_text(
        f'name = "{name}"\ndescription = "An agent for {name} tests."\n'
        f'capabilities = ["{name}-work"]\ntools = {json.dumps(tools)}\n'
        'system_prompt = "You help."\nuser_prompt_template = "{{request}}"\n'
        f'[llm]\nprovider = "fake"\n[limits]\n{limits}'
    )


@pytest.fixture
def root(workspace: Path, server: FakeServer) -> Path:
    config = workspace / "caxton.toml"
    config.write_text(
        config.read_text()
        + f'\n[llm.providers.fake]\nkind = "openai"\nbase_url = "{server.url}/v1"\n'
        f'model = "gpt-4o"\napi_key_env = "{KEY_ENV}"\n'
    )
    return workspace


def call(name: str, arguments: str, id_: str = "c1") -> Reply:
    return Reply(body=openai_completion(None, tool_calls=[(id_, name, arguments)]))


def answer(text: str, usage: tuple[int, int] = (12, 5)) -> Reply:
    return Reply(body=openai_completion(text, usage=usage))


def test_a_tool_not_allowed_is_refused_and_recorded(root: Path, server: FakeServer) -> None:
    agent(root, "careful", ["text"])
    server.push(call("file_write", '{"path": "x", "content": "y"}'), answer("ok, I could not"))
    result = Runtime(root).execute("write a file", agent="careful")
    assert result.stop_reason == "done" and result.answer == "ok, I could not"
    refused = [s for s in result.trace.spans if s.attributes.get("caxton.tool.refused")]
    assert len(refused) == 1 and refused[0].status == "error"
    tool_message = server.requests[1].body["messages"][-1]
    assert tool_message["role"] == "tool"
    assert "not allowed for agent 'careful'; it may call: text" in tool_message["content"]
    assert not (root / ".caxton" / "data" / "x").exists()


def test_invalid_tool_arguments_reach_the_model_as_an_error(root: Path, server: FakeServer) -> None:
    agent(root, "texty", ["text"])
    server.push(
        call("text", "{not json", "c1"),
        call("text", '{"op": "shout"}', "c2"),
        call("text", '{"op": "words", "text": "a b c"}', "c3"),
        answer("3 words"),
    )
    result = Runtime(root).execute("count", agent="texty")
    assert result.stop_reason == "done" and result.tool_calls == 3
    seen = [m for r in server.requests for m in r.body["messages"] if m["role"] == "tool"]
    contents = {m["tool_call_id"]: m["content"] for m in seen}
    assert "not a JSON object" in contents["c1"]
    assert "do not fit its input schema" in contents["c2"]
    assert json.loads(contents["c3"])["words"] == 3


def test_a_model_that_loops_on_tool_calls_stops_at_max_tool_calls(
    root: Path, server: FakeServer, cli: Cli
) -> None:
    agent(root, "loopy", ["text"], "max_tool_calls = 3\nmax_turns = 20\n")
    server.push(*[call("text", '{"op": "words", "text": "again"}', f"c{i}") for i in range(10)])
    result = cli("run", "--agent", "loopy", "go", "--json")
    assert result.code == ExitCode.LIMIT
    data = json.loads(result.out)
    assert data["stop_reason"] == "max_tool_calls" and data["tool_calls"] == 3
    assert "max_tool_calls" in data["detail"]
    assert sum(1 for s in data["spans"] if s["kind"] == "tool") == 3


def test_max_turns(root: Path, server: FakeServer) -> None:
    agent(root, "chatty", ["text"], "max_turns = 2\n")
    server.push(*[call("text", '{"op": "words", "text": "x"}', f"c{i}") for i in range(5)])
    result = Runtime(root).execute("go", agent="chatty")
    assert result.stop_reason == "max_turns" and result.turns == 2
    assert "raise [limits] max_turns" in result.detail


def test_the_budget_stops_the_request(root: Path, server: FakeServer) -> None:
    agent(root, "spender", ["text"], "max_cost_usd = 0.01\n")
    config = root / "caxton.toml"  # a model on this machine is free unless priced
    config.write_text(config.read_text() + '\n[llm.prices."gpt-4o"]\ninput = 2.5\noutput = 10.0\n')
    expensive = Reply(
        body=openai_completion(
            None, tool_calls=[("c1", "text", '{"op":"words","text":"x"}')], usage=(8000, 100)
        )
    )
    server.push(expensive, answer("never asked"))
    result = Runtime(root).execute("go", agent="spender")
    assert result.stop_reason == "max_cost_usd"
    assert result.cost_usd is not None and result.cost_usd > 0.01
    assert len(server.requests) == 1  # stopped before the tool and the second model call


def test_the_time_limit(root: Path, server: FakeServer) -> None:
    agent(root, "slow", ["text"], 'timeout = "1s"\n')
    server.push(Reply(body=openai_completion("late"), delay=3))
    result = Runtime(root).execute("go", agent="slow")
    assert result.stop_reason == "timeout" and "raise [limits] timeout" in result.detail
    assert result.trace.spans[0].seconds < 2.5


def test_a_model_that_fails_falls_back(root: Path, server: FakeServer) -> None:
    agent(root, "resilient", [], "")
    path = root / "agents" / "resilient.toml"
    path.write_text(
        path.read_text().replace('provider = "fake"', 'provider = "fake"\nfallback = ["test"]')
    )
    server.push(*[Reply(500, {"error": {"message": "down"}}) for _ in range(5)])
    result = Runtime(root).execute("hello", agent="resilient")
    assert result.stop_reason == "done" and result.answer.startswith("[test model]")
    assert result.deterministic


def test_a_delegation_cycle_is_refused(root: Path, server: FakeServer) -> None:
    agent(root, "ping", ["delegate"])
    agent(root, "pong", ["delegate"])
    # ping delegates to pong; pong delegates back to ping: refused as a cycle
    server.push(
        call("delegate", '{"capability": "pong-work", "request": "please"}'),
        call("delegate", '{"capability": "ping-work", "request": "back to you"}'),
        answer("pong gives up"),
        answer("ping is done"),
    )
    result = Runtime(root).execute("start", agent="ping")
    assert result.stop_reason == "done" and result.answer == "ping is done"
    cycle = [s for s in result.trace.spans if "caxton.message.cycle" in s.attributes]
    assert cycle and cycle[0].attributes["caxton.message.cycle"] == "ping -> pong -> ping"
    told = [
        m["content"] for r in server.requests for m in r.body["messages"] if m["role"] == "tool"
    ]
    assert any("would make a cycle (ping -> pong -> ping)" in c for c in told)


def test_record_then_replay_offline(root: Path, server: FakeServer, cli: Cli) -> None:
    agent(root, "recorded", ["text"])
    server.push(call("text", '{"op": "words", "text": "one two"}'), answer("two words"))
    live = cli("run", "--agent", "recorded", "count please", "--record", "session.jsonl")
    assert live.code == 0, live.err
    assert live.out.strip() == "two words"
    config = root / "caxton.toml"
    config.write_text(
        config.read_text() + '\n[llm.providers.tape]\nkind = "replay"\ncassette = "session.jsonl"\n'
    )
    server.stop()  # offline from here on
    replayed = cli("run", "--agent", "recorded", "count please", "--model", "tape", "--json")
    assert replayed.code == 0, replayed.err
    data = json.loads(replayed.out)
    assert data["answer"] == "two words" and data["deterministic"] is True
    assert data["tool_calls"] == 1
    changed = cli("run", "--agent", "recorded", "count something else", "--model", "tape")
    assert changed.code == ExitCode.UNAVAILABLE
    assert "session.jsonl" in changed.err and "--record" in changed.err


def test_the_budget_cuts_a_stream(root: Path, server: FakeServer, cli: Cli) -> None:
    agent(root, "talker", [], "max_cost_usd = 0.001\n")
    config = root / "caxton.toml"
    config.write_text(config.read_text() + '\n[llm.prices."gpt-4o"]\ninput = 2.5\noutput = 10.0\n')
    words = [f"word{i} " for i in range(2000)]  # ~3,000 tokens: $0.03, thirty times the budget
    server.push(Reply(events=openai_stream(words, usage=(50, 3000)), pause=0.0))
    result = cli("run", "--agent", "talker", "tell me everything")
    assert result.code == ExitCode.LIMIT
    assert "would take the request past its $0.001 budget" in result.err
    streamed = result.out.split()
    assert 0 < len(streamed) < 600  # cut early, not after the whole answer


def test_a_chat_sends_the_earlier_exchanges(root: Path, server: FakeServer) -> None:
    agent(root, "friend", [])
    server.push(answer("Nice to meet you, Ada."))
    history = (("My name is Ada.", "Hello Ada!"),)
    result = Runtime(root).execute("What is my name?", agent="friend", history=history)
    assert result.answer == "Nice to meet you, Ada."
    sent = [(m["role"], m["content"]) for m in server.requests[0].body["messages"]]
    assert sent[1:] == [
        ("user", "My name is Ada."),
        ("assistant", "Hello Ada!"),
        ("user", "What is my name?"),
    ]
