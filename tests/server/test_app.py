"""The HTTP API against a real server: uvicorn on loopback (embedded mode), a real httpx client."""

from __future__ import annotations

import asyncio
import base64
import json
import signal
import socket
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from caxton.server import auth
from caxton.server.embedded import EmbeddedServer, start_embedded
from tests.conftest import Cli

WS = "my-ws"  # the name `caxton init` gives the `workspace` fixture's folder
API = f"/api/v1/workspaces/{WS}"
SSE = {"Accept": "text/event-stream"}


@pytest.fixture
def server(workspace: Path) -> Iterator[EmbeddedServer]:
    with start_embedded(workspace, model="test") as running:
        yield running


@pytest.fixture
def client(server: EmbeddedServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, headers=server.headers, timeout=30) as c:
        yield c


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def token_for(server: EmbeddedServer, workspaces: list[str], role: auth.Role) -> str:
    token: str = server.state.authority.issue("test", workspaces, role, 3600)[0]
    return token


def api_routes(client: httpx.Client) -> list[tuple[str, str]]:
    """Every (method, path) under /api/v1/workspaces/{ws}/ in the served OpenAPI spec."""
    spec = client.get("/openapi.json").json()
    found = []
    for path, operations in spec["paths"].items():
        if path.startswith("/api/v1/workspaces/{ws}/"):
            found += [(method.upper(), path) for method in operations]
    assert len(found) >= 5
    return found


def concrete(path: str, workspace: str) -> str:
    path = path.replace("{ws}", workspace)
    while "{" in path:
        start, end = path.index("{"), path.index("}")
        path = path[:start] + "abcd1234" + path[end + 1 :]
    return path


def post(client: httpx.Client, **body: Any) -> httpx.Response:
    return client.post(f"{API}/messages", json={"agent": "assistant", **body})


def events(response: httpx.Response) -> list[tuple[str, dict[str, Any]]]:
    found, name = [], None
    for line in response.iter_lines():
        if line.startswith("event: "):
            name = line[len("event: ") :]
        elif line.startswith("data: "):
            assert name is not None
            found.append((name, json.loads(line[len("data: ") :])))
    return found


# ----- health, ready, metrics ----------------------------------------------------------------


def test_health_ready_metrics_need_no_token(server: EmbeddedServer) -> None:
    with httpx.Client(base_url=server.url) as anonymous:
        assert anonymous.get("/health").json() == {"status": "ok"}
        ready = anonymous.get("/ready")
        assert ready.status_code == 200
        assert ready.json() == {"status": "ready", "workspaces": 1, "problems": []}
        anonymous.get(f"{API}/agents")  # a 401, counted
        metrics = anonymous.get("/metrics")
    assert metrics.status_code == 200
    assert metrics.headers["content-type"].startswith("text/plain")
    text = metrics.text
    assert (
        'caxton_http_request_duration_seconds_count{method="GET",route="/health",status="200"}'
        in text
    )
    assert 'route="/api/v1/workspaces/{ws}/agents",status="401"' in text
    assert 'caxton_errors_total{kind="unauthorized"} 1.0' in text


