"""The `replay` model: a session recorded from a real provider, answered again exactly.

A cassette is JSON lines: a header (`{"caxton_cassette": 1, "provider", "model",
"recorded_at"}`), then one line per turn: the request as sent, its hash, the response.
`RecordingProvider` writes one around a real provider (`--record`); `ReplayProvider` answers a
request with the recorded response of the same request, found by hash, so several
conversations can replay from one cassette at once. See docs/test-models.md.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, get_args

from caxton.errors import FileAccessError
from caxton.llm.base import (
    FinishReason,
    LlmError,
    Message,
    ModelRequest,
    ModelResponse,
    OnText,
    Provider,
    Usage,
)
from caxton.llm.testmodel import stream_text

CASSETTE_VERSION = 1
MATCHED = ("messages", "tools", "max_tokens", "temperature")  # the model is not: replay swaps it
RERECORD = "re-record the cassette: run the same request again with `--record`"
_FINISH_REASONS = frozenset(get_args(FinishReason))


def normalise_request(request: ModelRequest) -> dict[str, Any]:
    """The request as a cassette stores it: plain JSON, the same for the same conversation."""
    return {
        "messages": [m.to_json() for m in request.messages],
        "tools": [{"name": t.name, "input_schema": t.input_schema} for t in request.tools],
        "model": request.model,
        "max_tokens": int(request.max_tokens),
        "temperature": float(request.temperature),
    }


def request_sha256(normalised: dict[str, Any]) -> str:
    """What a recorded turn is found by: a hash of the matched parts of the request."""
    matched = {key: normalised.get(key) for key in MATCHED}
    blob = json.dumps(matched, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(blob.encode("ascii")).hexdigest()


def response_to_json(response: ModelResponse) -> dict[str, Any]:
    return {
        "message": response.message.to_json(),
        "usage": {
            "input_tokens": response.usage.input_tokens,
            "output_tokens": response.usage.output_tokens,
        },
        "model": response.model,
        "provider": response.provider,
        "finish_reason": response.finish_reason,
        "cost_usd": response.cost_usd,
    }


@dataclass(frozen=True, slots=True)
class _Turn:
    line: int
    request: dict[str, Any]
    message: Message
    usage: Usage
    model: str
    provider: str
    finish_reason: FinishReason
    cost_usd: float | None


@dataclass(frozen=True, slots=True)
class _Cassette:
    header: dict[str, Any]
    turns: tuple[_Turn, ...]
    index: dict[str, tuple[int, ...]]  # request hash -> turns with it, in recorded order


class ReplayProvider:
    """A `Provider` that answers from a cassette; a request not recorded is an error."""

    deterministic = True

    def __init__(self, name: str, cassette: Path) -> None:
        self.name = name
        self.cassette = cassette
        self._loaded: _Cassette | None = None
        self._served: dict[str, int] = {}
        self._lock = threading.Lock()

    def complete(
        self,
        request: ModelRequest,
        *,
        on_text: OnText | None = None,
        deadline: float | None = None,  # the answer is on disk: nothing to wait for
    ) -> ModelResponse:
        cassette = self._load()
        digest = request_sha256(normalise_request(request))
        with self._lock:
            matches = cassette.index.get(digest)
            if not matches:
                raise self._mismatch(cassette, request)
            served = self._served.get(digest, 0)
            self._served[digest] = served + 1
        # the same request recorded twice answers in recorded order, then starts over
        turn = cassette.turns[matches[served % len(matches)]]
        if on_text is not None:
            stream_text(turn.message.content, on_text)
        return ModelResponse(
            turn.message,
            turn.usage,
            turn.model,
            self.name,
            turn.finish_reason,
            cost_usd=0.0,
            deterministic=True,
            extra={
                "replay": {
                    "cassette": str(self.cassette),
                    "line": turn.line,
                    "recorded_provider": turn.provider,
                    "recorded_model": turn.model,
                    "recorded_at": cassette.header.get("recorded_at"),
                    "recorded_cost_usd": turn.cost_usd,
                }
            },
        )

    def _load(self) -> _Cassette:
        if self._loaded is None:
            with self._lock:
                if self._loaded is None:
                    self._loaded = load_cassette(self.cassette)
        return self._loaded

    def _mismatch(self, cassette: _Cassette, request: ModelRequest) -> LlmError:
        now = normalise_request(request)
        count = len(cassette.turns)
        recorded = f"{count} recorded turn{'s' if count != 1 else ''}"
        if not cassette.turns:
            return LlmError(f"no turn recorded in {self.cassette} ({recorded})", RERECORD)
        closest = max(cassette.turns, key=lambda t: _likeness(t.request, now))
        return LlmError(
            f"no turn recorded in {self.cassette} matches this request ({recorded}); "
            f"the closest (line {closest.line}): {difference(closest.request, now)}",
            f"the conversation changed since it was recorded; {RERECORD}",
        )


def load_cassette(path: Path) -> _Cassette:
    """Read and check a whole cassette; any problem is an `LlmError` naming `path:line`."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise LlmError(
            f"no cassette at {path}",
            "record one: run the request with `--record` and a real provider",
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise LlmError(f"cannot read the cassette {path}: {exc}", RERECORD) from None
    turns: list[_Turn] = []
    header: dict[str, Any] | None = None
    for number, text in enumerate(lines, 1):
        if not text.strip():
            continue
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise _corrupt(path, number, f"not JSON ({exc.msg}, column {exc.colno})") from None
        if not isinstance(data, dict):
            raise _corrupt(path, number, "expected a JSON object")
        if header is None:
            header = _header(path, number, data)
        else:
            turns.append(_turn(path, number, data))
    if header is None:
        raise _corrupt(path, 1, "the file is empty")
    index: dict[str, list[int]] = {}
    for i, turn in enumerate(turns):
        # recomputed, not read: a hand-edited request still matches what it now says
        index.setdefault(request_sha256(turn.request), []).append(i)
    return _Cassette(header, tuple(turns), {k: tuple(v) for k, v in index.items()})


