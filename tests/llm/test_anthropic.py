"""Anthropic Messages against the fake server: system prompt, tool blocks, the event stream."""

from __future__ import annotations

import pytest

from caxton.llm.anthropic import messages
from caxton.llm.base import LlmError, Message, ModelRequest, ToolCall, Usage
from tests.llm.conftest import KEY, WEATHER, anthropic_at, ask
from tests.llm.fake_servers import (
    FakeServer,
    Reply,
    anthropic_event,
    anthropic_message,
    anthropic_stream,
)


def test_whole_answer_with_a_tool_use(server: FakeServer) -> None:
    server.push(
        Reply(
            body=anthropic_message(
                "Let me check.", tool_uses=[("toolu_1", "get_weather", {"city": "Paris"})]
            )
        )
    )
    response = anthropic_at(server).complete(ask(tools=(WEATHER,)))
    assert response.message.content == "Let me check."
    assert response.message.tool_calls == (
        ToolCall("toolu_1", "get_weather", {"city": "Paris"}, '{"city": "Paris"}'),
    )
    assert response.finish_reason == "tool_calls" and response.usage == Usage(20, 6)
    assert response.model == "claude-sonnet-4-5-20250929"
    (sent,) = server.requests
    assert sent.path == "/v1/messages"
    assert sent.headers["x-api-key"] == KEY
    assert sent.headers["anthropic-version"] == "2023-06-01"
    assert "authorization" not in sent.headers


def test_system_prompt_on_top_and_tool_results_grouped(server: FakeServer) -> None:
    server.push(Reply(body=anthropic_message("Paris is sunny, Oslo unknown.")))
    calls = (
        ToolCall("toolu_1", "get_weather", {"city": "Paris"}),
        ToolCall("toolu_2", "get_weather", {"city": "Oslo"}),
    )
    history = (
        Message("system", "Be brief."),
        Message("system", "Answer in English."),
        Message("user", "Weather in Paris and Oslo?"),
        Message("assistant", "Checking both.", calls),
        Message("tool", "sunny", tool_call_id="toolu_1", name="get_weather"),
        Message("tool", "no such city", tool_call_id="toolu_2", name="get_weather", is_error=True),
    )
    anthropic_at(server).complete(ModelRequest(history, (WEATHER,), temperature=1.5))
    body = server.requests[0].body
    assert body["system"] == "Be brief.\n\nAnswer in English."
    assert body["temperature"] == 1.0  # the API's maximum
    assert body["tools"] == [
        {
            "name": "get_weather",
            "description": "The weather in a city.",
            "input_schema": WEATHER.input_schema,
        }
    ]
    assert body["messages"] == [
        {"role": "user", "content": "Weather in Paris and Oslo?"},
        {
            "role": "assistant",
            "content": [
                {"type": "text", "text": "Checking both."},
                {
                    "type": "tool_use",
                    "id": "toolu_1",
                    "name": "get_weather",
                    "input": {"city": "Paris"},
                },
                {
                    "type": "tool_use",
                    "id": "toolu_2",
                    "name": "get_weather",
                    "input": {"city": "Oslo"},
                },
            ],
        },
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "toolu_1", "content": "sunny"},
                {
                    "type": "tool_result",
                    "tool_use_id": "toolu_2",
                    "content": "no such city",
                    "is_error": True,
                },
            ],
        },
    ]


def test_user_text_after_tool_results_joins_their_message() -> None:
    history = (
        Message("user", "go"),
        Message("assistant", "", (ToolCall("t1", "x", {}),)),
        Message("tool", "done", tool_call_id="t1"),
        Message("user", "now summarise"),
    )
    assert messages(history)[2] == {
        "role": "user",
        "content": [
            {"type": "tool_result", "tool_use_id": "t1", "content": "done"},
            {"type": "text", "text": "now summarise"},
        ],
    }


def test_the_full_event_stream(server: FakeServer) -> None:
    server.push(
        Reply(
            events=anthropic_stream(
                ["Let me ", "check."],
                tool_uses=[("toolu_7", "get_weather", ['{"city"', ': "Pa', 'ris"}'])],
                usage=(25, 40),
            )
        )
    )
    pieces: list[str] = []
    response = anthropic_at(server).complete(ask(tools=(WEATHER,)), on_text=pieces.append)
    assert pieces == ["Let me ", "check."]
    assert response.message.content == "Let me check."
    assert response.message.tool_calls == (
        ToolCall("toolu_7", "get_weather", {"city": "Paris"}, '{"city": "Paris"}'),
    )
    assert response.usage == Usage(25, 40)  # input from message_start, output from message_delta
    assert response.finish_reason == "tool_calls"
    assert server.requests[0].body["stream"] is True


def test_a_tool_without_arguments_streams_no_json(server: FakeServer) -> None:
    server.push(Reply(events=anthropic_stream([], tool_uses=[("toolu_1", "now", [])])))
    response = anthropic_at(server).complete(ask(), on_text=lambda _: None)
    assert response.message.tool_calls == (ToolCall("toolu_1", "now", {}, "{}"),)


def test_invalid_streamed_tool_input_is_kept_raw(server: FakeServer) -> None:
    server.push(
        Reply(events=anthropic_stream([], tool_uses=[("toolu_1", "get_weather", ['{"city": '])]))
    )
    response = anthropic_at(server).complete(ask(), on_text=lambda _: None)
    assert response.message.tool_calls == (ToolCall("toolu_1", "get_weather", None, '{"city": '),)


def test_an_error_event_after_text_is_final(server: FakeServer) -> None:
    server.push(
        Reply(
            events=anthropic_stream(
                ["Hel", "lo"], error={"type": "overloaded_error", "message": "Overloaded"}
            )
        )
    )
    pieces: list[str] = []
    with pytest.raises(LlmError, match="overloaded_error: Overloaded, after part of the answer"):
        anthropic_at(server).complete(ask(), on_text=pieces.append)
    assert pieces == ["Hel"] and len(server.requests) == 1


def test_an_overloaded_error_event_before_any_text_is_retried(server: FakeServer) -> None:
    start, ping = anthropic_stream([])[:2]
    overloaded = anthropic_event(
        "error", {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
    )
    server.push(Reply(events=[start, ping, overloaded]), Reply(events=anthropic_stream(["fine"])))
    sleeps: list[float] = []
    response = anthropic_at(server, sleeps).complete(ask(), on_text=lambda _: None)
    assert response.message.content == "fine" and response.attempts == 2
    assert len(sleeps) == 1


def test_stop_reasons(server: FakeServer) -> None:
    server.push(
        Reply(body=anthropic_message("cut", stop="max_tokens")),
        Reply(body=anthropic_message("", stop="refusal")),
    )
    provider = anthropic_at(server)
    assert provider.complete(ask()).finish_reason == "length"
    refused = provider.complete(ask())
    assert refused.finish_reason == "error" and refused.extra["finish_reason"] == "refusal"


def test_cost_of_a_dated_model(server: FakeServer) -> None:
    server.push(Reply(body=anthropic_message("hi", usage=(2000, 100))))
    provider = anthropic_at(server)
    provider.local = False
    response = provider.complete(ask())
    assert response.cost_usd == pytest.approx((2000 * 3.0 + 100 * 15.0) / 1e6)


def test_cache_tokens_count_as_input(server: FakeServer) -> None:
    body = anthropic_message("hi")
    body["usage"] |= {"cache_read_input_tokens": 100, "cache_creation_input_tokens": 5}
    server.push(Reply(body=body))
    assert anthropic_at(server).complete(ask()).usage == Usage(125, 6)
