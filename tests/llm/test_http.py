"""The HTTP plumbing on its own: event-stream parsing, Retry-After, backoff, masking."""

from __future__ import annotations

from email.utils import formatdate

from hypothesis import given
from hypothesis import strategies as st

from caxton.llm.http import (
    RetryPolicy,
    SseEvent,
    SseParser,
    error_text,
    is_local,
    parse_arguments,
    parse_retry_after,
    redact,
)


def events(text: str, cuts: list[int] | None = None) -> list[SseEvent]:
    """Parse `text` fed as bytes, split at `cuts` (anywhere, even inside a character)."""
    data = text.encode()
    parser = SseParser()
    out: list[SseEvent] = []
    start = 0
    for cut in sorted(cuts or []):
        out += parser.feed_bytes(data[start:cut])
        start = max(start, cut)
    out += parser.feed_bytes(data[start:])
    return out + parser.finish()


def test_sse_data_lines_join_and_events_are_named() -> None:
    stream = (
        ": a comment the server sends to keep the line open\n"
        "event: content_block_delta\n"
        "data: first\n"
        "data:second\n"
        "id: 7\n"
        "retry: 1000\n"
        "\n"
        "\n"
        "data: [DONE]\n"
        "\n"
    )
    assert events(stream) == [
        SseEvent("content_block_delta", "first\nsecond"),
        SseEvent("message", "[DONE]"),
    ]


def test_sse_event_without_its_blank_line_is_not_dispatched() -> None:
    # a stream cut in the middle of an event must not hand half a JSON chunk on
    assert events('data: {"a": 1}\n\ndata: {"b": ') == [SseEvent("message", '{"a": 1}')]
    assert events('data: {"a": 1}\n\ndata: {"b": 2}\n') == [SseEvent("message", '{"a": 1}')]


def test_sse_event_name_resets_after_each_event() -> None:
    assert events("event: ping\ndata: {}\n\ndata: x\n\n") == [
        SseEvent("ping", "{}"),
        SseEvent("message", "x"),
    ]


@given(
    st.lists(
        st.tuples(
            st.sampled_from(["", "message_start", "ping", "error"]),
            st.lists(
                st.text(
                    alphabet=st.characters(codec="utf-8", exclude_characters="\r\n"),
                    max_size=20,
                ),
                min_size=1,
                max_size=3,
            ),
        ),
        max_size=6,
    ),
    st.sampled_from(["\n", "\r\n", "\r"]),
    st.lists(st.integers(min_value=0, max_value=400), max_size=8),
)
def test_sse_round_trip_however_the_body_is_split(
    sent: list[tuple[str, list[str]]], newline: str, cuts: list[int]
) -> None:
    text = ""
    for name, lines in sent:
        if name:
            text += f"event: {name}{newline}"
        text += "".join(f"data: {line}{newline}" for line in lines) + newline
    assert events(text, cuts) == [
        SseEvent(name or "message", "\n".join(lines)) for name, lines in sent
    ]


def test_sse_does_not_break_lines_at_unicode_separators() -> None:
    # raw U+2028 / NEL inside JSON text are legal; httpx's iter_lines would split there
    assert events('data: {"t": "a\u2028b\x85c"}\n\n') == [
        SseEvent("message", '{"t": "a\u2028b\x85c"}')
    ]


def test_retry_after_seconds_date_and_milliseconds() -> None:
    now = 1_700_000_000.0
    assert parse_retry_after({"retry-after": "3"}) == 3.0
    assert parse_retry_after({"retry-after": "0.5"}) == 0.5
    assert parse_retry_after({"retry-after": formatdate(now + 20, usegmt=True)}, now) == 20.0
    assert parse_retry_after({"retry-after": formatdate(now - 20, usegmt=True)}, now) == 0.0
    assert parse_retry_after({"retry-after-ms": "250", "retry-after": "9"}) == 0.25
    assert parse_retry_after({"retry-after": "soon"}) is None
    assert parse_retry_after({}) is None


def test_backoff_grows_is_capped_and_jittered() -> None:
    policy = RetryPolicy(base_delay=1.0, max_delay=5.0, jitter=0.5)
    assert [policy.backoff(n, lambda: 0.0) for n in (1, 2, 3, 4)] == [1.0, 2.0, 4.0, 5.0]
    assert policy.backoff(2, lambda: 1.0) == 1.0  # at most half cut off
    assert 1.0 <= policy.backoff(2) <= 2.0


def test_error_text_finds_the_message_and_redact_masks_keys() -> None:
    assert (
        error_text(b'{"error": {"message": "model not found", "type": "x"}}') == "model not found"
    )
    assert (
        error_text(
            b'{"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}'
        )
        == "Overloaded"
    )
    assert error_text(b"<html>Bad   Gateway</html>") == "<html>Bad Gateway</html>"
    assert len(error_text("x" * 1000)) == 300
    secret = "abc123-very-secret"
    assert redact(f"key {secret} refused", secret) == "key *** refused"
    assert redact("Incorrect API key provided: sk-proj-abcdefgh1234", None) == (
        "Incorrect API key provided: ***"
    )
    assert redact("unknown parameter: api_version_x", None) == "unknown parameter: api_version_x"


def test_local_endpoints() -> None:
    assert is_local("http://localhost:11434/v1")
    assert is_local("http://127.0.0.1:8000/v1")
    assert is_local("http://[::1]:1234/v1")
    assert not is_local("https://api.openai.com/v1")
    assert not is_local("https://openrouter.ai/api/v1")
    assert not is_local(None)


def test_tool_arguments() -> None:
    assert parse_arguments('{"city": "Paris"}') == ({"city": "Paris"}, '{"city": "Paris"}')
    assert parse_arguments("") == ({}, "")
    assert parse_arguments(None) == ({}, "")
    assert parse_arguments({"a": 1}) == ({"a": 1}, '{"a": 1}')
    assert parse_arguments('{"city": "Par') == (None, '{"city": "Par')
    assert parse_arguments("[1, 2]") == (None, "[1, 2]")  # JSON, but not an object