def _corrupt(path: Path, line: int, problem: str) -> LlmError:
    return LlmError(f"{path}:{line}: corrupt cassette: {problem}", RERECORD)


def _header(path: Path, line: int, data: dict[str, Any]) -> dict[str, Any]:
    version = data.get("caxton_cassette")
    if version is None:
        raise _corrupt(path, line, 'the first line is not a header ({"caxton_cassette": 1, ...})')
    if version != CASSETTE_VERSION:
        raise LlmError(
            f"{path}:{line}: cassette format {version!r} is not one this Caxton reads "
            f"({CASSETTE_VERSION})",
            f"upgrade Caxton, or {RERECORD}",
        )
    return data


def _turn(path: Path, line: int, data: dict[str, Any]) -> _Turn:
    request, response = data.get("request"), data.get("response")
    if not isinstance(request, dict) or not isinstance(request.get("messages"), list):
        raise _corrupt(path, line, 'the turn has no "request" with "messages"')
    if not isinstance(response, dict) or not isinstance(response.get("message"), dict):
        raise _corrupt(path, line, 'the turn has no "response" with a "message"')
    try:
        message = Message.from_json(response["message"])
        usage = response.get("usage") or {}
        tokens = Usage(int(usage.get("input_tokens", 0)), int(usage.get("output_tokens", 0)))
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        problem = f"the response is malformed ({type(exc).__name__}: {exc})"
        raise _corrupt(path, line, problem) from None
    if not isinstance(message.content, str):
        raise _corrupt(path, line, "the response's content is not text")
    if message.role != "assistant":
        raise _corrupt(path, line, f"the response is a {message.role!r} message, not 'assistant'")
    finish = response.get("finish_reason", "stop")
    if finish not in _FINISH_REASONS:
        raise _corrupt(path, line, f"unknown finish_reason {finish!r}")
    cost = response.get("cost_usd")
    return _Turn(
        line,
        request,
        message,
        tokens,
        str(response.get("model", "")),
        str(response.get("provider", "")),
        finish,
        float(cost) if isinstance(cost, int | float) else None,
    )


# -- explaining a mismatch --------------------------------------------------------------------