def test_ready_is_503_naming_what_failed(workspace: Path) -> None:
    from caxton.observability.store import TraceStore, store_path

    path = store_path(workspace)
    TraceStore.open(path).close()
    # another process holds the store (DuckDB: one writing process per file)
    blocker = subprocess.Popen(
        [sys.executable, "-c", "import duckdb,sys,time; c = duckdb.connect(sys.argv[1]); "
         "print('held', flush=True); time.sleep(60)", str(path)],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert blocker.stdout is not None and blocker.stdout.readline().strip() == "held"
        with start_embedded(workspace, model="test") as running:
            ready = httpx.get(f"{running.url}/ready")
            assert ready.status_code == 503
            assert ready.json()["status"] == "not ready"
            assert "in use by another process" in ready.json()["problems"][0]
            agents = httpx.get(f"{running.url}{API}/agents", headers=running.headers)
            assert agents.status_code == 503 and agents.headers["retry-after"] == "1"
    finally:
        blocker.kill()
        blocker.communicate()


# ----- auth: 401, 403, 404 -------------------------------------------------------------------


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def test_401_for_every_unusable_credential(server: EmbeddedServer) -> None:
    now = int(time.time())
    claims = {"sub": "x", "ws": ["*"], "role": "admin", "iat": now, "exp": now + 60, "jti": "a"}
    expired = server.state.authority.issue("x", ["*"], "admin", 60, now=now - 3600)[0]
    foreign = auth.issue(b"k" * 32, "x", ["*"], "admin", 3600)
    alg_none = f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(claims)}"
    cases: list[tuple[str, dict[str, str]]] = [
        ("missing bearer token", {}),
        ("malformed Authorization header", {"Authorization": "Basic dXNlcjpwdw=="}),
        ("malformed token", bearer("not-a-jwt")),
        ("token expired", bearer(expired)),
        ("token signature does not match", bearer(foreign)),
        ("malformed token", bearer(alg_none + ".")),  # alg=none, empty signature
        ("token algorithm 'none' is not accepted", bearer(alg_none + ".c2ln")),
    ]
    with httpx.Client(base_url=server.url) as c:
        for message, headers in cases:
            response = c.get(f"{API}/agents", headers=headers)
            assert response.status_code == 401, message
            assert response.headers["www-authenticate"] == "Bearer"
            body = response.json()
            assert body["error"] == "unauthorized" and body["detail"].startswith(message)
            assert body["hint"]
            for token in (expired, foreign, alg_none):
                assert token not in response.text


def test_a_token_for_another_workspace_gets_403_on_every_route(
    server: EmbeddedServer, client: httpx.Client
) -> None:
    other = bearer(token_for(server, ["other-ws"], "admin"))
    for method, path in api_routes(client):
        for workspace in (WS, "no-such-ws"):  # existence is not revealed either
            response = client.request(
                method, concrete(path, workspace), headers=other, json={"request": "x"}
            )
            assert response.status_code == 403, (method, path, workspace)
            assert response.json()["error"] == "forbidden"
            assert "my-ws" not in response.json()["hint"] or workspace == WS


def test_roles_viewer_reads_deployer_sends(server: EmbeddedServer, client: httpx.Client) -> None:
    viewer = bearer(token_for(server, [WS], "viewer"))
    assert client.get(f"{API}/agents", headers=viewer).status_code == 200
    assert client.get(f"{API}/traces", headers=viewer).status_code == 200
    refused = client.post(f"{API}/messages", headers=viewer, json={"request": "hi"})
    assert refused.status_code == 403 and "needs 'deployer'" in refused.json()["detail"]
    deployer = bearer(token_for(server, [WS], "deployer"))
    sent = client.post(
        f"{API}/messages", headers=deployer, json={"request": "hi", "agent": "assistant"}
    )
    assert sent.status_code == 200


def test_unknown_workspace_404_hint_names_only_reachable_ones(
    server: EmbeddedServer, client: httpx.Client
) -> None:
    response = client.get("/api/v1/workspaces/nope/agents")
    assert response.status_code == 404
    assert response.json() == {
        "error": "not_found",
        "detail": "no workspace 'nope' on this server",
        "hint": "this token reaches: my-ws",
    }
    narrow = bearer(token_for(server, ["nope", "other"], "viewer"))
    hidden = client.get("/api/v1/workspaces/nope/agents", headers=narrow)
    assert hidden.status_code == 404 and "my-ws" not in hidden.text


def test_bad_bodies_413_400_422_and_unknown_routes(client: httpx.Client) -> None:
    big = client.post(f"{API}/messages", json={"request": "x" * (1 << 20)})
    assert big.status_code == 413 and big.json()["error"] == "payload_too_large"

    def chunks() -> Iterator[bytes]:
        for _ in range(20):
            yield b"x" * 65536

    streamed = client.post(f"{API}/messages", content=chunks())  # chunked, no length
    assert streamed.status_code == 413
    malformed = client.post(
        f"{API}/messages", content=b'{"request": ', headers={"Content-Type": "application/json"}
    )
    assert malformed.status_code == 400 and malformed.json()["error"] == "bad_request"
    invalid = client.post(f"{API}/messages", json={"request": "", "colour": "red"})
    assert invalid.status_code == 422
    assert set(invalid.json()) == {"error", "detail", "hint"}
    assert "colour" in invalid.json()["detail"]
    unknown_agent = client.post(f"{API}/messages", json={"request": "hi", "agent": "ghost"})
    assert unknown_agent.status_code == 404 and unknown_agent.json()["hint"]
    assert client.get(f"{API}/nothing-here").json()["error"] == "not_found"
    bad_trace = client.get(f"{API}/traces/zzzz")
    assert bad_trace.status_code == 404 and bad_trace.json()["hint"]


