"""OpenAI-compatible chat completions against the fake server: bodies, streams, tool calls."""

from __future__ import annotations

import json

import pytest

from caxton.llm.base import Message, ModelRequest, ToolCall, Usage
from caxton.llm.openai import request_body
from tests.llm.conftest import KEY, WEATHER, ask, openai_at
from tests.llm.fake_servers import FakeServer, Reply, openai_chunk, openai_completion, openai_stream


def test_whole_answer(server: FakeServer) -> None:
    server.push(Reply(body=openai_completion("Hi there.", usage=(12, 5))))
    response = openai_at(server).complete(ask())
    assert response.message == Message("assistant", "Hi there.")
    assert response.usage == Usage(12, 5)
    assert (response.model, response.provider) == ("gpt-4o-2024-08-06", "fake-openai")
    assert (response.finish_reason, response.attempts, response.deterministic) == ("stop", 1, False)
    (sent,) = server.requests
    assert sent.path == "/v1/chat/completions"
    assert sent.headers["authorization"] == f"Bearer {KEY}"
    assert sent.body == {
        "model": "gpt-4o",
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Say hello."},
        ],
        "max_tokens": 2048,
        "temperature": 0.2,
    }


def test_streamed_text_reaches_the_caller_piece_by_piece(server: FakeServer) -> None:
    server.push(Reply(events=openai_stream(["Hel", "lo", " world"], usage=(30, 3))))
    pieces: list[str] = []
    response = openai_at(server).complete(ask(), on_text=pieces.append)
    assert pieces == ["Hel", "lo", " world"]
    assert response.message.content == "Hello world"
    assert response.usage == Usage(30, 3)
    assert server.requests[0].body["stream"] is True
    assert server.requests[0].body["stream_options"] == {"include_usage": True}


def test_streamed_tool_calls_are_assembled_by_index(server: FakeServer) -> None:
    def piece(index: int, **function: str) -> str:
        call: dict[str, object] = {"index": index, "function": function}
        if "name" in function:
            call |= {"id": f"call_{index}", "type": "function"}
        return openai_chunk({"tool_calls": [call]})

    # two parallel calls whose argument pieces arrive interleaved
    events = [
        openai_chunk({"role": "assistant", "content": None}),
        piece(0, name="get_weather", arguments=""),
        piece(1, name="get_weather", arguments='{"ci'),
        piece(0, arguments='{"city": '),
        piece(1, arguments='ty": "Oslo"}'),
        piece(0, arguments='"Paris"}'),
        openai_chunk({}, "tool_calls"),
        "data: [DONE]",
    ]
    server.push(Reply(events=events))
    pieces: list[str] = []
    response = openai_at(server).complete(ask(tools=(WEATHER,)), on_text=pieces.append)
    assert pieces == []
    assert response.finish_reason == "tool_calls"
    assert response.message.tool_calls == (
        ToolCall("call_0", "get_weather", {"city": "Paris"}, '{"city": "Paris"}'),
        ToolCall("call_1", "get_weather", {"city": "Oslo"}, '{"city": "Oslo"}'),
    )
    assert "usage_reported" in response.extra and response.cost_usd == 0.0  # local: free


def test_request_carries_tools_and_the_tool_history(server: FakeServer) -> None:
    server.push(Reply(body=openai_completion("It is sunny.")))
    history = (
        Message("system", "Be brief."),
        Message("user", "Weather in Paris?"),
        Message("assistant", "", (ToolCall("call_1", "get_weather", {"city": "Paris"}),)),
        Message("tool", "sunny, 21C", tool_call_id="call_1", name="get_weather"),
    )
    openai_at(server).complete(ModelRequest(history, (WEATHER,)))
    body = server.requests[0].body
    assert body["tools"] == [
        {
            "type": "function",
            "function": {
                "name": "get_weather",
                "description": "The weather in a city.",
                "parameters": WEATHER.input_schema,
            },
        }
    ]
    assert body["messages"][2] == {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {
                "id": "call_1",
                "type": "function",
                "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
            }
        ],
    }
    assert body["messages"][3] == {
        "role": "tool",
        "tool_call_id": "call_1",
        "content": "sunny, 21C",
    }


