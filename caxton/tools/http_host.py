"""HTTP for sandboxed tools: the host side of `caxton.http_request`.

WASI preview1 has no sockets, so a module that needs the network asks the host. The host
checks every hop (the first URL and each redirect) against the tool's allowlist of hosts,
refuses IP literals unless one is named exactly, bounds the response's size and the time it
takes, and records each request for the audit log. Requests and answers are JSON text:

    request:  {"url": "https://api.example.com/x", "method": "GET",
               "headers": {"accept": "application/json"}, "body": "..."}
    answer:   {"status": 200, "url": "<final url>", "headers": {...}, "body": "..."}
           or {"error": "<why nothing was fetched>"}
"""

from __future__ import annotations

import http.client
import ipaddress
import json
import time
import urllib.parse
from dataclasses import dataclass, field
from typing import Any

METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
REDIRECTS = frozenset({301, 302, 303, 307, 308})
MAX_REDIRECTS = 5
USER_AGENT = "caxton-tool"


@dataclass(frozen=True, slots=True)
class HttpPolicy:
    """What one call may reach: hosts, answer size, time per request, number of requests."""

    hosts: tuple[str, ...] = ()
    tool: str = ""  # whose policy: a refusal names the `[tools.NAME]` grant that would allow it
    max_bytes: int = 1 << 20
    timeout_seconds: float = 10.0
    max_requests: int = 16


@dataclass(slots=True)
class HttpRecord:
    method: str
    url: str
    status: int | None = None
    bytes: int = 0
    seconds: float = 0.0
    denied: str | None = None
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"method": self.method, "url": self.url}
        for key in ("status", "denied", "error"):
            if getattr(self, key) is not None:
                out[key] = getattr(self, key)
        out["bytes"] = self.bytes
        out["seconds"] = round(self.seconds, 6)
        return out


class Denied(Exception):
    """The request breaks the tool's policy; nothing was sent."""


@dataclass(slots=True)
class HttpSession:
    """One tool call's HTTP: its policy, its deadline and what it has fetched so far."""

    policy: HttpPolicy
    deadline: float  # time.monotonic() after which no request starts or waits
    records: list[HttpRecord] = field(default_factory=list)

    def fetch(self, request_json: bytes) -> dict[str, Any]:
        """Answer one `http_request`: the response, or {"error": ...}; never raises."""
        try:
            request = _parse_request(request_json)
        except ValueError as exc:
            return {"error": str(exc)}
        method, url = request["method"], request["url"]
        body: bytes | None = request["body"]
        headers: dict[str, str] = request["headers"]
        for _ in range(MAX_REDIRECTS + 1):
            if len(self.records) >= self.policy.max_requests:
                return {"error": f"more than {self.policy.max_requests} requests in one call"}
            record = HttpRecord(method, url)
            self.records.append(record)
            try:
                target = allowed_target(url, self.policy.hosts, tool=self.policy.tool)
            except Denied as exc:
                record.denied = str(exc)
                return {"error": str(exc)}
            started = time.monotonic()
            try:
                status, reply_headers, data = self._send(target, method, headers, body)
            except (OSError, http.client.HTTPException, Denied) as exc:
                record.error = _describe(exc)
                record.seconds = time.monotonic() - started
                return {"error": f"{method} {url} failed: {record.error}"}
            record.status, record.bytes = status, len(data)
            record.seconds = time.monotonic() - started
            location = reply_headers.get("location")
            if status in REDIRECTS and location:
                url = urllib.parse.urljoin(url, location)
                if status == 303 or (status in (301, 302) and method == "POST"):
                    method, body = "GET", None
                continue
            return {
                "status": status,
                "url": url,
                "headers": reply_headers,
                "body": data.decode("utf-8", errors="replace"),
            }
        return {"error": f"more than {MAX_REDIRECTS} redirects"}

    def _send(
        self, target: _Target, method: str, headers: dict[str, str], body: bytes | None
    ) -> tuple[int, dict[str, str], bytes]:
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            raise Denied("the tool's time limit was reached")
        timeout = min(self.policy.timeout_seconds, remaining)
        connection_type = (
            http.client.HTTPSConnection if target.scheme == "https" else http.client.HTTPConnection
        )
        connection = connection_type(target.host, target.port, timeout=timeout)
        try:
            sent = {"User-Agent": USER_AGENT, "Accept-Encoding": "identity", **headers}
            sent["Host"] = target.netloc
            sent["Connection"] = "close"
            connection.request(method, target.path, body=body, headers=sent)
            response = connection.getresponse()
            limit = self.policy.max_bytes
            chunks: list[bytes] = []
            size = 0
            while method != "HEAD":
                chunk = response.read1(64 * 1024)
                if not chunk:
                    break
                chunks.append(chunk)
                size += len(chunk)
                if size > limit:
                    raise Denied(f"the response is larger than the {limit:,}-byte limit")
                if time.monotonic() > self.deadline:
                    raise Denied("the tool's time limit was reached while reading the response")
            data = b"".join(chunks)
            reply = {k.lower(): v for k, v in response.getheaders()}
            return response.status, reply, data
        finally:
            connection.close()


