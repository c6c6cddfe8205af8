"""What the API answers when things go wrong, and how a server-sent event is written.

Every error is `{"error": CODE, "detail": what went wrong, "hint": how to fix it}`, with the
status its kind calls for. The codes are a closed list (docs/server.md).
"""

from __future__ import annotations

import json
from typing import Any

from fastapi.responses import JSONResponse

from caxton.errors import (
    CaxtonError,
    ConfigError,
    ConflictError,
    ExitCode,
    NotFoundError,
    UsageError,
)
from caxton.observability.store import TraceStoreUnavailable
from caxton.runtime.executor import Overloaded
from caxton.server.auth import AuthError, Forbidden

RETRY_AFTER_SECONDS = 1


class RateLimited(CaxtonError):
    """A token sent more requests than its rate allows; `retry_after` is in seconds."""

    http_status = 429

    def __init__(self, message: str, hint: str | None, retry_after: int) -> None:
        super().__init__(message, hint)
        self.retry_after = retry_after


class RequestTimeout(CaxtonError):
    """The client took too long to send its body."""

    http_status = 408


_KINDS: tuple[tuple[type[CaxtonError], int, str], ...] = (
    (AuthError, 401, "unauthorized"),
    (Forbidden, 403, "forbidden"),
    (NotFoundError, 404, "not_found"),
    (ConflictError, 409, "conflict"),
    (ConfigError, 422, "invalid"),
    (UsageError, 400, "bad_request"),
    (RateLimited, 429, "rate_limited"),
    (RequestTimeout, 408, "request_timeout"),
    (Overloaded, 503, "overloaded"),
    (TraceStoreUnavailable, 503, "unavailable"),
)
STATUS_KINDS = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    408: "request_timeout",
    409: "conflict",
    413: "payload_too_large",
    422: "invalid",
    429: "rate_limited",
    503: "unavailable",
}


# Errors of other kinds answer by what the user must do, as their exit code says.
_BY_EXIT_CODE = {
    ExitCode.USAGE: 400,
    ExitCode.INVALID: 422,
    ExitCode.NOT_FOUND: 404,
    ExitCode.CONFLICT: 409,
    ExitCode.UNAVAILABLE: 503,
    ExitCode.TOOL_FAILED: 422,
    ExitCode.LIMIT: 422,
}


def error_status(exc: CaxtonError) -> tuple[int, str]:
    """The HTTP status and the `error` code for a Caxton error: by its kind, else by what
    its exit code says (an error without either is a 500)."""
    own = getattr(exc, "http_status", None)  # a kind that names its own status (413, 429, 408)
    if own is not None:
        return own, STATUS_KINDS.get(own, "internal" if own >= 500 else "bad_request")
    for cls, status, kind in _KINDS:
        if isinstance(exc, cls):
            return status, kind
    status = getattr(exc, "http_status", None) or _BY_EXIT_CODE.get(exc.exit_code, 500)
    return status, STATUS_KINDS.get(status, "internal")


def error_body(kind: str, detail: str, hint: str | None) -> dict[str, Any]:
    return {"error": kind, "detail": detail, "hint": hint}


def _headers(status: int, retry_after: int = RETRY_AFTER_SECONDS) -> dict[str, str]:
    if status == 401:
        return {"WWW-Authenticate": "Bearer"}
    if status in (429, 503):
        return {"Retry-After": str(retry_after)}
    if status == 408:
        return {"Connection": "close"}
    return {}


def error_response(exc: CaxtonError) -> JSONResponse:
    status, kind = error_status(exc)
    retry_after = getattr(exc, "retry_after", RETRY_AFTER_SECONDS)
    body = error_body(kind, exc.message, exc.hint)
    body.update(getattr(exc, "extra", None) or {})  # e.g. a refused deploy's problems
    return JSONResponse(body, status, headers=_headers(status, retry_after))


def plain_error(status: int, detail: str, hint: str | None) -> JSONResponse:
    kind = STATUS_KINDS.get(status, "internal" if status >= 500 else "bad_request")
    return JSONResponse(error_body(kind, detail, hint), status, headers=_headers(status))


def sse(event: str, data: dict[str, Any], event_id: int | None = None) -> bytes:
    """One server-sent event: `event:` and one `data:` line of JSON (and `id:` if given)."""
    payload = json.dumps(data, ensure_ascii=False, default=str)
    head = f"id: {event_id}\n" if event_id is not None else ""
    return f"{head}event: {event}\ndata: {payload}\n\n".encode()
