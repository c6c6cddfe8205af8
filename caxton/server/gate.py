"""The middleware every request passes: auth, rate limits and body limits before routing;
metrics and the access log after.

Pure ASGI, so streams pass through untouched. Every `/api/` request is authenticated and
checked against the workspace in its path before routing, so a caller without a valid token
learns nothing, not even which routes exist.
"""

from __future__ import annotations

import asyncio
import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from caxton.deploy.store import MAX_UPLOAD_BYTES
from caxton.errors import CaxtonError
from caxton.server.auth import AuthError, authorize
from caxton.server.responses import (
    STATUS_KINDS,
    RateLimited,
    RequestTimeout,
    error_response,
    plain_error,
)
from caxton.server.state import ServerState

if TYPE_CHECKING:
    from fastapi.responses import JSONResponse

    from caxton.server.app import Metrics

API_PREFIX = "/api/v1/workspaces/"
AUTH_HINT = "send `Authorization: Bearer <token>`; get a token with `caxton token create`"

AccessLog = Callable[[str, str, int, float], None]  # method, path (no query), status, ms


@dataclass(frozen=True, slots=True)
class Limits:
    """What one request may take. `rate` is requests per second per token (0: unlimited),
    with bursts of up to `burst` requests.

    `upload_bytes` is the deploy routes' one size limit: the body of `POST .../blobs`,
    `.../deployments` and `.../deploy/plan` as sent, a blob upload once unpacked, and a
    `blobs/fetch` answer. `GET deploy` advertises it, and clients size their batches by it."""

    body_bytes: int = 1 << 20  # 1 MiB: far above any request text
    upload_bytes: int = MAX_UPLOAD_BYTES
    body_timeout: float = 30.0  # seconds between two pieces of a body
    rate: float = 100.0
    burst: int = 200


class RateLimiter:
    """A token bucket per API token (by its id), refilled at `rate` per second. Runs on the
    event loop only, so it needs no lock."""

    MAX_KEYS = 10_000

    def __init__(self, rate: float, burst: int) -> None:
        self.rate = rate
        self.burst = max(1, burst)
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, at)

    def wait(self, key: str) -> float:
        """0 if a request by `key` may go now (and count it), else the seconds until it may."""
        now = time.monotonic()
        tokens, at = self._buckets.get(key, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - at) * self.rate)
        if tokens < 1.0:
            self._buckets[key] = (tokens, now)
            return (1.0 - tokens) / self.rate
        self._buckets[key] = (tokens - 1.0, now)
        if len(self._buckets) > self.MAX_KEYS:
            self._forget_full(now)
        return 0.0

    def _forget_full(self, now: float) -> None:
        """Drop the buckets that have refilled: forgetting them changes nothing."""
        full = [
            key
            for key, (tokens, at) in self._buckets.items()
            if tokens + (now - at) * self.rate >= self.burst
        ]
        for key in full:
            del self._buckets[key]


class Gate:
    """Authenticates, rate-limits and bounds each request's body; times it into the latency
    histogram and, when asked, logs it as one line without query string or headers."""

    def __init__(
        self,
        app: ASGIApp,
        state: ServerState,
        metrics: Metrics,
        routes: Callable[[Scope], str],
        access_log: AccessLog | None,
        limits: Limits,
    ) -> None:
        self.app = app
        self.state = state
        self.metrics = metrics
        self.routes = routes
        self.access_log = access_log
        self.limits = limits
        self.limiter = RateLimiter(limits.rate, limits.burst) if limits.rate > 0 else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500
        kind: str | None = None

        async def timed_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            early = self._authenticate(scope)
            if early is None:
                early, receive = await self._limit_body(scope, receive)
            if early is not None:
                kind = json.loads(bytes(early.body))["error"]
                await early(scope, receive, timed_send)
            else:
                await self.app(scope, receive, timed_send)
        finally:
            if kind is None and status >= 400:
                kind = scope.get("state", {}).get("caxton_error") or STATUS_KINDS.get(
                    status, "internal"
                )
            if kind is not None:
                self.metrics.errors.labels(kind).inc()
            route = scope["route"].path if "route" in scope else self.routes(scope)
            seconds = time.perf_counter() - started
            self.metrics.latency.labels(scope["method"], route, str(status)).observe(seconds)
            if self.access_log is not None:
                # never the query string or any header
                self.access_log(scope["method"], scope["path"], status, seconds * 1000)

    def _authenticate(self, scope: Scope) -> JSONResponse | None:
        path: str = scope["path"]
        if not path.startswith("/api/"):
            return None
        try:
            claims = self.state.authority.verify(_bearer_token(scope))
            if path.startswith(API_PREFIX):
                workspace = path[len(API_PREFIX) :].partition("/")[0]
                authorize(claims, workspace, "viewer")  # reach first: 403 reveals no name
            if self.limiter is not None:
                wait = self.limiter.wait(claims.jti)
                if wait > 0:
                    raise RateLimited(
                        f"this token is limited to {self.limiter.rate:g} requests per second "
                        f"(bursts of {self.limiter.burst})",
                        "retry after the time in the Retry-After header, or ask the server's "
                        "admin to raise `caxton serve --rate-limit`",
                        max(1, math.ceil(wait)),
                    )
        except CaxtonError as exc:
            return error_response(exc)
        scope.setdefault("state", {})["claims"] = claims
        return None

    async def _limit_body(
        self, scope: Scope, receive: Receive
    ) -> tuple[JSONResponse | None, Receive]:
        """Read the whole (bounded) body up front: over the size limit is a 413, chunked or
        not; a client that stalls between two pieces for longer than the timeout gets a 408
        and the connection is closed."""
        headers = dict(scope["headers"])
        length = headers.get(b"content-length")
        chunked = b"chunked" in headers.get(b"transfer-encoding", b"")
        if length is None and not chunked:
            return None, receive
        path: str = scope["path"]
        uploads = path.endswith(("/blobs", "/deployments", "/deploy/plan"))
        limit = self.limits.upload_bytes if uploads else self.limits.body_bytes
        too_big = plain_error(
            413,
            f"request body larger than {limit} bytes",
            f"send a shorter request; the limit is {limit} bytes",
        )
        if length is not None and (not length.isdigit() or int(length) > limit):
            return too_big, receive
        chunks: list[bytes] = []
        size = 0
        while True:
            try:
                message = await asyncio.wait_for(receive(), self.limits.body_timeout)
            except TimeoutError:
                return error_response(
                    RequestTimeout(
                        f"the request body did not arrive within {self.limits.body_timeout:g} s",
                        "send the body with the request; check the network between client "
                        "and server",
                    )
                ), receive
            if message["type"] != "http.request":  # the client went away mid-body: no work
                return plain_error(
                    400, "the client disconnected before sending the whole body", None
                ), receive
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                return too_big, receive
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        return None, replay


def _bearer_token(scope: Scope) -> str:
    header: bytes | None = next((v for k, v in scope["headers"] if k == b"authorization"), None)
    if header is None:
        raise AuthError("missing bearer token", AUTH_HINT)
    scheme, _, token = header.decode("latin-1").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthError("malformed Authorization header (expected `Bearer <token>`)", AUTH_HINT)
    return token.strip()