# ----- messages, traces, conversations -------------------------------------------------------


def test_post_messages_json_then_its_trace(client: httpx.Client) -> None:
    response = post(client, request="hello there")
    assert response.status_code == 200
    result = response.json()
    assert result["stop_reason"] == "done" and result["deterministic"] is True
    assert result["agent"] == "assistant" and result["workspace"] == WS
    assert result["answer"].startswith("[test model]") and result["error"] is None
    traced = client.get(f"{API}/traces/{result['trace_id']}").json()
    assert traced["execution"]["trace_id"] == result["trace_id"]
    assert len(traced["spans"]) == result["trace"]["spans"]
    listed = client.get(f"{API}/traces").json()["executions"]
    assert [e["trace_id"] for e in listed] == [result["trace_id"]]


def test_post_messages_streams_spans_and_tools_as_they_end_then_done(
    client: httpx.Client,
) -> None:
    with client.stream(
        "POST", f"{API}/messages", json={"request": "hi", "agent": "assistant"}, headers=SSE
    ) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        received = events(response)
    names = [name for name, _ in received]
    assert names[-1] == "done" and names.count("done") == 1
    done = received[-1][1]
    text = "".join(data["text"] for name, data in received if name == "token")
    assert text == done["answer"]
    # The test model calls its tools, then writes the answer: the tool events come while the
    # request runs (each right after its own span), before the first token, not at the end.
    tools = [data for name, data in received if name == "tool"]
    assert len(tools) == done["tool_calls"] >= 1 and {"name", "outcome"} <= set(tools[0])
    assert names.index("tool") < names.index("token")
    spans = [data for name, data in received if name == "span"]
    for at, (name, data) in enumerate(received):
        if name == "tool":
            before = received[at - 1]
            assert before[0] == "span" and before[1]["span_id"] == data["span_id"]
    # Every span of the trace was streamed once, as it ended; the request span is last.
    traced = client.get(f"{API}/traces/{done['trace_id']}").json()
    assert sorted(s["span_id"] for s in spans) == sorted(s["span_id"] for s in traced["spans"])
    assert spans[-1]["kind"] == "request" and all(s["end"] is not None for s in spans)


def test_a_delegated_agents_tool_calls_stream_under_its_own_name(workspace: Path, cli: Cli) -> None:
    """The asked agent's tool calls and those of the agent it delegated to arrive on one
    stream: each names the agent that made it, so a client can tell them apart."""
    for name, template in (("coordinator", "pipeline-coordinator"), ("analyst", "data-analyzer")):
        assert cli("init", name, "--template", template).code == 0
    with (
        start_embedded(workspace, model="test") as running,
        httpx.Client(base_url=running.url, headers=running.headers, timeout=30) as c,
        c.stream(
            "POST",
            f"{API}/messages",
            json={"request": "analyse the revenue in sales.csv", "agent": "coordinator"},
            headers=SSE,
        ) as response,
    ):
        tools = [data for name, data in events(response) if name == "tool"]
    by = {(data["agent"], data["name"]) for data in tools}
    assert ("coordinator", "delegate") in by and ("analyst", "csv_parser") in by
    assert {agent for agent, _ in by} <= {"coordinator", "analyst", "assistant"}


def test_a_routed_request_no_agent_fits_goes_to_the_fallback(client: httpx.Client) -> None:
    response = client.post(f"{API}/messages", json={"request": "hello", "agent": None})
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["agent"] == "assistant" and result["stop_reason"] == "done"
    route = result["route"]
    assert route["chosen"] == "assistant" and route["method"] == "fallback"
    assert route["reason"].endswith(": the workspace's fallback agent 'assistant'")
    assert route["candidates"] and route["candidates"][0]["score"] < 0.46
    spans = client.get(f"{API}/traces/{result['trace_id']}").json()["spans"]
    routed = next(s for s in spans if s["kind"] == "route")
    assert routed["attributes"]["caxton.route.method"] == "fallback"
    assert routed["attributes"]["caxton.route.reason"] == route["reason"]


