"""The one HTTP client of the Caxton API: the CLI and the TUI talk to every server through it,
the embedded one on 127.0.0.1 and remote ones alike.

Errors come back as `RemoteError`, carrying the server's `detail` and `hint` and the exit code
that the status calls for; a server that cannot be reached is a `RemoteError` with exit code 7.
The transport is injectable (`httpx.MockTransport`, `httpx.ASGITransport`) for tests of the
callers.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import httpx

from caxton.errors import CaxtonError, ExitCode

OnEvent = Callable[[str, dict[str, Any]], None]  # (event name, data) of a server-sent event

CONNECT_TIMEOUT = 5.0
READ_TIMEOUT = 600.0  # a request to an agent may run for minutes (its own limits bound it)

_EXIT_BY_STATUS = {
    400: ExitCode.USAGE,
    401: ExitCode.UNAVAILABLE,
    403: ExitCode.UNAVAILABLE,
    404: ExitCode.NOT_FOUND,
    408: ExitCode.UNAVAILABLE,
    409: ExitCode.CONFLICT,
    413: ExitCode.USAGE,
    422: ExitCode.INVALID,
    429: ExitCode.UNAVAILABLE,
    503: ExitCode.UNAVAILABLE,
}
_EXIT_BY_KIND = {
    "internal": ExitCode.INTERNAL,
    "payload_too_large": ExitCode.USAGE,
    "request_timeout": ExitCode.UNAVAILABLE,
    "bad_request": ExitCode.USAGE,
    "not_found": ExitCode.NOT_FOUND,
    "conflict": ExitCode.CONFLICT,
    "invalid": ExitCode.INVALID,
    "unavailable": ExitCode.UNAVAILABLE,
    "overloaded": ExitCode.UNAVAILABLE,
    "rate_limited": ExitCode.UNAVAILABLE,
    "unauthorized": ExitCode.UNAVAILABLE,
    "forbidden": ExitCode.UNAVAILABLE,
}


class RemoteError(CaxtonError):
    """What a server refused (its status, `error` code, detail and hint), or that it could
    not be reached (status 0)."""

    def __init__(
        self,
        message: str,
        hint: str | None,
        status: int,
        kind: str,
        body: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message, hint)
        self.status = status
        self.kind = kind
        self.body = body or {}  # the whole error body: a refused deploy's `problems`, ...
        self.exit_code = _EXIT_BY_KIND.get(kind) or _EXIT_BY_STATUS.get(
            status, ExitCode.UNAVAILABLE if status == 0 or status >= 500 else ExitCode.INTERNAL
        )

    @classmethod
    def from_body(cls, body: dict[str, Any], status: int) -> RemoteError:
        """From an error body `{"error", "detail", "hint"}` (a response or an SSE event)."""
        return cls(
            str(body.get("detail") or f"HTTP {status}"),
            body.get("hint"),
            status,
            str(body.get("error") or "internal"),
            body,
        )


class Client:
    """The API of one server, for one workspace on it."""

    def __init__(
        self,
        base_url: str,
        token: str | None,
        workspace: str,
        *,
        transport: httpx.BaseTransport | None = None,
        verify: bool | str = True,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.workspace = workspace
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        if not self.base_url.startswith("https://"):
            verify = False  # plain HTTP: loading the CA bundle (~30 ms) would buy nothing
        self._http = httpx.Client(
            base_url=self.base_url,
            headers=headers,
            transport=transport,
            verify=verify,
            timeout=httpx.Timeout(READ_TIMEOUT, connect=CONNECT_TIMEOUT),
        )

    def __repr__(self) -> str:  # never the token
        return f"Client({self.base_url!r}, workspace={self.workspace!r})"

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ----- plumbing ----------------------------------------------------------------------------

    def _path(self, path: str) -> str:
        return f"/api/v1/workspaces/{self.workspace}/{path}"

    def _unreachable(self, exc: httpx.HTTPError) -> RemoteError:
        return RemoteError(
            f"{self.base_url} does not answer: {exc}",
            "check the URL, and that `caxton serve` is running there (`caxton health URL`)",
            0,
            "unavailable",
        )

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise self._unreachable(exc) from exc
        return _answer(response)

    def get(self, path: str, **params: Any) -> Any:
        """GET a path under the workspace, e.g. `get("traces", limit=5)`."""
        return self._call("GET", self._path(path), params=_drop_none(params))

    def post(self, path: str, body: Any = None, **params: Any) -> Any:
        return self._call("POST", self._path(path), json=body, params=_drop_none(params))

    def post_bytes(self, path: str, content: bytes) -> Any:
        """POST raw bytes (e.g. packed blobs) under the workspace; the answer's JSON."""
        headers = {"Content-Type": "application/octet-stream"}
        return self._call("POST", self._path(path), content=content, headers=headers)

    def fetch_bytes(self, path: str, body: Any) -> bytes:
        """POST JSON under the workspace and return the raw bytes answered (e.g. blobs)."""
        try:
            response = self._http.request("POST", self._path(path), json=body)
        except httpx.HTTPError as exc:
            raise self._unreachable(exc) from exc
        if response.is_success:
            return response.content
        _answer(response)
        raise AssertionError("unreachable")  # _answer raises for every error status

    # ----- the API ------------------------------------------------------------------------------

    def health(self) -> dict[str, Any]:
        result: dict[str, Any] = self._call("GET", "/health")
        return result

    def whoami(self) -> dict[str, Any]:
        result: dict[str, Any] = self._call("GET", "/api/v1/whoami")
        return result

    def agents(self) -> list[dict[str, Any]]:
        agents: list[dict[str, Any]] = self.get("agents")["agents"]
        return agents

    def send(
        self,
        request: str,
        *,
        agent: str | None = None,
        conversation_id: str | None = None,
        on_event: OnEvent | None = None,
    ) -> dict[str, Any]:
        """Send a request to an agent (routed when `agent` is None) and return the result.
        With `on_event`, the work streams (`token`, `span`, `tool` events as they happen) and
        the result is the `done` event; a stream ending in `error` raises RemoteError."""
        body = {"request": request, "agent": agent, "conversation_id": conversation_id}
        if on_event is None:
            result: dict[str, Any] = self.post("messages", body)
            return result
        try:
            with self._http.stream(
                "POST",
                self._path("messages"),
                json=body,
                headers={"Accept": "text/event-stream"},
            ) as response:
                if response.status_code != 200:
                    response.read()
                    _answer(response)
                for name, data in _events(response.iter_lines()):
                    if name == "done":
                        return data
                    if name == "error":
                        raise RemoteError.from_body(data, int(data.get("status") or 500))
                    on_event(name, data)
        except httpx.HTTPError as exc:
            raise self._unreachable(exc) from exc
        raise RemoteError(
            "the server ended the stream before the result",
            "retry; if it keeps happening, look at the server's log",
            0,
            "unavailable",
        )

    def events(self, last_event_id: int | None = None) -> Iterator[tuple[str, dict[str, Any]]]:
        """The workspace's events as they come (`execution`, `reload`, `deploy`, `lagged`)."""
        headers = {"Last-Event-ID": str(last_event_id)} if last_event_id is not None else {}
        try:
            with self._http.stream(
                "GET", self._path("events"), headers=headers, timeout=httpx.Timeout(None)
            ) as response:
                if response.status_code != 200:
                    response.read()
                    _answer(response)
                yield from _events(response.iter_lines())
        except httpx.HTTPError as exc:
            raise self._unreachable(exc) from exc

    def traces(self, limit: int = 20) -> list[dict[str, Any]]:
        executions: list[dict[str, Any]] = self.get("traces", limit=limit)["executions"]
        return executions

    def trace(self, trace_id: str) -> dict[str, Any]:
        result: dict[str, Any] = self.get(f"traces/{trace_id}")
        return result

    def reload(self) -> dict[str, Any]:
        result: dict[str, Any] = self.post("reload")
        return result


def _drop_none(params: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in params.items() if v is not None}


def _answer(response: httpx.Response) -> Any:
    """The JSON of a 2xx response; the server's error otherwise."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if response.is_success and body is not None:
        return body
    if isinstance(body, dict) and "detail" in body and isinstance(body["detail"], str):
        raise RemoteError.from_body(body, response.status_code)
    raise RemoteError(
        f"{response.request.url.copy_with(query=None)} answered HTTP {response.status_code} "
        "without a Caxton error body",
        "is this URL a Caxton server? check it with `caxton health URL`",
        response.status_code,
        "internal",
    )


def _events(lines: Iterator[str]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Server-sent events as (name, JSON data); comments and ids are skipped."""
    name = "message"
    data: list[str] = []
    for line in lines:
        if not line:
            if data:
                yield name, json.loads("\n".join(data))
            name, data = "message", []
        elif line.startswith("event:"):
            name = line[6:].strip()
        elif line.startswith("data:"):
            data.append(line[5:].removeprefix(" "))
    if data:
        yield name, json.loads("\n".join(data))
