"""HTTP through the host function: allowlisted hosts only, every hop checked, bounded, recorded.

A real HTTP server on loopback answers; the built-in `http_fetch` module asks for it through
`caxton.http_request` from inside the sandbox.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from caxton.errors import ExitCode
from caxton.tools.http_host import HttpPolicy, host_allowed
from caxton.tools.mcp_stdio import ToolCall, ToolRunError, call_tool
from caxton.tools.registry import BUILTIN_DIR
from caxton.tools.sandbox import RunLimits, Sandbox
from tests.conftest import Cli

Fetcher = tuple[Sandbox, Any]


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        port = self.server.server_address[1]  # type: ignore[index]
        if self.path == "/json":
            self._send(200, b'{"hello": "world"}', "application/json")
        elif self.path == "/to-json":
            self._redirect("/json")
        elif self.path == "/to-ip":
            self._redirect(f"http://127.0.0.1:{port}/json")
        elif self.path == "/to-elsewhere":
            self._redirect("https://elsewhere.example.net/steal")
        elif self.path == "/loop":
            self._redirect("/loop")
        elif self.path == "/big":
            self._send(200, b"x" * (3 << 20), "text/plain")
        elif self.path == "/slow":
            time.sleep(1.5)
            self._send(200, b"late", "text/plain")
        else:
            self._send(404, b"no such page", "text/plain")

    def do_POST(self) -> None:
        length = int(self.headers.get("content-length", 0))
        body = self.rfile.read(length)
        echo = {"type": self.headers.get("content-type"), "body": body.decode()}
        self._send(201, json.dumps(echo).encode(), "application/json")

    def _redirect(self, location: str) -> None:
        self.send_response(302)
        self.send_header("Location", location)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def _send(self, status: int, body: bytes, kind: str) -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up first: that is what the size and time tests do

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def port() -> Iterator[int]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def fetcher(tmp_path_factory: pytest.TempPathFactory) -> Fetcher:
    sandbox = Sandbox(tmp_path_factory.mktemp("wasm"))
    module = sandbox.module((BUILTIN_DIR / "http_fetch" / "http_fetch.wasm").read_bytes())
    return sandbox, module


def fetch(
    fetcher: Fetcher, arguments: dict[str, object], timeout: float = 10.0, **policy: Any
) -> ToolCall:
    sandbox, module = fetcher
    limits = RunLimits(timeout_seconds=timeout)
    return call_tool(
        sandbox, module, "http_fetch", arguments, limits=limits, http=HttpPolicy(**policy)
    )


def grant(root: Path, *hosts: str) -> None:
    config = root / "caxton.toml"
    listed = ", ".join(json.dumps(h) for h in hosts)
    config.write_text(config.read_text() + f"\n[tools.http_fetch]\nhttp_hosts = [{listed}]\n")


def test_no_host_is_reachable_without_a_grant(workspace: Path, cli: Cli, port: int) -> None:
    result = cli("tool", "test", "http_fetch", "--call", json.dumps({"url": "http://localhost/x"}))
    assert result.code == 8
    assert "may not use the network" in result.out and "http_hosts" in result.out
    assert "http: GET http://localhost/x -> host 'localhost' is not allowed" in result.err
    audit = (workspace / ".caxton" / "audit" / "tool-calls.jsonl").read_text().splitlines()
    record = json.loads(audit[-1])
    assert record["outcome"] == "error-result"
    assert record["http"][0]["url"] == "http://localhost/x" and "denied" in record["http"][0]


def test_a_granted_host_answers(workspace: Path, cli: Cli, port: int) -> None:
    grant(workspace, "localhost")
    url = f"http://localhost:{port}/json"
    result = cli("tool", "test", "http_fetch", "--call", json.dumps({"url": url}), "--json")
    assert result.code == 0, result.out + result.err
    shown = json.loads(result.out)
    answer = json.loads(shown["content"][0]["text"])
    assert [r["status"] for r in shown["http"]] == [200]
    assert answer["status"] == 200 and json.loads(answer["body"]) == {"hello": "world"}
    assert answer["headers"]["content-type"] == "application/json"
    record = json.loads(
        (workspace / ".caxton" / "audit" / "tool-calls.jsonl").read_text().splitlines()[-1]
    )
    assert record["http"] == [
        {
            "method": "GET",
            "url": url,
            "status": 200,
            "bytes": 18,
            "seconds": pytest.approx(0, abs=5),
        }
    ]


def test_a_bad_grant_is_reported_by_validate(workspace: Path, cli: Cli) -> None:
    grant(workspace, "https://api.example.com")
    result = cli("validate")
    assert result.code != 0
    assert "caxton.toml:" in result.out + result.err and "no scheme" in result.out + result.err


def test_other_hosts_ip_literals_and_schemes_are_refused(fetcher: Fetcher, port: int) -> None:
    allowed = ("localhost", "*.example.com")
    for url, reason in [
        ("http://evil.example.org/", "host 'evil.example.org' is not allowed"),
        ("http://example.com/", "host 'example.com' is not allowed"),  # *.x is below x only
        (f"http://127.0.0.1:{port}/json", "IP address '127.0.0.1' is not allowed"),
        ("http://[::1]/", "IP address '::1' is not allowed"),
        ("file:///etc/passwd", "only http and https"),
        ("http://user:pw@localhost/", "credentials"),
    ]:
        call = fetch(fetcher, {"url": url}, hosts=allowed)
        assert call.is_error, url
        assert reason in json.loads(call.text())["error"], url
        assert call.run.http[0].denied is not None
    # an IP is reachable when named exactly
    call = fetch(fetcher, {"url": f"http://127.0.0.1:{port}/json"}, hosts=("127.0.0.1",))
    assert json.loads(call.text())["status"] == 200


def test_every_redirect_hop_is_checked(fetcher: Fetcher, port: int) -> None:
    hosts = ("localhost",)
    followed = fetch(fetcher, {"url": f"http://localhost:{port}/to-json"}, hosts=hosts)
    answer = json.loads(followed.text())
    assert answer["status"] == 200 and answer["url"].endswith("/json")
    assert [r.status for r in followed.run.http] == [302, 200]
    for path, host in (("/to-ip", "127.0.0.1"), ("/to-elsewhere", "elsewhere.example.net")):
        call = fetch(fetcher, {"url": f"http://localhost:{port}{path}"}, hosts=hosts)
        assert call.is_error and f"{host!r} is not allowed" in call.text()
        assert call.run.http[-1].denied is not None
    looping = fetch(fetcher, {"url": f"http://localhost:{port}/loop"}, hosts=hosts)
    assert looping.is_error and "redirects" in looping.text()


def test_answers_are_bounded_in_size_and_time(fetcher: Fetcher, port: int) -> None:
    hosts = ("localhost",)
    big = fetch(fetcher, {"url": f"http://localhost:{port}/big"}, hosts=hosts, max_bytes=1 << 20)
    assert big.is_error and "larger than the 1,048,576-byte limit" in big.text()
    started = time.monotonic()
    slow = fetch(
        fetcher, {"url": f"http://localhost:{port}/slow"}, hosts=hosts, timeout_seconds=0.3
    )
    assert slow.is_error and "timed out" in slow.text()
    assert time.monotonic() - started < 1.4
    capped = fetch(
        fetcher, {"url": f"http://localhost:{port}/to-json"}, hosts=hosts, max_requests=1
    )
    assert capped.is_error and "more than 1 requests" in capped.text()


def test_the_tool_time_limit_bounds_a_request(fetcher: Fetcher, port: int) -> None:
    # the server answers after 1.5 s; the tool may run 0.5 s in all. Either the host's socket
    # timeout answers first (an error result) or the epoch deadline stops the module as it
    # resumes: both end the call at its limit.
    started = time.monotonic()
    try:
        slow = fetch(
            fetcher, {"url": f"http://localhost:{port}/slow"}, hosts=("localhost",), timeout=0.5
        )
    except ToolRunError as exc:
        assert "ran past its 0.5s time limit" in exc.message
    else:
        assert slow.is_error and "timed out" in slow.text()
    assert time.monotonic() - started < 1.2


def test_post_with_a_json_body(fetcher: Fetcher, port: int) -> None:
    call = fetch(
        fetcher,
        {"url": f"http://localhost:{port}/items", "method": "POST", "body": {"name": "caxton"}},
        hosts=("localhost",),
    )
    answer = json.loads(call.text())
    assert answer["status"] == 201
    assert json.loads(answer["body"]) == {"type": "application/json", "body": '{"name":"caxton"}'}


def test_status_codes_are_answers_not_errors(fetcher: Fetcher, port: int) -> None:
    call = fetch(fetcher, {"url": f"http://localhost:{port}/missing"}, hosts=("localhost",))
    assert not call.is_error and json.loads(call.text())["status"] == 404


label = st.from_regex(r"[a-z0-9]([a-z0-9-]{0,8}[a-z0-9])?", fullmatch=True)
name = st.lists(label, min_size=1, max_size=4).map(".".join)


@given(name, name, st.integers(1, 65535))
def test_a_wildcard_matches_only_names_below_its_domain(domain: str, host: str, port: int) -> None:
    allowed = host_allowed(host, port, (f"*.{domain}",))
    assert allowed == (host.endswith("." + domain))


@given(name, st.integers(1, 65535), st.integers(1, 65535))
def test_a_port_in_the_entry_is_enforced(host: str, port: int, other: int) -> None:
    assert host_allowed(host, port, (host,))
    assert host_allowed(host, port, (f"{host}:{other}",)) == (port == other)


@given(st.ip_addresses(), name)
def test_wildcards_never_reach_an_ip_address(ip: object, domain: str) -> None:
    text = str(ip)
    assert not host_allowed(text, 80, (f"*.{domain}", "*.0.0.1", "*.1"))
    assert host_allowed(text, 80, (text,)) or ":" in text  # v6 entries are not valid grants


def test_grants_name_wasm_tools_only(workspace: Path, cli: Cli) -> None:
    config = workspace / "caxton.toml"
    config.write_text(
        config.read_text()
        + '\n[tools.http_fetsh]\nhttp_hosts = ["a.example.com"]\n'
        + '\n[tools.memory_search]\nhttp_hosts = ["a.example.com"]\n'
    )
    result = cli("validate")
    lines = config.read_text().splitlines()
    typo = lines.index("[tools.http_fetsh]") + 1
    runtime = lines.index("[tools.memory_search]") + 1
    assert result.code == ExitCode.INVALID
    assert f"caxton.toml:{typo}:1: error:" in result.out
    assert "did you mean [tools.http_fetch]?" in result.out
    assert f"caxton.toml:{runtime}:1: error:" in result.out
    assert "does not run in the sandbox" in result.out


def test_a_refusal_names_the_grant_that_allows_it(workspace: Path, cli: Cli, port: int) -> None:
    """What the `test` model's http_fetch call shows a new user: where to grant the host."""
    url = json.dumps({"url": f"http://localhost:{port}/json"})
    refused = cli("tool", "test", "http_fetch", "--call", url)
    assert refused.code == 8
    grant_line = '`[tools.http_fetch] http_hosts = ["localhost"]`'
    assert f"(grant it in caxton.toml: {grant_line})" in refused.out.replace('\\"', '"')
    table, key = grant_line.strip("`").split("] ")
    config = workspace / "caxton.toml"
    config.write_text(config.read_text() + f"\n{table}]\n{key}\n")  # the hint, followed
    assert cli("tool", "test", "http_fetch", "--call", url).code == 0
    config.write_text(config.read_text().replace('["localhost"]', '["api.example.com"]'))
    refused = cli("tool", "test", "http_fetch", "--call", url)
    assert refused.code == 8
    assert (
        "host 'localhost' is not allowed (allowed: api.example.com); add \"localhost\" to "
        "`http_hosts` in `[tools.http_fetch]` of caxton.toml"
    ) in refused.out.replace('\\"', '"')