@dataclass(frozen=True, slots=True)
class _Target:
    scheme: str
    host: str
    port: int
    netloc: str
    path: str


def allowed_target(url: str, hosts: tuple[str, ...], *, tool: str = "") -> _Target:
    """Where `url` points, if its host is on the allowlist; Denied (with the reason, and the
    grant in caxton.toml that would allow it when the tool is named) if not."""
    try:
        parts = urllib.parse.urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise Denied(f"{url!r} is not a valid URL: {exc}") from None
    if parts.scheme not in ("http", "https"):
        raise Denied(f"only http and https URLs can be fetched, not {url!r}")
    if parts.username is not None or parts.password is not None:
        raise Denied("URLs with credentials (user:password@) are refused; send a header")
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise Denied(f"{url!r} has no host")
    port = port or (443 if parts.scheme == "https" else 80)
    if not hosts:
        raise Denied(
            f"host {host!r} is not allowed: this tool may not use the network "
            + (
                f"(grant it in caxton.toml: `[tools.{tool}] http_hosts = [{json.dumps(host)}]`)"
                if tool
                else "(grant hosts with `http_hosts`)"
            )
        )
    if not host_allowed(host, port, hosts):
        what = "IP address" if _is_ip(host) else "host"
        raise Denied(
            f"{what} {host!r} is not allowed (allowed: {', '.join(hosts)}); "
            + (
                f"add {json.dumps(host)} to `http_hosts` in `[tools.{tool}]` of caxton.toml"
                if tool
                else "add it to `http_hosts` to grant it"
            )
        )
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    netloc = host if ":" not in host else f"[{host}]"
    if parts.port is not None:
        netloc += f":{parts.port}"
    return _Target(parts.scheme, host, port, netloc, path)


def host_allowed(host: str, port: int, allowlist: tuple[str, ...]) -> bool:
    """Whether `host:port` matches an entry: `name`, `name:port`, `*.domain` or `*.domain:port`.

    `*.domain` matches names below the domain, not the domain itself. IP addresses match only
    an entry naming that exact address: a wildcard never reaches an IP literal.
    """
    host = host.lower()
    is_ip = _is_ip(host)
    for entry in allowlist:
        name, _, entry_port = entry.lower().rpartition(":") if _has_port(entry) else (entry, "", "")
        name = name.lower()
        if entry_port and int(entry_port) != port:
            continue
        if name.startswith("*."):
            if not is_ip and host.endswith(name[1:]):
                return True
        elif name == host:
            return True
    return False


def _has_port(entry: str) -> bool:
    head, sep, tail = entry.rpartition(":")
    return bool(sep) and tail.isdigit() and ":" not in head


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _parse_request(raw: bytes) -> dict[str, Any]:
    try:
        data = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"the request is not JSON: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("url"), str):
        raise ValueError('the request must be a JSON object with a "url" string')
    method = data.get("method", "GET")
    if not isinstance(method, str) or method.upper() not in METHODS:
        raise ValueError(f"method must be one of {', '.join(sorted(METHODS))}")
    headers = data.get("headers") or {}
    if not isinstance(headers, dict) or not all(
        isinstance(k, str) and isinstance(v, str) and "\n" not in k + v and "\r" not in k + v
        for k, v in headers.items()
    ):
        raise ValueError("headers must be an object of single-line strings")
    body = data.get("body")
    encoded: bytes | None = None
    if isinstance(body, str):
        encoded = body.encode("utf-8")
    elif body is not None:
        encoded = json.dumps(body, separators=(",", ":")).encode("utf-8")
        if not any(k.lower() == "content-type" for k in headers):
            headers = {**headers, "Content-Type": "application/json"}
    return {"method": method.upper(), "url": data["url"], "headers": headers, "body": encoded}


def _describe(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "timed out"
    return str(exc) or type(exc).__name__