def _canon(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def _likeness(recorded: dict[str, Any], now: dict[str, Any]) -> tuple[int, ...]:
    """How alike two requests are: equal leading messages first, then the rest."""
    before, after = recorded.get("messages") or [], now["messages"]
    same = 0
    for a, b in zip(before, after, strict=False):
        if _canon(a) != _canon(b):
            break
        same += 1
    return (
        same,
        -abs(len(before) - len(after)),
        *(int(_canon(recorded.get(k)) == _canon(now.get(k))) for k in MATCHED[1:]),
    )


def difference(recorded: dict[str, Any], now: dict[str, Any]) -> str:
    """The first way the request asked now differs from a recorded one, in words."""
    before, after = recorded.get("messages") or [], now["messages"]
    for i, (a, b) in enumerate(zip(before, after, strict=False)):
        if _canon(a) != _canon(b):
            return _message_difference(i + 1, a, b)
    if len(after) > len(before):
        extra = after[len(before)]
        return (
            f"the request has {len(after)} messages, the recording {len(before)}; "
            f"message {len(before) + 1} ({extra.get('role')}) is new: "
            f"{_snippet(str(extra.get('content', '')), 0)!r}"
        )
    if len(before) > len(after):
        return f"the recording has {len(before)} messages, the request only {len(after)}"
    old_tools, new_tools = recorded.get("tools") or [], now["tools"]
    old_names = [t.get("name") for t in old_tools if isinstance(t, dict)]
    new_names = [t["name"] for t in new_tools]
    if old_names != new_names:
        return f"the tools differ: recorded {old_names} vs now {new_names}"
    for a, b in zip(old_tools, new_tools, strict=False):
        if _canon(a) != _canon(b):
            return f"the input schema of tool {b['name']!r} differs"
    for key in MATCHED[2:]:
        if _canon(recorded.get(key)) != _canon(now.get(key)):
            return f"{key} differs: recorded {recorded.get(key)!r} vs now {now.get(key)!r}"
    return "the requests differ"


def _message_difference(number: int, a: Any, b: dict[str, Any]) -> str:
    if not isinstance(a, dict) or a.get("role") != b["role"]:
        old = a.get("role") if isinstance(a, dict) else None
        return f"message {number} differs: recorded a {old!r} message vs now a {b['role']!r} one"
    where = f"message {number} ({b['role']})"
    old, new = str(a.get("content", "")), b.get("content", "")
    if old != new:
        at = next(
            (i for i, (x, y) in enumerate(zip(old, new, strict=False)) if x != y),
            min(len(old), len(new)),
        )
        return f"{where} differs: recorded {_snippet(old, at)!r} vs now {_snippet(new, at)!r}"
    old_calls, new_calls = a.get("tool_calls") or [], b.get("tool_calls") or []
    if _canon(old_calls) != _canon(new_calls):
        return f"{where} tool calls differ: recorded {_calls(old_calls)} vs now {_calls(new_calls)}"
    for key in ("tool_call_id", "name", "is_error"):
        if a.get(key) != b.get(key):
            return f"{where} {key} differs: recorded {a.get(key)!r} vs now {b.get(key)!r}"
    return f"{where} differs"


def _calls(calls: list[Any]) -> str:
    shown = [
        f"{c.get('name')}({_canon(c.get('arguments'))[:60]})" for c in calls if isinstance(c, dict)
    ]
    return "[" + ", ".join(shown) + "]"


def _snippet(text: str, at: int, width: int = 60) -> str:
    """About `width` characters of `text` around position `at`, marked where cut."""
    start = max(0, at - width // 3)
    cut = text[start : start + width]
    return ("..." if start else "") + cut + ("..." if start + width < len(text) else "")


# -- recording --------------------------------------------------------------------------------


class _Recording:
    """One cassette being recorded by this process: every recorder of it shares this."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.started = False


_recordings: dict[str, _Recording] = {}  # by resolved path
_recordings_lock = threading.Lock()


class RecordingProvider:
    """Passes every call to a real provider and appends the turn to a cassette.

    A process records a session: the first turn it records to a path starts that cassette
    afresh (header and all; `append` keeps what is there), and later turns, from any recorder
    of the same path (the runtime has one per provider of a fallback chain), follow it. Each
    turn is one line written whole, in the order the answers came, safe from several threads.
    Starting afresh is what makes re-recording work: appending to an old session would leave
    its turns to answer first.
    """

    def __init__(self, inner: Provider, cassette: Path, *, append: bool = False) -> None:
        self.inner = inner
        self.name = inner.name
        self.deterministic = inner.deterministic
        self.cassette = cassette
        self.append = append
        with _recordings_lock:
            self._recording = _recordings.setdefault(str(cassette.resolve()), _Recording())

    def complete(
        self,
        request: ModelRequest,
        *,
        on_text: OnText | None = None,
        deadline: float | None = None,
    ) -> ModelResponse:
        response = self.inner.complete(request, on_text=on_text, deadline=deadline)
        normalised = normalise_request(request)
        turn = {
            "request": normalised,
            "request_sha256": request_sha256(normalised),
            "response": response_to_json(response),
        }
        line = _line(turn)
        recording = self._recording
        with recording.lock:
            if recording.started or (self.append and _has_header(self.cassette)):
                self._write(line, "ab")
            else:
                header = {
                    "caxton_cassette": CASSETTE_VERSION,
                    "provider": self.inner.name,
                    "model": response.model,
                    "recorded_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                }
                self._write(_line(header) + line, "wb")
            recording.started = True
        return response

    def _write(self, data: bytes, mode: str) -> None:
        try:
            self.cassette.parent.mkdir(parents=True, exist_ok=True)
            with self.cassette.open(mode) as f:
                f.write(data)  # one write per line: a reader never sees half a turn
        except OSError as exc:
            raise FileAccessError(
                f"cannot write the cassette {self.cassette}: {exc.strerror or exc}",
                "check the folder exists and is writable, or record to another path",
            ) from None


def _has_header(path: Path) -> bool:
    try:
        with path.open("rb") as f:
            return b'"caxton_cassette"' in f.readline()
    except OSError:
        return False


def _line(value: dict[str, Any]) -> bytes:
    try:
        return (json.dumps(value, ensure_ascii=False) + "\n").encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates: escaped, still valid JSON
        return (json.dumps(value) + "\n").encode("ascii")
