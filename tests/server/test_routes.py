"""Memory, tools, reload and events routes; rate limits and slow bodies, through a real server
(uvicorn on loopback, embedded mode) and a real httpx client."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from caxton.server.app import Limits
from caxton.server.embedded import EmbeddedServer, start_embedded

WS = "my-ws"
API = f"/api/v1/workspaces/{WS}"


@pytest.fixture
def server(workspace: Path) -> Iterator[EmbeddedServer]:
    with start_embedded(workspace, model="test") as running:
        yield running


@pytest.fixture
def client(server: EmbeddedServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, headers=server.headers, timeout=30) as c:
        yield c


def bearer(server: EmbeddedServer, role: Any) -> dict[str, str]:
    token = server.state.authority.issue("someone", [WS], role, 3600)[0]
    return {"Authorization": f"Bearer {token}"}


# ----- memory --------------------------------------------------------------------------------


def test_memory_entities_relations_search_and_stats(client: httpx.Client) -> None:
    added = client.post(
        f"{API}/memory/entities",
        json={"entities": [
            {"name": "billing", "type": "service", "observations": ["charges cards nightly"]},
            {"name": "ledger", "type": "service", "observations": ["keeps the accounts"]},
        ]},
    )  # fmt: skip
    assert added.status_code == 200, added.text
    assert [e["name"] for e in added.json()["entities"]] == ["billing", "ledger"]
    assert added.json()["scope"] == {"kind": "workspace", "owner": WS}
    related = client.post(
        f"{API}/memory/relations",
        json={"relations": [{"from": "billing", "to": "ledger", "type": "writes_to"}]},
    )
    assert related.status_code == 200, related.text
    assert related.json()["relations"][0]["from"] == "billing"
    graph = client.get(f"{API}/memory/entities/billing", params={"depth": 1}).json()
    assert {e["name"] for e in graph["entities"]} == {"billing", "ledger"}
    assert graph["relations"][0]["type"] == "writes_to"
    hits = client.get(f"{API}/memory/search", params={"q": "who charges the cards"}).json()["hits"]
    assert hits[0]["kind"] == "entity" and hits[0]["name"] == "billing"
    listed = client.get(f"{API}/memory/entities").json()["entities"]
    assert [e["name"] for e in listed] == ["billing", "ledger"]
    assert len(client.get(f"{API}/memory/relations").json()["relations"]) == 1
    stats = client.get(f"{API}/memory/stats").json()
    assert stats["entities"] == 2 and stats["relations"] == 1 and "path" not in stats


def test_memory_scopes_are_apart_and_checked(client: httpx.Client) -> None:
    client.post(
        f"{API}/memory/entities",
        params={"scope": "agent", "agent": "assistant"},
        json={"entities": [{"name": "secret", "type": "note", "observations": ["mine"]}]},
    )
    mine = client.get(f"{API}/memory/entities", params={"scope": "agent", "agent": "assistant"})
    assert [e["name"] for e in mine.json()["entities"]] == ["secret"]
    assert client.get(f"{API}/memory/entities").json()["entities"] == []  # workspace scope
    no_agent = client.get(f"{API}/memory/entities", params={"scope": "agent"})
    assert no_agent.status_code == 400 and "agent=NAME" in no_agent.json()["hint"]
    stray = client.get(f"{API}/memory/entities", params={"agent": "assistant"})
    assert stray.status_code == 400
    assert client.get(f"{API}/memory/entities", params={"scope": "galaxy"}).status_code == 422


def test_memory_relation_to_a_missing_entity_is_404_and_writes_nothing(
    client: httpx.Client,
) -> None:
    response = client.post(
        f"{API}/memory/relations",
        json={"relations": [{"from": "ghost", "to": "phantom", "type": "haunts"}]},
    )
    assert response.status_code == 404 and "ghost" in response.json()["detail"]
    assert client.get(f"{API}/memory/relations").json()["relations"] == []


def test_memory_export_then_import_round_trips_all_or_nothing(
    server: EmbeddedServer, client: httpx.Client
) -> None:
    client.post(
        f"{API}/memory/entities",
        json={"entities": [{"name": "paris", "type": "city", "observations": ["in France"]}]},
    )
    document = client.get(f"{API}/memory/export").json()
    assert [e["name"] for e in document["entities"]] == ["paris"]
    broken = json.loads(json.dumps(document))
    broken["entities"].append({"scope": {"kind": "nowhere"}})
    refused = client.post(f"{API}/memory/import", json=broken)
    assert refused.status_code == 422 and refused.json()["error"] == "invalid"
    document["entities"][0]["name"] = "lyon"
    imported = client.post(f"{API}/memory/import", json=document)
    assert imported.status_code == 200, imported.text
    assert imported.json()["entities"] == 1
    names = [e["name"] for e in client.get(f"{API}/memory/entities").json()["entities"]]
    assert names == ["lyon", "paris"]
    viewer = bearer(server, "viewer")
    assert client.post(f"{API}/memory/import", json=document, headers=viewer).status_code == 403
    assert client.get(f"{API}/memory/export", headers=viewer).status_code == 200


# ----- tools ---------------------------------------------------------------------------------


def test_tools_list_describe_and_call(server: EmbeddedServer, client: httpx.Client) -> None:
    listed = client.get(f"{API}/tools").json()["tools"]
    by_name = {t["name"]: t for t in listed}
    assert by_name["text"]["sandboxed"] is True and "module" not in by_name["text"]
    assert by_name["memory_search"]["sandboxed"] is False
    assert "assistant" in by_name["memory_search"]["used_by"]
    one = client.get(f"{API}/tools/text").json()
    assert one["input_schema"]["type"] == "object" and one["limits"]["fuel"] > 0
    called = client.post(
        f"{API}/tools/text/calls", json={"arguments": {"op": "words", "text": "one two three"}}
    )
    assert called.status_code == 200, called.text
    result = called.json()
    assert result["is_error"] is False and "3" in result["text"] and result["fuel_used"] > 0
    bad = client.post(f"{API}/tools/text/calls", json={"arguments": {"op": 7}})
    assert bad.status_code == 400 and bad.json()["hint"]
    host = client.post(f"{API}/tools/memory_search/calls", json={"arguments": {"query": "x"}})
    assert host.status_code == 400 and "inside an agent's request" in host.json()["detail"]
    assert client.get(f"{API}/tools/nope").status_code == 404
    viewer = bearer(server, "viewer")
    assert client.post(f"{API}/tools/text/calls", json={}, headers=viewer).status_code == 403
    audit = (server.state.workspaces[WS].root / ".caxton/audit/tool-calls.jsonl").read_text()
    assert '"caller": "api:embedded"' in audit


# ----- reload and events ---------------------------------------------------------------------


def read_events(response: httpx.Response, count: int) -> list[tuple[str, int, dict[str, Any]]]:
    found: list[tuple[str, int, dict[str, Any]]] = []
    name, event_id = "", 0
    for line in response.iter_lines():
        if line.startswith("id: "):
            event_id = int(line[4:])
        elif line.startswith("event: "):
            name = line[7:]
        elif line.startswith("data: "):
            found.append((name, event_id, json.loads(line[6:])))
            if len(found) == count:
                break
    return found


def test_events_stream_executions_and_reloads_and_resume(
    server: EmbeddedServer, client: httpx.Client, workspace: Path
) -> None:
    got: list[tuple[str, int, dict[str, Any]]] = []
    subscribed = threading.Event()

    def listen() -> None:
        with (
            httpx.Client(base_url=server.url, headers=server.headers, timeout=30) as c,
            c.stream("GET", f"{API}/events") as response,
        ):
            assert response.status_code == 200
            subscribed.set()
            got.extend(read_events(response, 2))

    listener = threading.Thread(target=listen)
    listener.start()
    assert subscribed.wait(10)
    time.sleep(0.2)  # the subscription is registered once the first bytes are out
    sent = client.post(f"{API}/messages", json={"request": "hi", "agent": "assistant"}).json()
    (workspace / "agents" / "assistant.toml").write_text(
        (workspace / "agents" / "assistant.toml").read_text().replace('name = "assistant"', "x")
    )
    reloaded = client.post(f"{API}/reload")
    assert reloaded.status_code == 200 and "assistant" in reloaded.json()["invalid"]
    listener.join(15)
    assert [name for name, _, _ in got] == ["execution", "reload"]
    assert got[0][2]["trace_id"] == sent["trace_id"] and got[0][2]["agent"] == "assistant"
    assert "assistant" in got[1][2]["invalid"]
    # A client that reconnects with Last-Event-ID gets what it missed, in order.
    first_id = got[0][1]
    with client.stream(
        "GET", f"{API}/events", headers={"Last-Event-ID": str(first_id - 1)}
    ) as response:
        again = read_events(response, 2)
    assert [(n, i) for n, i, _ in again] == [(n, i) for n, i, _ in got]
    assert client.get(f"{API}/agents").json()["agents"][0]["valid"] is False


def test_stopping_the_server_ends_open_event_streams(workspace: Path) -> None:
    running = start_embedded(workspace, model="test")
    ended = threading.Event()

    def listen() -> None:
        with (
            httpx.Client(base_url=running.url, headers=running.headers, timeout=30) as c,
            c.stream("GET", f"{API}/events") as response,
        ):
            for _ in response.iter_lines():
                pass
        ended.set()

    listener = threading.Thread(target=listen, daemon=True)
    listener.start()
    time.sleep(0.3)
    started = time.monotonic()
    running.stop()
    assert ended.wait(5) and time.monotonic() - started < 4


# ----- rate limits and slow bodies -------------------------------------------------------------


def limited_server(workspace: Path, limits: Limits) -> EmbeddedServer:
    return start_embedded(workspace, model="test", limits=limits)


def test_rate_limit_is_per_token_429_with_retry_after(workspace: Path) -> None:
    with limited_server(workspace, Limits(rate=1, burst=3)) as running:
        other = bearer(running, "viewer")
        with httpx.Client(base_url=running.url, headers=running.headers) as c:
            codes = [c.get(f"{API}/agents").status_code for _ in range(5)]
            assert codes[:3] == [200, 200, 200] and codes[3:] == [429, 429]
            refused = c.get(f"{API}/agents")
            assert refused.headers["retry-after"] == "1"
            assert refused.json()["error"] == "rate_limited" and refused.json()["hint"]
            assert c.get(f"{API}/agents", headers=other).status_code == 200  # its own bucket
            assert c.get("/health").status_code == 200  # no token, no limit
            time.sleep(1.1)
            assert c.get(f"{API}/agents").status_code == 200  # refilled


def test_a_stalled_body_gets_408_and_others_are_served(workspace: Path) -> None:
    with limited_server(workspace, Limits(rate=0, body_timeout=0.5)) as running:
        host, port = running.url.removeprefix("http://").split(":")
        stalled = socket.create_connection((host, int(port)))
        try:
            stalled.sendall(
                f"POST {API}/messages HTTP/1.1\r\nHost: x\r\n"
                f"Authorization: Bearer {running.token}\r\nContent-Type: application/json\r\n"
                'Content-Length: 100\r\n\r\n{"request":'.encode()
            )
            with httpx.Client(base_url=running.url, headers=running.headers) as c:
                assert c.get(f"{API}/agents").status_code == 200  # not blocked meanwhile
            stalled.settimeout(5)
            answer = stalled.recv(4096).decode()
        finally:
            stalled.close()
    assert answer.startswith("HTTP/1.1 408") and "request_timeout" in answer


def test_an_entity_whose_name_has_a_slash_can_be_read(tmp_path: Path) -> None:
    from caxton.client import Client
    from caxton.server.embedded import start_embedded
    from caxton.workspace.scaffold import create_workspace

    root = tmp_path / "slashes"
    create_workspace(root)
    with (
        start_embedded(root, model="test") as server,
        Client(server.url, server.token, "slashes") as client,
    ):
        client.post("memory/entities", {"entities": [
            {"name": "billing/invoices", "type": "service", "observations": ["sends invoices"]}
        ]})  # fmt: skip
        for path in ("memory/entities/billing%2Finvoices", "memory/entities/billing/invoices"):
            graph = client.get(path)
            assert [e["name"] for e in graph["entities"]] == ["billing/invoices"]