@pytest.mark.parametrize("stream", [False, True])
def test_invalid_tool_arguments_are_kept_raw(server: FakeServer, stream: bool) -> None:
    broken = '{"city": "Par'
    if stream:
        server.push(
            Reply(events=openai_stream([], tool_calls=[("call_9", "get_weather", [broken])]))
        )
    else:
        server.push(
            Reply(body=openai_completion(None, tool_calls=[("call_9", "get_weather", broken)]))
        )
    response = openai_at(server).complete(
        ask(tools=(WEATHER,)), on_text=(lambda _: None) if stream else None
    )
    assert response.message.tool_calls == (ToolCall("call_9", "get_weather", None, broken),)
    assert response.finish_reason == "tool_calls"


def test_broken_arguments_go_back_to_the_server_as_an_empty_object() -> None:
    history = (
        Message("user", "hi"),
        Message("assistant", "", (ToolCall("c", "get_weather", None, '{"city'),)),
        Message("tool", "error: arguments are not JSON", tool_call_id="c", is_error=True),
    )
    body = request_body(ModelRequest(history), "gpt-4o", stream=False)
    assert body["messages"][1]["tool_calls"][0]["function"]["arguments"] == "{}"


def test_reasoning_models_get_max_completion_tokens_and_no_temperature() -> None:
    for model in ("o3-mini", "o1", "gpt-5-mini", "openai/o4-mini"):
        body = request_body(ask(max_tokens=99), model, stream=False)
        assert body["max_completion_tokens"] == 99, model
        assert "temperature" not in body and "max_tokens" not in body
    assert request_body(ask(max_tokens=99), "gpt-4o", stream=False)["max_tokens"] == 99


def test_lines_split_anywhere_with_crlf(server: FakeServer) -> None:
    server.push(
        Reply(events=openai_stream(["Bonjour", " à", " tous"]), chunk_size=7, newline="\r\n")
    )
    pieces: list[str] = []
    response = openai_at(server).complete(ask(), on_text=pieces.append)
    assert pieces == ["Bonjour", " à", " tous"]
    assert response.usage == Usage(12, 5)


def test_a_server_that_skips_done_and_usage(server: FakeServer) -> None:
    # older Ollama and llama.cpp builds: no usage chunk, no [DONE]; the finish reason ends it
    server.push(Reply(events=openai_stream(["ok"], usage=None, done=False)))
    provider = openai_at(server)
    provider.local = False  # priced as if remote: the cost must read unknown, not 0
    response = provider.complete(ask(), on_text=lambda _: None)
    assert response.message.content == "ok"
    assert response.extra["usage_reported"] is False
    assert response.cost_usd is None


def test_a_server_that_ignores_stream_true(server: FakeServer) -> None:
    server.push(Reply(body=openai_completion("all at once")))
    pieces: list[str] = []
    response = openai_at(server).complete(ask(), on_text=pieces.append)
    assert pieces == ["all at once"] and response.message.content == "all at once"


def test_no_key_configured_sends_no_authorization(server: FakeServer) -> None:
    server.push(Reply(body=openai_completion("hi", model="llama3.2")))
    response = openai_at(server, api_key_env=None, model="llama3.2").complete(ask())
    assert "authorization" not in server.requests[0].headers
    assert response.cost_usd == 0.0  # a server on this machine costs nothing


def test_cost_from_usage_for_a_priced_model(server: FakeServer) -> None:
    server.push(Reply(body=openai_completion("hi", usage=(1000, 200))))
    provider = openai_at(server)
    provider.local = False
    response = provider.complete(ask())
    assert response.cost_usd == pytest.approx((1000 * 2.5 + 200 * 10.0) / 1e6)


def test_content_filter_and_length(server: FakeServer) -> None:
    server.push(
        Reply(body=openai_completion("cut", finish="length")),
        Reply(body=openai_completion("", finish="content_filter")),
    )
    provider = openai_at(server)
    assert provider.complete(ask()).finish_reason == "length"
    filtered = provider.complete(ask())
    assert filtered.finish_reason == "error"
    assert filtered.extra["finish_reason"] == "content_filter"


def test_whole_answer_has_error_body(server: FakeServer) -> None:
    server.push(Reply(body={"error": {"message": "upstream provider failed"}}))
    from caxton.llm.base import LlmError

    with pytest.raises(LlmError, match="upstream provider failed"):
        openai_at(server).complete(ask())
    assert json.dumps(server.requests[0].body)