def test_sse_reports_an_error_event_when_no_agent_fits(
    client: httpx.Client, workspace: Path
) -> None:
    config = workspace / "caxton.toml"
    config.write_text(config.read_text().replace('fallback = "assistant"\n', ""))
    assert client.post(f"{API}/reload").status_code == 200
    with client.stream(
        "POST", f"{API}/messages", json={"request": "zzqx vlorp"}, headers=SSE
    ) as response:
        received = events(response)
    names = [name for name, _ in received]
    assert names[-1] == "error" and set(names[:-1]) == {"span"}  # the failed routing is seen
    route = next(data for name, data in received if name == "span" and data["kind"] == "route")
    assert route["status"] == "error"
    error = received[-1][1]
    assert error["error"] == "bad_request" and error["status"] == 400
    assert "no agent fits" in error["detail"] and error["hint"]


def test_conversations_keep_their_exchanges(client: httpx.Client) -> None:
    first = post(client, request="remember the colour blue").json()
    cid = first["conversation_id"]
    second = post(client, request="what colour?", conversation_id=cid).json()
    assert second["conversation_id"] == cid
    got = client.get(f"{API}/conversations/{cid}")
    assert got.status_code == 200
    body = got.json()
    assert body["conversation_id"] == cid and isinstance(body["messages"], list)
    assert [e["trace_id"] for e in body["exchanges"]] == [first["trace_id"], second["trace_id"]]
    assert client.get(f"{API}/conversations/{'0' * 32}").status_code == 404
    assert client.get(f"{API}/conversations/bad-id!").status_code == 422


def test_fifty_concurrent_requests_all_answered_and_traced(server: EmbeddedServer) -> None:
    async def burst() -> list[httpx.Response]:
        async with httpx.AsyncClient(base_url=server.url, headers=server.headers, timeout=60) as c:
            return await asyncio.gather(
                *(
                    c.post(f"{API}/messages", json={"request": f"n{i}", "agent": "assistant"})
                    for i in range(50)
                )
            )

    responses = asyncio.run(burst())
    assert [r.status_code for r in responses] == [200] * 50
    assert all(r.json()["stop_reason"] == "done" for r in responses)
    ids = {r.json()["trace_id"] for r in responses}
    listed = httpx.get(
        f"{server.url}{API}/traces", params={"limit": 100}, headers=server.headers
    ).json()["executions"]
    assert {e["trace_id"] for e in listed} == ids


# ----- `caxton serve` as a process -----------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_caxton_serve_starts_answers_and_stops_on_sigterm(workspace: Path, tmp_path: Path) -> None:
    data, port = tmp_path / "data", free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "caxton", "serve", "--workspace", str(workspace),
         "--data-dir", str(data), "--port", str(port), "--model", "test"],
        stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 20
        while True:
            try:
                assert httpx.get(f"{url}/health").json() == {"status": "ok"}
                break
            except httpx.TransportError:
                assert process.poll() is None and time.monotonic() < deadline
                time.sleep(0.05)
        token_file = data / "server" / "admin-token"
        assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
        token = token_file.read_text().strip()
        answer = httpx.post(
            f"{url}{API}/messages",
            json={"request": "hi", "agent": "assistant"},
            headers=bearer(token),
            timeout=30,
        )
        assert answer.status_code == 200
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, err
    assert f"created an admin token (all workspaces, 365 days) in `{token_file}`" in err
    assert "GET /health 200" in err and f"POST {API}/messages 200" in err
    assert token not in err
    assert err.rstrip().endswith("stopped")
    assert (data / "workspaces" / WS / "traces.duckdb").is_file()


def test_caxton_health_exit_codes(server: EmbeddedServer, cli: Any) -> None:
    up = cli("health", server.url)
    assert up.code == 0 and "is up" in up.err
    down = cli("health", f"http://127.0.0.1:{free_port()}", "--timeout", "2")
    assert down.code == 7 and "does not answer" in down.err


def test_embedded_server_stops_cleanly(workspace: Path) -> None:
    running = start_embedded(workspace, model="test")
    url = running.url
    assert repr(running) == f"EmbeddedServer({url!r})" and running.token not in repr(running)
    running.stop()
    running.stop()  # idempotent
    with pytest.raises(httpx.TransportError):
        httpx.get(f"{url}/health", timeout=2)
    assert any((workspace / ".caxton").iterdir())  # the trace store was written and closed
