"""The `test` model: each tool once with valid arguments, then an answer from their results."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from caxton.llm.base import Message, ModelRequest, ModelResponse, Provider, ToolCall, ToolSpec
from caxton.llm.testmodel import TestModel
from caxton.tools.registry import available_tools

_ALL = {t.name: t for t in available_tools(None)}
TOOLS = tuple(
    ToolSpec(name, _ALL[name].description, _ALL[name].input_schema)
    for name in ("memory_search", "delegate", "stats")
)
ASK = "what do we know about the acme account?"


def start(text: str = ASK, tools: tuple[ToolSpec, ...] = TOOLS) -> ModelRequest:
    return ModelRequest((Message("system", "be brief"), Message("user", text)), tools)


def results(request: ModelRequest, response: ModelResponse, *outputs: str) -> ModelRequest:
    """The conversation after the executor ran the calls: output "!x" is an error result."""
    answers = tuple(
        Message("tool", out.lstrip("!"), tool_call_id=c.id, name=c.name, is_error=out[:1] == "!")
        for c, out in zip(response.message.tool_calls, outputs, strict=True)
    )
    return ModelRequest((*request.messages, response.message, *answers), request.tools)


def test_it_is_a_deterministic_provider() -> None:
    model: Provider = TestModel("offline")
    response = model.complete(start(tools=()))
    assert model.deterministic and response.deterministic
    assert (response.provider, response.model, response.cost_usd) == ("offline", "test", 0.0)


def test_first_it_calls_every_tool_once_with_valid_arguments() -> None:
    response = TestModel().complete(start())
    calls = response.message.tool_calls
    assert response.finish_reason == "tool_calls" and response.message.content == ""
    assert [c.name for c in calls] == [t.name for t in TOOLS]
    assert [c.id for c in calls] == ["call_1", "call_2", "call_3"]
    for call, tool in zip(calls, TOOLS, strict=True):
        assert Draft202012Validator(tool.input_schema).is_valid(call.arguments)
    assert calls[0].arguments == {"query": ASK, "limit": 10}


def test_then_it_answers_from_every_result() -> None:
    model = TestModel()
    first = start()
    response = model.complete(first)
    after = results(first, response, '[{"name": "acme"}]', "routed\nto sales", "!no values given")
    final = model.complete(after)
    assert final.finish_reason == "stop" and final.message.tool_calls == ()
    assert final.message.content == (
        f"[test model] request: {ASK}\n\n"
        '- tool memory_search: [{"name": "acme"}]\n'
        "- tool delegate: routed to sales\n"
        "- tool stats failed: no values given"
    )


def test_the_answer_keeps_its_lines_when_rendered_as_markdown() -> None:
    """The TUI and other clients render answers as Markdown: the request and each tool result
    must stay apart there, not run together into one paragraph."""
    from markdown_it import MarkdownIt

    model = TestModel()
    first = start()
    response = model.complete(first)
    after = results(first, response, "[]", "routed to sales", "!no values given")
    tokens = MarkdownIt().parse(model.complete(after).message.content)
    blocks = [t.content for t in tokens if t.type == "inline"]
    assert blocks == [
        f"[test model] request: {ASK}",
        "tool memory_search: []",
        "tool delegate: routed to sales",
        "tool stats failed: no values given",
    ]


def test_only_tools_not_yet_called_are_called_with_ids_counting_on() -> None:
    model = TestModel()
    first = start(tools=TOOLS[:1])
    after = results(first, model.complete(first), "[]")
    widened = ModelRequest(after.messages, TOOLS)
    calls = model.complete(widened).message.tool_calls
    assert [(c.id, c.name) for c in calls] == [("call_2", "delegate"), ("call_3", "stats")]


def test_a_tool_listed_twice_is_called_once() -> None:
    calls = TestModel().complete(start(tools=(TOOLS[0], TOOLS[0]))).message.tool_calls
    assert len(calls) == 1


def test_content_fields_get_the_request_not_what_memory_recalled() -> None:
    """Agents put memory into their prompts after the request; storing the whole prompt back
    would snowball."""
    prompt = "Request: count the words\n\nFrom memory:\n" + "an earlier answer. " * 100
    calls = TestModel().complete(start(prompt)).message.tool_calls
    assert calls[0].arguments is not None
    assert calls[0].arguments["query"] == "Request: count the words"
    assert calls[1].arguments is not None
    assert calls[1].arguments["request"] == "Request: count the words"


def test_a_long_request_is_cut() -> None:
    calls = TestModel().complete(start("count " * 200 + "\n\nFrom memory: x")).message.tool_calls
    assert calls[0].arguments is not None
    assert calls[0].arguments["query"] == ("count " * 200)[:500]


CSV = ToolSpec("csv_parser", _ALL["csv_parser"].description, _ALL["csv_parser"].input_schema)
MEMORY_TOOLS = tuple(
    ToolSpec(name, _ALL[name].description, _ALL[name].input_schema)
    for name in ("memory_store", "memory_open")
)
TEMPLATED = (  # how the templates put a request in a prompt: a heading line, then it
    "Analysis request:\nwhat were last week's sales?\n\n"
    "What memory already knows about this data (may be empty):\n"
    '- [entity] name: "Analysis request: an earlier prompt..."\n'
)


def test_memory_store_keeps_the_request_under_a_name_made_from_it() -> None:
    """Not an entity called "name" that collects every prompt (and what memory recalled in
    it), which every later request of every agent would recall."""
    calls = TestModel().complete(start(TEMPLATED, MEMORY_TOOLS)).message.tool_calls
    assert [(c.name, c.arguments) for c in calls] == [
        (
            "memory_store",
            {
                "name": "what-were-last-weeks-sales",
                "type": "note",
                "observations": ["what were last week's sales?"],
            },
        ),
        ("memory_open", {"names": ["what-were-last-weeks-sales"]}),
    ]
    other = TestModel().complete(start(ASK, MEMORY_TOOLS)).message.tool_calls[0].arguments
    assert other == {"name": "what-do-we-know-about", "type": "note", "observations": [ASK]}


def test_a_request_keeps_its_lines() -> None:
    """A request may hold CSV rows or code: a tool that parses them needs the lines."""
    prompt = "Analysis request:\nwhich region grew?\nregion,q1\nnorth,3\n\nFrom memory: x"
    calls = TestModel().complete(start(prompt, (CSV,))).message.tool_calls
    assert calls[0].arguments == {"text": "which region grew?\nregion,q1\nnorth,3"}


def test_a_request_without_words_falls_back_to_schema_values() -> None:
    calls = TestModel().complete(start("...", MEMORY_TOOLS)).message.tool_calls
    assert calls[0].arguments == {"name": "name", "type": "note", "observations": ["..."]}


def test_without_tools_it_answers_at_once() -> None:
    response = TestModel().complete(start("hello", tools=()))
    assert response.message.content == "[test model] request: hello\n\nno tools were called."


def test_long_requests_and_results_are_cut_to_one_line() -> None:
    model = TestModel()
    first = start("word " * 100, tools=TOOLS[:1])
    text = model.complete(results(first, model.complete(first), "x\n" * 300)).message.content
    request_line, blank, tool_line = text.splitlines()
    assert request_line.endswith("...") and len(request_line) < 240 and not blank
    assert tool_line.startswith("- tool memory_search: x x x") and len(tool_line) < 240


def test_the_answer_streams_in_word_groups() -> None:
    chunks: list[str] = []
    model = TestModel()
    first = start(tools=TOOLS[:1])
    assert model.complete(first, on_text=chunks.append).message.tool_calls
    assert chunks == []  # nothing to say while calling tools
    response = model.complete(
        results(first, model.complete(first), "a b c d e f g h i j k l m n o p"),
        on_text=chunks.append,
    )
    assert len(chunks) > 2 and "".join(chunks) == response.message.content


def test_max_tokens_cuts_the_answer() -> None:
    request = ModelRequest((Message("user", "x" * 400),), max_tokens=10)
    response = TestModel().complete(request)
    assert len(response.message.content) == 40 and response.finish_reason == "length"


def test_usage_is_a_rough_token_count() -> None:
    response = TestModel().complete(start("y" * 400, tools=()))
    assert 100 <= response.usage.input_tokens <= 130
    assert response.usage.output_tokens == (len(response.message.content) + 3) // 4


def test_same_conversation_same_answer() -> None:
    first, second = TestModel().complete(start()), TestModel().complete(start())
    assert first.message == second.message and first.usage == second.usage


def test_a_loop_like_the_executors_ends_in_two_turns() -> None:
    model = TestModel()
    request = start()
    turns = 0
    while turns < 10:
        turns += 1
        response = model.complete(request)
        if not response.message.tool_calls:
            break
        request = results(request, response, *("ok" for _ in response.message.tool_calls))
    assert turns == 2 and response.message.content.startswith("[test model]")


roles = st.sampled_from(["system", "user", "assistant", "tool"])
calls = st.builds(
    ToolCall,
    st.text(max_size=5),
    st.sampled_from(["memory_search", "delegate", "other"]),
    st.none() | st.dictionaries(st.text(max_size=3), st.integers()),
)
messages = st.builds(
    Message,
    roles,
    st.text(max_size=50),
    st.lists(calls, max_size=2).map(tuple),
    st.none() | st.text(max_size=5),
    st.none() | st.text(max_size=5),
    st.booleans(),
)
schemas: st.SearchStrategy[dict[str, Any]] = st.dictionaries(
    st.sampled_from(["type", "properties", "required", "items", "enum", "pattern", "$ref"]),
    st.none() | st.text(max_size=4) | st.lists(st.text(max_size=3)) | st.just({"q": {}}),
)
tools = st.builds(ToolSpec, st.sampled_from(["memory_search", "x", "y"]), st.just(""), schemas)


@settings(max_examples=150, deadline=None)
@given(st.lists(messages, max_size=6), st.lists(tools, max_size=3), st.integers(1, 5000))
def test_any_well_formed_request_gets_an_answer(
    history: list[Message], specs: list[ToolSpec], max_tokens: int
) -> None:
    chunks: list[str] = []
    request = ModelRequest(tuple(history), tuple(specs), max_tokens=max_tokens)
    response = TestModel().complete(request, on_text=chunks.append)
    assert response.deterministic and response.message.role == "assistant"
    assert "".join(chunks) == response.message.content
