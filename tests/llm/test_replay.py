"""Recording a session to a cassette and replaying it: exactly, concurrently, and with clear
errors when the conversation or the file is not what was recorded."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from caxton.errors import FileAccessError
from caxton.llm import replay
from caxton.llm.base import (
    FinishReason,
    LlmError,
    Message,
    ModelRequest,
    ModelResponse,
    OnText,
    Provider,
    ToolCall,
    ToolSpec,
    Usage,
)
from caxton.llm.replay import RecordingProvider, ReplayProvider, response_to_json

SEARCH = ToolSpec("memory_search", "search", {"type": "object", "properties": {"query": {}}})


class Fake:
    """A stand-in for a real provider, deliberately not deterministic: a counter in every answer,
    so a replay that asked it again instead of reading the cassette would show."""

    deterministic = False

    def __init__(self) -> None:
        self.name = "fake"
        self.calls = 0
        self._lock = threading.Lock()

    def complete(
        self, request: ModelRequest, *, on_text: OnText | None = None, deadline: float | None = None
    ) -> ModelResponse:
        with self._lock:
            self.calls += 1
            n = self.calls
        last = request.messages[-1]
        if last.role == "user" and request.tools:
            call = ToolCall(f"toolu_{n}", SEARCH.name, {"query": last.content}, "{...}")
            message = Message("assistant", "Let me look.", (call,))
        else:
            message = Message("assistant", f"Answer {n}: it is {last.content}, ünïcode ✓.")
        if on_text is not None:
            on_text(message.content)
        finish: FinishReason = "tool_calls" if message.tool_calls else "stop"
        return ModelResponse(message, Usage(100 + n, n), "fake-1", self.name, finish, 0.25 * n)


def converse(
    provider: Provider, question: str, chunks: list[str] | None = None
) -> list[ModelResponse]:
    """Two turns, as the executor runs them: the model calls the tool, then answers."""
    request = ModelRequest((Message("system", "be brief"), Message("user", question)), (SEARCH,))
    on_text = chunks.append if chunks is not None else None
    first = provider.complete(request, on_text=on_text)
    call = first.message.tool_calls[0]
    result = Message("tool", f"found {question!r}", tool_call_id=call.id, name=call.name)
    follow_up = ModelRequest((*request.messages, first.message, result), (SEARCH,))
    return [first, provider.complete(follow_up, on_text=on_text)]


def same(a: ModelResponse, b: ModelResponse) -> bool:
    keep = ("message", "usage", "model", "finish_reason")
    return json.dumps({k: response_to_json(a)[k] for k in keep}) == json.dumps(
        {k: response_to_json(b)[k] for k in keep}
    )


@pytest.fixture
def cassette(tmp_path: Path) -> Path:
    return tmp_path / "sessions" / "acme.jsonl"


def record(cassette: Path, *questions: str) -> list[list[ModelResponse]]:
    recorder = RecordingProvider(Fake(), cassette)
    return [converse(recorder, q) for q in questions]


def test_a_replay_answers_exactly_what_was_recorded(cassette: Path) -> None:
    recorded_chunks: list[str] = []
    recorder = RecordingProvider(Fake(), cassette)
    recorded = converse(recorder, "the acme account", recorded_chunks)
    replay_chunks: list[str] = []
    replayed = converse(ReplayProvider("replay", cassette), "the acme account", replay_chunks)
    assert all(same(a, b) for a, b in zip(recorded, replayed, strict=True))
    assert "".join(replay_chunks) == "".join(recorded_chunks)
    for response in replayed:
        assert response.deterministic and response.provider == "replay"
        assert response.cost_usd == 0.0
    info = replayed[1].extra["replay"]
    assert (info["recorded_provider"], info["recorded_model"]) == ("fake", "fake-1")
    assert info["recorded_cost_usd"] == 0.5 and info["line"] == 3


def test_the_cassette_is_a_header_then_a_line_per_turn(cassette: Path) -> None:
    record(cassette, "a")
    header, *turns = (json.loads(line) for line in cassette.read_text("utf-8").splitlines())
    assert header["caxton_cassette"] == 1 and header["provider"] == "fake"
    assert header["model"] == "fake-1" and header["recorded_at"].endswith("+00:00")
    assert len(turns) == 2
    assert set(turns[0]) == {"request", "request_sha256", "response"}
    assert set(turns[0]["request"]) == {"messages", "tools", "model", "max_tokens", "temperature"}
    tools = [{"name": SEARCH.name, "input_schema": SEARCH.input_schema}]
    assert turns[0]["request"]["tools"] == tools
    assert "ünïcode ✓" in cassette.read_text("utf-8")  # readable, not \\u-escaped


def test_a_changed_conversation_names_the_first_difference(cassette: Path) -> None:
    record(cassette, "the acme account")
    with pytest.raises(LlmError) as caught:
        converse(ReplayProvider("replay", cassette), "the acme accounts")
    message = caught.value.message
    assert str(cassette) in message and "2 recorded turns" in message
    assert "message 2 (user) differs: recorded 'the acme account' vs now 'the acme accounts'" in (
        message
    )
    assert caught.value.hint is not None and "`--record`" in caught.value.hint


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            lambda r: ModelRequest((*r.messages, Message("user", "and?")), r.tools),
            "the request has 3 messages, the recording 2; message 3 (user) is new: 'and?'",
        ),
        (lambda r: ModelRequest(r.messages, ()), "the tools differ: recorded ['memory_search']"),
        (
            lambda r: ModelRequest(r.messages, r.tools, temperature=0.9),
            "temperature differs: recorded 0.2 vs now 0.9",
        ),
    ],
)
def test_other_differences_are_named(
    cassette: Path, change: Callable[[ModelRequest], ModelRequest], expected: str
) -> None:
    record(cassette, "q")
    request = ModelRequest((Message("system", "be brief"), Message("user", "q")), (SEARCH,))
    with pytest.raises(LlmError, match=re.escape(expected)):
        ReplayProvider("replay", cassette).complete(change(request))


def test_the_model_name_is_not_matched(cassette: Path) -> None:
    """Replaying means asking another provider: the model the agent names may differ."""
    record(cassette, "q")
    request = ModelRequest((Message("system", "be brief"), Message("user", "q")), (SEARCH,))
    retargeted = ModelRequest(request.messages, request.tools, model="something-else")
    assert ReplayProvider("replay", cassette).complete(retargeted).message.tool_calls


def test_a_request_recorded_twice_is_served_in_order(cassette: Path) -> None:
    recorded = record(cassette, "same", "same")
    replay = ReplayProvider("replay", cassette)
    first, second = converse(replay, "same"), converse(replay, "same")
    assert same(first[1], recorded[0][1]) and same(second[1], recorded[1][1])
    assert not same(first[1], second[1])
    assert same(converse(replay, "same")[1], recorded[0][1])  # then from the start again


def test_concurrent_conversations_record_and_replay(cassette: Path) -> None:
    questions = [f"question {i}" for i in range(24)]
    recorder = RecordingProvider(Fake(), cassette)
    with ThreadPoolExecutor(8) as pool:
        answers = pool.map(lambda q: converse(recorder, q), questions)
        recorded = dict(zip(questions, answers, strict=True))
    lines = cassette.read_text("utf-8").splitlines()
    assert len(lines) == 1 + 2 * len(questions)
    assert all(json.loads(line) for line in lines)  # no line torn by another thread
    replay = ReplayProvider("replay", cassette)
    with ThreadPoolExecutor(8) as pool:
        backwards = questions[::-1]
        answers = pool.map(lambda q: converse(replay, q), backwards)
        replayed = dict(zip(backwards, answers, strict=True))
    for question in questions:
        pair = zip(recorded[question], replayed[question], strict=True)
        assert all(same(a, b) for a, b in pair), question


def corrupt(cassette: Path, text: str) -> LlmError:
    cassette.parent.mkdir(parents=True, exist_ok=True)
    cassette.write_text(text, encoding="utf-8")
    with pytest.raises(LlmError) as caught:
        converse(ReplayProvider("replay", cassette), "q")
    return caught.value


HEADER = '{"caxton_cassette": 1, "provider": "fake", "model": "m", "recorded_at": "2025"}\n'


@pytest.mark.parametrize(
    ("text", "where", "problem"),
    [
        (HEADER + '{"request": {"messages": []}, "response": \n', 2, "not JSON"),
        ('{"request": {}}\n', 1, "the first line is not a header"),
        ("", 1, "the file is empty"),
        (HEADER + "[1, 2]\n", 2, "expected a JSON object"),
        (HEADER + '{"request": {"messages": []}}\n', 2, 'no "response"'),
        (
            HEADER + '{"request": {"messages": []}, "response": {"message": {"content": "x"}}}\n',
            2,
            "malformed",
        ),
        (
            HEADER + '{"request": {"messages": []}, "response": {"message": {"role": "user"}}}\n',
            2,
            "not 'assistant'",
        ),
    ],
)
def test_a_corrupt_cassette_is_named_with_its_line(
    cassette: Path, text: str, where: int, problem: str
) -> None:
    error = corrupt(cassette, text)
    assert error.message.startswith(f"{cassette}:{where}: ") and problem in error.message
    assert error.hint is not None and "--record" in error.hint


def test_a_newer_format_and_a_missing_file_say_so(cassette: Path) -> None:
    with pytest.raises(LlmError, match="no cassette at") as caught:
        converse(ReplayProvider("replay", cassette), "q")
    assert caught.value.hint is not None and "--record" in caught.value.hint
    error = corrupt(cassette, HEADER.replace('"caxton_cassette": 1', '"caxton_cassette": 2'))
    assert "cassette format 2" in error.message


def test_a_failed_call_is_not_recorded(cassette: Path) -> None:
    class Down(Fake):
        def complete(
            self,
            request: ModelRequest,
            *,
            on_text: OnText | None = None,
            deadline: float | None = None,
        ) -> ModelResponse:
            raise LlmError("unreachable")

    with pytest.raises(LlmError):
        converse(RecordingProvider(Down(), cassette), "q")
    assert not cassette.exists()


def new_process(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(replay, "_recordings", {})


def test_one_process_records_one_session(cassette: Path) -> None:
    """The runtime makes a recorder per provider of a fallback chain: they share the cassette."""
    first, second = RecordingProvider(Fake(), cassette), RecordingProvider(Fake(), cassette)
    converse(first, "one")
    converse(second, "two")
    text = cassette.read_text("utf-8")
    assert text.count("caxton_cassette") == 1 and "one" in text and "two" in text


def test_a_new_recording_starts_afresh_unless_appending(
    cassette: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    record(cassette, "old")
    new_process(monkeypatch)
    record(cassette, "new")
    assert "old" not in cassette.read_text("utf-8")
    new_process(monkeypatch)
    converse(RecordingProvider(Fake(), cassette, append=True), "more")
    text = cassette.read_text("utf-8")
    assert text.count("caxton_cassette") == 1 and "new" in text and "more" in text
    assert len(text.splitlines()) == 5  # the header and four turns


def test_an_unwritable_cassette_is_a_file_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(FileAccessError, match="cannot write the cassette"):
        converse(RecordingProvider(Fake(), blocker / "c.jsonl"), "q")


def test_a_hand_edited_request_matches_what_it_now_says(cassette: Path) -> None:
    record(cassette, "before")
    cassette.write_text(cassette.read_text("utf-8").replace("before", "after"), "utf-8")
    assert converse(ReplayProvider("replay", cassette), "after")[1].message.content
