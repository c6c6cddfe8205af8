"""Slow and malformed clients against `caxton serve` as a process, over raw sockets: what the
in-process tests of `test_app.py` cannot send (a body that stalls, a length with no body,
bytes that are not UTF-8) is answered with a JSON error, and holds up no one else."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.server.test_load import API, LEAN, Launch, Server, launcher, make_workspace

STALLED = 30  # clients stuck mid-body: more than the server's worker threads (4 here)


@pytest.fixture
def launch(tmp_path: Path) -> Iterator[Launch]:
    with launcher(tmp_path) as start:
        yield start


@pytest.fixture
def server(tmp_path: Path, launch: Launch) -> Server:
    return launch(make_workspace(tmp_path), tmp_path / "data", "--max-concurrent", "4")


def head(server: Server, length: int) -> bytes:
    """The start of a `POST messages` that announces a body of `length` bytes."""
    return (
        f"POST {API}/messages HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Authorization: {server.headers['Authorization']}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {length}\r\n\r\n"
    ).encode()


def exchange(server: Server, data: bytes, timeout: float = 10.0) -> tuple[int, dict[str, Any]]:
    """Send raw bytes on a new connection; the answer's status and JSON body."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=timeout) as sock:
        sock.sendall(data)
        received = b""
        while b"\r\n\r\n" not in received:
            chunk = sock.recv(65536)
            assert chunk, f"connection closed before an answer: {received!r}"
            received += chunk
        top, _, body = received.partition(b"\r\n\r\n")
        lines = top.decode("latin-1").split("\r\n")
        headers = dict(line.lower().split(": ", 1) for line in lines[1:])
        assert headers["content-type"] == "application/json", lines
        while len(body) < int(headers["content-length"]):
            body += sock.recv(65536)
    return int(lines[0].split()[1]), json.loads(body)


def test_clients_stalled_mid_body_hold_up_no_one(server: Server) -> None:
    stalled = []
    try:
        for _ in range(STALLED):
            sock = socket.create_connection(("127.0.0.1", server.port), timeout=5)
            stalled.append(sock)
            sock.sendall(head(server, 1000) + b'{"request"')  # 10 of the 1,000 bytes
        started = time.monotonic()
        with server.client() as client:
            for i in range(20):
                response = client.post(
                    f"{API}/messages", json={"request": f"hi {i}", "agent": LEAN}
                )
                assert response.status_code == 200 and response.json()["stop_reason"] == "done"
            assert client.get("/health").status_code == 200
        assert time.monotonic() - started < 10  # no request waited on the stalled ones
        for sock in stalled:
            sock.settimeout(0.01)
            with pytest.raises(TimeoutError):  # still waiting for their bodies: no answer
                sock.recv(1)
    finally:
        for sock in stalled:
            sock.close()
    # The stalled clients hung up: nothing of theirs is left to hold the shutdown (in-flight
    # requests get 30 s, and a body may take as long to come).
    assert server.terminate(timeout=15) == 0, server.output()


def test_malformed_requests_get_json_errors_before_any_body(server: Server) -> None:
    started = time.monotonic()
    status, body = exchange(server, head(server, 2_000_000))  # the body is never sent
    assert status == 413 and body["error"] == "payload_too_large" and body["hint"]
    assert time.monotonic() - started < 5  # refused on the header alone

    status, body = exchange(server, head(server, 4) + b"\xff\xfe\xfd\xfc")  # not UTF-8
    assert status == 400 and body["error"] == "bad_request"
    for value in (b"[]", b"null", b'"hello"', b"42"):  # JSON, not an object
        status, body = exchange(server, head(server, len(value)) + value)
        assert status == 422 and body["error"] == "invalid", value
    deep = b'{"request": "x", "agent": ' + b"[" * 50_000 + b"]" * 50_000 + b"}"
    status, body = exchange(server, head(server, len(deep)) + deep)
    assert status == 400 and body["error"] == "bad_request"  # not a crash, not a 500

    with server.client() as client:
        response = client.post(f"{API}/messages", json={"request": "still here?", "agent": LEAN})
        assert response.status_code == 200
        metrics = client.get("/metrics").text
    assert 'kind="internal"' not in metrics
    assert httpx.get(f"{server.url}/ready").status_code == 200
