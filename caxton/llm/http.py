"""HTTP plumbing shared by the remote providers: timeouts, retries, Server-Sent Events.

One `HttpClient` per provider wraps a sync `httpx.Client` (created on first use, so importing
this module costs nothing). A call is retried on 408/429/5xx-overloaded answers and on
connection failures with exponential backoff and jitter, honouring `Retry-After`, within a
bounded number of attempts and never past the request's deadline. Streams are parsed here into
`SseEvent`s and handed to the provider's `StreamConsumer`; once the consumer has passed text on
to the caller, a failure is final: retrying would show the caller the same words twice.

The API key only ever travels in request headers: it is never logged, and any server message
quoted in an error has it masked.
"""

from __future__ import annotations

import json
import os
import random
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from caxton.llm.base import (
    FORBID_ENV,
    FinishReason,
    LlmError,
    Message,
    ModelRequest,
    ModelResponse,
    OnText,
    ProviderConfigError,
    RealRequestsForbidden,
    ToolCall,
    Usage,
)

if TYPE_CHECKING:
    import httpx

    from caxton.workspace.config import ModelPrice

RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504, 529})  # 529: Anthropic "overloaded"


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How hard to try. Waits grow as `base_delay * 2**n`, each cut by up to `jitter` (a
    fraction) at random so that many clients do not retry in step."""

    attempts: int = 4
    base_delay: float = 0.5
    max_delay: float = 8.0
    jitter: float = 0.5
    max_retry_after: float = 60.0  # a server asking for a longer wait gets an error instead
    connect_timeout: float = 10.0

    def backoff(self, attempt: int, rng: Callable[[], float] = random.random) -> float:
        """The wait after failed attempt number `attempt` (1-based) when the server named none."""
        delay = min(self.max_delay, self.base_delay * 2.0 ** (attempt - 1))
        return delay * (1 - self.jitter * rng())


DEFAULT_RETRY = RetryPolicy()


def parse_retry_after(headers: Mapping[str, str], now: float | None = None) -> float | None:
    """Seconds the server asked us to wait: `retry-after-ms`, or `Retry-After` as seconds or
    as an HTTP date; None when absent or unreadable."""
    ms = headers.get("retry-after-ms")
    if ms:
        try:
            return max(0.0, float(ms) / 1000)
        except ValueError:
            pass
    value = (headers.get("retry-after") or "").strip()
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    from email.utils import parsedate_to_datetime

    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


# ----- Server-Sent Events -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SseEvent:
    event: str  # "message" unless the server named it
    data: str  # the `data:` lines joined with "\n"


class SseParser:
    """The event-stream format (https://html.spec.whatwg.org/#event-stream-interpretation).

    Lines end at CRLF, LF or CR only (not at the other characters `str.splitlines` and httpx's
    `iter_lines` break on, such as U+2028, which a server may send raw inside JSON text).
    Comments (`:` lines) and unknown fields are skipped; an event is dispatched at a blank line,
    so an event cut off by the end of the stream is never seen (the spec's rule, and what lets a
    cut in the middle of a JSON chunk read as a cut rather than as bad JSON)."""

    def __init__(self) -> None:
        self._data: list[str] = []
        self._event = ""
        self._pending = b""
        self._started = False

    def feed_bytes(self, chunk: bytes) -> list[SseEvent]:
        """Events completed by the next piece of the body, split anywhere."""
        data = self._pending + chunk
        if not self._started and data:
            if len(data) < 3 and b"\xef\xbb\xbf".startswith(data):
                self._pending = data
                return []
            self._started = True
            data = data.removeprefix(b"\xef\xbb\xbf")
        # a CR at the end may be the first half of a CRLF: keep it for the next piece
        held = data.endswith(b"\r")
        *lines, rest = _NEWLINE.split(data[:-1] if held else data)
        self._pending = rest + (b"\r" if held else b"")
        out = []
        for raw in lines:
            event = self.line(raw.decode("utf-8", "replace"))
            if event is not None:
                out.append(event)
        return out

    def finish(self) -> list[SseEvent]:
        """At the end of the body: a final CR still ends its line; an unterminated line does not."""
        pending, self._pending = self._pending, b""
        if not pending.endswith(b"\r"):
            return []
        event = self.line(pending[:-1].decode("utf-8", "replace"))
        return [event] if event is not None else []

    def line(self, line: str) -> SseEvent | None:
        """Take one line, without its line ending; the event it completes, if any."""
        if not line:
            if not self._data:
                self._event = ""
                return None
            event = SseEvent(self._event or "message", "\n".join(self._data))
            self._data, self._event = [], ""
            return event
        if line.startswith(":"):
            return None
        name, colon, value = line.partition(":")
        if colon and value.startswith(" "):
            value = value[1:]
        if name == "data":
            self._data.append(value)
        elif name == "event":
            self._event = value
        return None


_NEWLINE = re.compile(rb"\r\n|\r|\n")


class StreamFault(Exception):
    """A consumer met an error the server sent inside a stream (an `error` event)."""

    def __init__(self, message: str, *, retryable: bool) -> None:
        super().__init__(message)
        self.message = message
        self.retryable = retryable


class StreamConsumer:
    """What a provider does with a stream: fed events, it assembles the answer."""

    delivered: bool = False  # text reached the caller: no retry from here on
    done: bool = False  # the stream's final event was seen: stop reading

    def event(self, event: SseEvent) -> None:
        raise NotImplementedError

    def whole(self, body: Any) -> None:
        """The server ignored `stream: true` and answered with one JSON document."""
        raise NotImplementedError

    def ended(self) -> bool:
        """Whether the connection closing now is a normal end (some servers skip the marker)."""
        return self.done

    def turn(self) -> Turn:
        """The assistant turn the stream carried."""
        raise NotImplementedError


# ----- the client ---------------------------------------------------------------------------


class _Retry(Exception):
    """One attempt failed in a way another attempt may fix."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.retry_after = retry_after


def is_local(base_url: str | None) -> bool:
    """Whether the endpoint runs on this machine (a local model server, free of charge)."""
    if not base_url:
        return False
    host = (urlsplit(base_url).hostname or "").lower()
    return host in ("localhost", "::1", "0.0.0.0") or host.startswith("127.")


def error_text(body: bytes | str, limit: int = 300) -> str:
    """The human part of an API error body (OpenAI, Anthropic and most servers), shortened."""
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    try:
        data = json.loads(text)
    except ValueError:
        data = None
    found: Any = None
    if isinstance(data, dict):
        err = data.get("error")
        if isinstance(err, dict):
            found = err.get("message") or err.get("type")
        elif isinstance(err, str):
            found = err
        found = found or data.get("message") or data.get("detail")
    message = str(found) if found else " ".join(text.split())
    return message if len(message) <= limit else message[: limit - 3] + "..."


_KEYISH = re.compile(r"\bsk-[A-Za-z0-9_\-*.]{6,}")  # OpenAI, Anthropic, OpenRouter keys


def redact(text: str, secret: str | None) -> str:
    """`text` with the API key (and anything shaped like one) masked."""
    if secret:
        text = text.replace(secret, "***")
    return _KEYISH.sub("***", text)


class HttpClient:
    """One provider's line to its API. Safe to share between threads."""

    def __init__(
        self,
        provider: str,
        base_url: str,
        *,
        timeout: float = 60.0,
        retry: RetryPolicy | None = None,
        auth_hint: str | None = None,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        rng: Callable[[], float] = random.random,
    ) -> None:
        self.provider = provider
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.retry = retry or DEFAULT_RETRY
        self.auth_hint = auth_hint
        self._transport = transport
        self._sleep = sleep
        self._clock = clock
        self._rng = rng
        self._client: httpx.Client | None = None
        self._lock = threading.Lock()

    @property
    def client(self) -> httpx.Client:
        with self._lock:
            if self._client is None:
                import httpx

                from caxton import __version__

                self._client = httpx.Client(
                    transport=self._transport,
                    headers={"user-agent": f"caxton/{__version__}"},
                    follow_redirects=False,
                )
            return self._client

    def close(self) -> None:
        with self._lock:
            if self._client is not None:
                self._client.close()
                self._client = None

    # ----- the two kinds of call --------------------------------------------------------------

    def post_json(
        self,
        path: str,
        body: dict[str, Any],
        *,
        headers: Mapping[str, str],
        deadline: float | None,
        secret: str | None = None,
    ) -> tuple[Any, int]:
        """The decoded JSON answer to a POST, and the number of attempts it took."""

        def attempt() -> Any:
            import httpx

            try:
                response = self.client.post(
                    self.url(path),
                    json=body,
                    headers=dict(headers),
                    timeout=self._timeouts(deadline),
                )
            except httpx.TransportError as exc:
                raise _Retry(self._transport_message(exc)) from exc
            self._check_status(response, response.content, secret)
            return self._json(response.content)

        return self._with_retries(attempt, deadline)

    def stream(
        self,
        path: str,
        body: dict[str, Any],
        *,
        headers: Mapping[str, str],
        deadline: float | None,
        consumer: Callable[[], StreamConsumer],
        secret: str | None = None,
    ) -> tuple[StreamConsumer, int]:
        """POST and feed the event stream to a fresh `consumer()` per attempt; returns the one
        that saw the stream through, and the number of attempts."""

        def attempt() -> StreamConsumer:
            import httpx

            sink = consumer()
            try:
                with self.client.stream(
                    "POST",
                    self.url(path),
                    json=body,
                    headers=dict(headers),
                    timeout=self._timeouts(deadline),
                ) as response:
                    if response.status_code >= 400:
                        self._check_status(response, response.read(), secret)
                    kind = response.headers.get("content-type", "")
                    if kind.startswith("application/json"):
                        sink.whole(self._json(response.read()))
                        return sink
                    self._pump(response, sink, deadline)
            except httpx.TransportError as exc:
                raise self._cut(sink, self._transport_message(exc)) from exc
            except StreamFault as exc:
                if exc.retryable and not sink.delivered:
                    raise _Retry(exc.message) from exc
                raise LlmError(
                    f"{self.provider}: {exc.message}" + _after_partial(sink), self._server_hint()
                ) from None
            return sink

        return self._with_retries(attempt, deadline)

    def _pump(self, response: httpx.Response, sink: StreamConsumer, deadline: float | None) -> None:
        parser = SseParser()
        for chunk in response.iter_bytes():
            for event in parser.feed_bytes(chunk):
                sink.event(event)
                if sink.done:
                    return
            if deadline is not None and self._clock() > deadline:
                raise LlmError(
                    f"{self.provider}: the request's time ran out while the answer was streaming"
                    + _after_partial(sink),
                    "raise the agent's [limits] timeout",
                )
        for event in parser.finish():
            sink.event(event)
        if not sink.ended():
            raise self._cut(sink, "the server closed the connection")

    def _cut(self, sink: StreamConsumer, detail: str) -> Exception:
        if sink.delivered:
            return LlmError(
                f"{self.provider}: the stream ended early, after part of the answer had been "
                f"streamed ({detail}); not retried, since that text already reached you",
                "ask again; if it keeps happening, check the server or a proxy in between",
            )
        return _Retry(f"the stream ended early ({detail})")

    # ----- retries ---------------------------------------------------------------------------

    def _with_retries(self, attempt: Callable[[], Any], deadline: float | None) -> tuple[Any, int]:
        policy = self.retry
        for number in range(1, policy.attempts + 1):
            if deadline is not None and self._clock() >= deadline:
                raise LlmError(
                    f"{self.provider}: the request's time ran out before the model answered"
                    + (f" ({_plural(number - 1, 'attempt')})" if number > 1 else ""),
                    "raise the agent's [limits] timeout",
                )
            try:
                return attempt(), number
            except _Retry as failure:
                if number == policy.attempts:
                    raise LlmError(
                        f"{self.provider}: {failure.message}; gave up after {number} attempts",
                        self._server_hint(),
                    ) from None
                wait = failure.retry_after
                if wait is not None and wait > policy.max_retry_after:
                    raise LlmError(
                        f"{self.provider}: {failure.message}; the server asks to retry in "
                        f"{wait:.0f}s, longer than Caxton waits ({policy.max_retry_after:.0f}s)",
                        "try again later, or add a `fallback` provider to the agent's [llm]",
                    ) from None
                if wait is None:
                    wait = policy.backoff(number, self._rng)
                if deadline is not None and self._clock() + wait >= deadline:
                    raise LlmError(
                        f"{self.provider}: {failure.message}; the next attempt would start "
                        f"after the request's deadline (in {wait:.1f}s), so gave up after "
                        f"{_plural(number, 'attempt')}",
                        "raise the agent's [limits] timeout, or add a `fallback` provider",
                    ) from None
                self._sleep(wait)
        raise AssertionError("unreachable")  # the loop returns or raises

    def _check_status(self, response: httpx.Response, content: bytes, secret: str | None) -> None:
        status = response.status_code
        if status < 400:
            return
        said = redact(error_text(content), secret)
        if status in RETRY_STATUSES:
            what = "rate limited" if status == 429 else "the server is unavailable"
            raise _Retry(f"{what} (HTTP {status}: {said})", parse_retry_after(response.headers))
        if status == 401:
            # the server's words often quote part of the key: leave them out
            raise LlmError(f"{self.provider}: the API key was refused (HTTP 401)", self.auth_hint)
        if status == 403:
            raise LlmError(
                f"{self.provider}: access was refused (HTTP 403: {said})", self.auth_hint
            )
        if status == 404:
            raise LlmError(
                f"{self.provider}: not found at {response.request.url} (HTTP 404: {said})",
                "check `base_url` and the model's name",
            )
        raise LlmError(f"{self.provider}: the server refused the request (HTTP {status}: {said})")

    # ----- helpers ---------------------------------------------------------------------------

    def _json(self, content: bytes) -> Any:
        try:
            return json.loads(content)
        except ValueError:
            raise LlmError(
                f"{self.provider}: the server's answer is not JSON: {error_text(content, 120)!r}",
                f"check that `{self.base_url}` is the API's base URL",
            ) from None

    def url(self, path: str) -> str:
        return f"{self.base_url}/{path.lstrip('/')}" if path else self.base_url

    def _timeouts(self, deadline: float | None) -> httpx.Timeout:
        import httpx

        read = self.timeout
        connect = self.retry.connect_timeout
        if deadline is not None:
            left = max(0.001, deadline - self._clock())
            read, connect = min(read, left), min(connect, left)
        return httpx.Timeout(read, connect=connect)

    def _transport_message(self, exc: httpx.TransportError) -> str:
        import httpx

        if isinstance(exc, httpx.ConnectTimeout):
            return f"could not connect to {self.base_url} in time"
        if isinstance(exc, httpx.ConnectError):
            return f"could not connect to {self.base_url} ({exc})"
        if isinstance(exc, httpx.TimeoutException):
            return f"no answer from {self.base_url} within the read timeout ({self.timeout:g}s)"
        return f"the connection to {self.base_url} failed ({exc or type(exc).__name__})"

    def _server_hint(self) -> str:
        if is_local(self.base_url):
            return f"is the local server at {self.base_url} running?"
        return "try again later, or add a `fallback` provider to the agent's [llm]"


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def _after_partial(sink: StreamConsumer) -> str:
    return ", after part of the answer had been streamed" if sink.delivered else ""


# ----- what every remote provider shares ----------------------------------------------------


class RemoteProvider:
    """A model behind an HTTP API: model choice, key lookup, the forbid switch, cost."""

    deterministic: bool = False
    kind = "remote"

    def __init__(
        self,
        name: str,
        *,
        base_url: str,
        model: str | None = None,
        default_model: str | None = None,
        api_key_env: str | None = None,
        timeout: float = 60.0,
        prices: Mapping[str, ModelPrice] | None = None,
        retry: RetryPolicy | None = None,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.name = name
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.default_model = default_model
        self.api_key_env = api_key_env
        self.prices = dict(prices or {})
        self.local = is_local(base_url)
        self.http = HttpClient(
            name,
            self.base_url,
            timeout=timeout,
            retry=retry,
            auth_hint=(
                f"check the key in {api_key_env} (`export {api_key_env}=...`)"
                if api_key_env
                else f"the server wants a key: set `api_key_env` under [llm.providers.{name}]"
            ),
            transport=transport,
            sleep=sleep,
        )

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r}, base_url={self.base_url!r})"

    def complete(
        self,
        request: ModelRequest,
        *,
        on_text: OnText | None = None,
        deadline: float | None = None,
    ) -> ModelResponse:
        """Ask the API: one JSON answer, or a stream when `on_text` wants the text as it comes.
        Each dialect (openai.py, anthropic.py) supplies its path, body, headers and parsers."""
        model, key = self.prepare(request)
        started = time.monotonic()
        body = self.request_body(request, model, stream=on_text is not None)
        headers = self.headers(key)
        if on_text is None:
            data, attempts = self.http.post_json(
                self.path, body, headers=headers, deadline=deadline, secret=key
            )
            turn = self.parse(data)
        else:
            emit = on_text
            sink, attempts = self.http.stream(
                self.path,
                body,
                headers=headers,
                deadline=deadline,
                consumer=lambda: self.stream_consumer(emit),
                secret=key,
            )
            turn = sink.turn()
        return self.respond(turn, model, attempts, started)

    # ----- what each API dialect supplies --------------------------------------------------

    path: str = ""  # the endpoint, relative to base_url

    def request_body(self, request: ModelRequest, model: str, *, stream: bool) -> dict[str, Any]:
        raise NotImplementedError

    def headers(self, key: str | None) -> dict[str, str]:
        raise NotImplementedError

    def parse(self, data: Any) -> Turn:
        raise NotImplementedError

    def stream_consumer(self, emit: OnText) -> StreamConsumer:
        raise NotImplementedError

    def prepare(self, request: ModelRequest) -> tuple[str, str | None]:
        """The model to ask and the API key, checked before anything touches the network."""
        if os.environ.get(FORBID_ENV):
            raise RealRequestsForbidden(
                f"real model requests are switched off ({FORBID_ENV} is set); "
                f"provider {self.name!r} was not called",
                f"use the `test` or `replay` model, or unset {FORBID_ENV}",
            )
        model = request.model or self.model or self.default_model
        if not model:
            raise ProviderConfigError(
                f"no model named for provider {self.name!r}",
                f'set `model = "..."` in the agent\'s [llm] or under [llm.providers.{self.name}] '
                "in caxton.toml (e.g. a model your server lists)",
            )
        key = None
        if self.api_key_env:
            key = os.environ.get(self.api_key_env, "").strip()
            if not key:
                raise ProviderConfigError(
                    f"no API key for provider {self.name!r}: the environment variable "
                    f"{self.api_key_env} is not set",
                    f"set it with `export {self.api_key_env}=...`, or work offline with the "
                    "`test` model (`caxton run --model test ...`)",
                )
        return model, key

    def respond(self, turn: Turn, model: str, attempts: int, started: float) -> ModelResponse:
        """The `ModelResponse` for `turn`, priced, labelled with this provider."""
        finish = turn.finish_reason
        if turn.calls and finish == "stop":
            finish = "tool_calls"  # some servers (older Ollama) say "stop" next to tool calls
        extra: dict[str, Any] = {}
        if turn.raw_finish is not None:
            extra["finish_reason"] = turn.raw_finish
        if not turn.usage_reported:
            extra["usage_reported"] = False
        answered = turn.model or model
        return ModelResponse(
            message=Message("assistant", turn.text, turn.calls),
            usage=turn.usage,
            model=answered,
            provider=self.name,
            finish_reason=finish,
            cost_usd=self.cost((answered, model), turn.usage, reported=turn.usage_reported),
            deterministic=False,
            attempts=attempts,
            seconds=time.monotonic() - started,
            extra=extra,
        )

    def cost(self, models: tuple[str, ...], usage: Usage, *, reported: bool) -> float | None:
        """USD for `usage`, priced by the first of `models` with a known price (the answering
        model's exact name, then the one asked for); None when unknown or when the server
        reported no usage for a model that is not free."""
        from caxton.llm.prices import cost_of, price_for

        for model in models:
            price = price_for(model, self.prices, local=self.local) if model else None
            if price is None:
                continue
            if not reported:
                return 0.0 if price.input == price.output == 0 else None
            return cost_of(price, usage)
        return None


@dataclass(slots=True)
class Turn:
    """What a provider read from one answer, before it becomes a `ModelResponse`."""

    text: str = ""
    calls: tuple[ToolCall, ...] = ()
    finish_reason: FinishReason = "stop"
    raw_finish: str | None = None  # the API's own word for it
    usage: Usage = field(default_factory=Usage)
    usage_reported: bool = False
    model: str = ""  # the model that answered, as the server names it


def parse_arguments(raw: str | Mapping[str, Any] | None) -> tuple[dict[str, Any] | None, str]:
    """A tool call's arguments as a dict (None unless they are a JSON object) and as text.
    Nothing at all means no arguments: `{}`."""
    if raw is None:
        return {}, ""
    if isinstance(raw, Mapping):
        return dict(raw), json.dumps(raw)
    if not raw.strip():
        return {}, raw
    try:
        value = json.loads(raw)
    except ValueError:
        return None, raw
    return (value if isinstance(value, dict) else None), raw
