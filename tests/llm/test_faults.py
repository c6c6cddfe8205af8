"""Every way a model endpoint fails, injected by the fake server, for both API dialects.

Each fault must end in a clean `LlmError` (or a transparent retry) with a message that says
what happened; waits are recorded instead of slept unless the test is about sleeping."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from caxton.llm.base import LlmError
from caxton.llm.http import RemoteProvider, RetryPolicy
from caxton.llm.openai import OpenAIProvider
from tests.llm.conftest import FAST, KEY, KEY_ENV, anthropic_at, ask, openai_at
from tests.llm.fake_servers import (
    FakeServer,
    Reply,
    anthropic_message,
    anthropic_stream,
    openai_completion,
    openai_stream,
)


@dataclass(frozen=True)
class Dialect:
    name: str
    make: Callable[..., RemoteProvider]
    whole: Callable[[str], dict[str, Any]]
    stream: Callable[[list[str]], list[str]]
    first_text: int  # index of the event carrying the first text delta


DIALECTS = [
    Dialect("openai", openai_at, lambda t: openai_completion(t), lambda p: openai_stream(p), 2),
    Dialect(
        "anthropic", anthropic_at, lambda t: anthropic_message(t), lambda p: anthropic_stream(p), 3
    ),
]


@pytest.fixture(params=DIALECTS, ids=[d.name for d in DIALECTS])
def dialect(request: pytest.FixtureRequest) -> Dialect:
    d: Dialect = request.param
    return d


def error_body(message: str) -> dict[str, Any]:
    return {"error": {"message": message, "type": "error"}}


# ----- retries and Retry-After ----------------------------------------------------------------


def test_429_waits_as_long_as_retry_after_says(
    server: FakeServer, sleeps: list[float], dialect: Dialect
) -> None:
    server.push(
        Reply(429, error_body("Rate limit reached"), headers={"retry-after": "2"}),
        Reply(body=dialect.whole("after the wait")),
    )
    response = dialect.make(server, sleeps).complete(ask())
    assert response.message.content == "after the wait"
    assert sleeps == [2.0] and response.attempts == 2 and len(server.requests) == 2


def test_retry_after_is_really_slept(server: FakeServer) -> None:
    server.push(Reply(429, error_body("slow down"), headers={"retry-after": "0.3"}))
    server.push(Reply(body=openai_completion("ok")))
    openai_at(server).complete(ask())
    first, second = server.requests
    assert second.at - first.at >= 0.3


def test_retry_after_past_the_deadline_gives_up_at_once(
    server: FakeServer, sleeps: list[float], dialect: Dialect
) -> None:
    server.push(Reply(429, error_body("Rate limit reached"), headers={"retry-after": "30"}))
    started = time.monotonic()
    with pytest.raises(LlmError, match=r"after the request's deadline \(in 30.0s\)") as caught:
        dialect.make(server, sleeps).complete(ask(), deadline=started + 2)
    assert time.monotonic() - started < 1 and sleeps == [] and len(server.requests) == 1
    assert "rate limited (HTTP 429: Rate limit reached)" in caught.value.message


def test_retry_after_longer_than_caxton_waits(server: FakeServer, sleeps: list[float]) -> None:
    server.push(Reply(429, error_body("quota"), headers={"retry-after": "3600"}))
    with pytest.raises(LlmError, match="asks to retry in 3600s, longer than Caxton waits"):
        openai_at(server, sleeps).complete(ask())
    assert sleeps == []


def test_500_then_success(server: FakeServer, sleeps: list[float], dialect: Dialect) -> None:
    server.push(Reply(500, error_body("internal error")), Reply(body=dialect.whole("second try")))
    response = dialect.make(server, sleeps).complete(ask())
    assert response.message.content == "second try" and response.attempts == 2
    first, second = server.requests
    assert first.body == second.body
    assert len(sleeps) == 1 and 0.005 <= sleeps[0] <= 0.01  # backoff: base 0.01, jitter 50%


def test_a_server_that_stays_down(server: FakeServer, sleeps: list[float]) -> None:
    server.push(*[Reply(503, error_body("Service Unavailable"))] * 3)
    with pytest.raises(
        LlmError, match=r"HTTP 503: Service Unavailable\); gave up after 3 attempts"
    ):
        openai_at(server, sleeps).complete(ask())
    assert len(server.requests) == 3 and len(sleeps) == 2
    assert sleeps[1] > sleeps[0] * 0.9  # grows (up to jitter)


def test_read_timeout_then_success(
    server: FakeServer, sleeps: list[float], dialect: Dialect
) -> None:
    server.push(Reply(body=dialect.whole("late"), delay=0.6), Reply(body=dialect.whole("on time")))
    response = dialect.make(server, sleeps, timeout=0.2).complete(ask())
    assert response.message.content == "on time" and response.attempts == 2


def test_read_timeouts_until_out_of_attempts(server: FakeServer, sleeps: list[float]) -> None:
    server.push(*[Reply(body=openai_completion("late"), delay=0.5)] * 2)
    two = RetryPolicy(attempts=2, base_delay=0.01)
    with pytest.raises(
        LlmError, match=r"within the read timeout \(0.2s\); gave up after 2 attempts"
    ):
        openai_at(server, sleeps, timeout=0.2, retry=two).complete(ask())


def test_nothing_listening(live: None, sleeps: list[float]) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    closed = OpenAIProvider(
        "nobody", base_url=f"http://127.0.0.1:{port}/v1", model="m", retry=FAST, sleep=sleeps.append
    )
    with pytest.raises(LlmError, match=r"could not connect to .*after 3 attempts") as caught:
        closed.complete(ask())
    assert caught.value.hint == f"is the local server at http://127.0.0.1:{port}/v1 running?"


def test_time_already_up(server: FakeServer) -> None:
    with pytest.raises(LlmError, match="time ran out before the model answered"):
        openai_at(server).complete(ask(), deadline=time.monotonic() - 1)
    assert server.requests == []


# ----- streams --------------------------------------------------------------------------------


def test_stream_cut_after_text_is_final(server: FakeServer, dialect: Dialect) -> None:
    server.push(Reply(events=dialect.stream(["Hel", "lo", "!"]), cut_after=dialect.first_text + 1))
    pieces: list[str] = []
    with pytest.raises(LlmError) as caught:
        dialect.make(server).complete(ask(), on_text=pieces.append)
    message = caught.value.message
    assert "the stream ended early, after part of the answer had been streamed" in message
    assert "not retried, since that text already reached you" in message
    assert pieces == ["Hel"] and len(server.requests) == 1


def test_stream_cut_before_text_is_retried(
    server: FakeServer, sleeps: list[float], dialect: Dialect
) -> None:
    server.push(
        Reply(events=dialect.stream(["lost"]), cut_after=1),
        Reply(events=dialect.stream(["Hel", "lo"])),
    )
    pieces: list[str] = []
    response = dialect.make(server, sleeps).complete(ask(), on_text=pieces.append)
    assert pieces == ["Hel", "lo"] and response.attempts == 2


def test_stream_closed_cleanly_before_its_end(server: FakeServer, dialect: Dialect) -> None:
    # the HTTP body ends properly, but the API's last events never came
    events = dialect.stream(["Hel", "lo"])[: dialect.first_text + 2]
    server.push(Reply(events=events))
    pieces: list[str] = []
    with pytest.raises(
        LlmError, match=r"ended early, after .*\(the server closed the connection\)"
    ):
        dialect.make(server).complete(ask(), on_text=pieces.append)
    assert pieces == ["Hel", "lo"]


def test_malformed_json_in_a_chunk(server: FakeServer, dialect: Dialect) -> None:
    events = dialect.stream(["Hel", "lo"])
    events.insert(dialect.first_text + 1, 'data: {"choices": [{"delta": {"content": "lo"}]')
    server.push(Reply(events=events))
    pieces: list[str] = []
    with pytest.raises(LlmError, match=r"not JSON: .*after part of the answer had been streamed"):
        dialect.make(server).complete(ask(), on_text=pieces.append)
    assert pieces == ["Hel"] and len(server.requests) == 1


def test_time_runs_out_mid_stream(server: FakeServer) -> None:
    # about one event per piece, 50 ms apart: text comes at once, the end after 2 s
    server.push(Reply(events=openai_stream(["word "] * 40), chunk_size=200, pause=0.05))
    pieces: list[str] = []
    started = time.monotonic()
    with pytest.raises(LlmError, match="time ran out while the answer was streaming, after part"):
        openai_at(server).complete(ask(), on_text=pieces.append, deadline=started + 0.6)
    assert 0 < len(pieces) < 40 and time.monotonic() - started < 1.2


# ----- refusals -------------------------------------------------------------------------------


def test_401_is_not_retried_and_never_shows_the_key(
    server: FakeServer, sleeps: list[float], dialect: Dialect
) -> None:
    server.push(Reply(401, error_body(f"Incorrect API key provided: {KEY}")))
    with pytest.raises(LlmError) as caught:
        dialect.make(server, sleeps).complete(ask(), on_text=lambda _: None)
    error = caught.value
    assert error.message == f"fake-{dialect.name}: the API key was refused (HTTP 401)"
    assert error.hint == f"check the key in {KEY_ENV} (`export {KEY_ENV}=...`)"
    assert KEY not in f"{error.message} {error.hint} {error!r}"
    assert len(server.requests) == 1 and sleeps == []


def test_403_says_access_was_refused(server: FakeServer, sleeps: list[float]) -> None:
    server.push(Reply(403, error_body("Country, region, or territory not supported")))
    with pytest.raises(LlmError) as caught:
        openai_at(server, sleeps).complete(ask())
    assert caught.value.message == (
        "fake-openai: access was refused (HTTP 403: Country, region, or territory not supported)"
    )
    assert KEY_ENV in (caught.value.hint or "") and sleeps == []


def test_400_quotes_the_server_with_keys_masked(server: FakeServer, dialect: Dialect) -> None:
    server.push(Reply(400, error_body(f"model 'nope' not found for key {KEY}")))
    with pytest.raises(LlmError) as caught:
        dialect.make(server).complete(ask())
    assert (
        "refused the request (HTTP 400: model 'nope' not found for key ***)" in caught.value.message
    )
    assert KEY not in caught.value.message and len(server.requests) == 1


def test_404_points_at_base_url(server: FakeServer) -> None:
    server.push(Reply(404, {"detail": "Not Found"}))
    with pytest.raises(LlmError, match="HTTP 404: Not Found") as caught:
        openai_at(server).complete(ask())
    assert caught.value.hint == "check `base_url` and the model's name"


def test_an_answer_that_is_not_json(server: FakeServer) -> None:
    server.push(Reply(raw=b"<html>proxy login</html>"))
    with pytest.raises(LlmError, match="not JSON: '<html>proxy login</html>'"):
        openai_at(server).complete(ask())
