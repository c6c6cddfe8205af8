"""`caxton serve` in operation: TLS, JSON logs, and connection deadlines against slow clients."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import select
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal

import httpx
import pytest
import uvicorn

from caxton.server import logs
from caxton.server.serving import uvicorn_config
from tests.conftest import Cli

Http = Literal["httptools", "h11"]
PARSERS: list[Http] = ["httptools", "h11"]


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    """`caxton serve` configures process-wide loggers; put them back for the next test."""
    names = (logs.SERVER_LOGGER, logs.UVICORN_LOGGER)
    saved = {n: (list(logging.getLogger(n).handlers), logging.getLogger(n).level) for n in names}
    yield
    for name, (handlers, level) in saved.items():
        logger = logging.getLogger(name)
        logger.handlers[:] = handlers
        logger.setLevel(level)


# ----- TLS -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def pem(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A self-signed certificate for 127.0.0.1 and its key, another key, the key encrypted."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("needs the `openssl` command to make a test certificate")
    folder = tmp_path_factory.mktemp("tls")
    files = {name: folder / f"{name}.pem" for name in ("cert", "key", "other_key", "encrypted")}
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2"]
    san = ["-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"]
    steps = [
        ["req", "-x509", *ec, *san, "-keyout", str(files["key"]), "-out", str(files["cert"])],
        ["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-out", str(files["other_key"])],
        ["pkey", "-in", str(files["key"]), "-aes256", "-passout", "pass:secret",
         "-out", str(files["encrypted"])],
    ]  # fmt: skip
    for step in steps:
        subprocess.run([openssl, *step], check=True, capture_output=True)
    files["junk"] = folder / "junk.pem"
    files["junk"].write_text("not a certificate\n")
    return files


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_https_with_json_logs(
    workspace: Path, tmp_path: Path, pem: dict[str, Path], cli: Cli
) -> None:
    data, port = tmp_path / "data", free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "caxton", "serve", "--workspace", str(workspace),
         "--data-dir", str(data), "--port", str(port), "--model", "test",
         "--tls-cert", str(pem["cert"]), "--tls-key", str(pem["key"]), "--log-format", "json"],
        stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    url = f"https://127.0.0.1:{port}"
    trusted = ssl.create_default_context(cafile=pem["cert"])
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                assert httpx.get(f"{url}/health", verify=trusted).json() == {"status": "ok"}
                break
            except httpx.TransportError:
                assert process.poll() is None and time.monotonic() < deadline
                time.sleep(0.05)
        hidden = httpx.get(f"{url}/health", params={"token": "sekrit-query"}, verify=trusted)
        assert hidden.status_code == 200
        with pytest.raises(httpx.TransportError):
            httpx.get(f"http://127.0.0.1:{port}/health", timeout=5)  # plain HTTP on a TLS port

        assert cli("health", url, "--ca-cert", str(pem["cert"])).code == 0
        untrusted = cli("health", url)
        assert untrusted.code == 7 and "`--ca-cert PATH`" in untrusted.err
        assert cli("health", url, "--insecure").code == 0
        both = cli("health", url, "--insecure", "--ca-cert", str(pem["cert"]))
        assert both.code == 2 and "exclude each other" in both.err

        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, err
    lines = [json.loads(line) for line in err.splitlines()]  # nothing but JSON on stderr
    for line in lines:
        assert {"ts", "level", "logger", "msg"} <= line.keys()
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", line["ts"])
    assert lines[0]["msg"].startswith("serving my-ws on https://") and lines[0]["url"] == url
    assert "created an admin token" in lines[1]["msg"] and "token_file" in lines[1]
    requests = [line for line in lines if line["logger"] == "caxton.server.access"]
    assert len(requests) >= 3
    for line in requests:
        assert line.keys() == {"ts", "level", "logger", "msg", "method", "path", "status", "ms"}
        assert (line["msg"], line["method"], line["path"], line["status"]) == (
            "request", "GET", "/health", 200,
        )  # fmt: skip
        assert isinstance(line["ms"], float)
    assert "sekrit-query" not in err
    assert lines[-1]["msg"] == "stopped"


@pytest.mark.parametrize(
    ("flags", "code", "message"),
    [
        (["--tls-cert", "cert"], 2, "`--tls-cert` needs `--tls-key`"),
        (["--tls-key", "key"], 2, "`--tls-key` needs `--tls-cert`"),
        (["--tls-cert", "missing", "--tls-key", "key"], 4, "no file"),
        (["--tls-cert", "cert", "--tls-key", "folder"], 6, "cannot read"),
        (["--tls-cert", "junk", "--tls-key", "key"], 3, "holds no PEM certificate"),
        (["--tls-cert", "key", "--tls-key", "key"], 3, "holds no PEM certificate"),
        (["--tls-cert", "cert", "--tls-key", "junk"], 3, "holds no PEM private key"),
        (["--tls-cert", "cert", "--tls-key", "other_key"], 3, "does not belong to the certificate"),
        (["--tls-cert", "cert", "--tls-key", "encrypted"], 3, "is encrypted"),
    ],
)
def test_tls_files_are_checked_before_anything_starts(
    workspace: Path, tmp_path: Path, pem: dict[str, Path], cli: Cli,
    flags: list[str], code: int, message: str,
) -> None:  # fmt: skip
    paths = {**{k: str(v) for k, v in pem.items()}, "missing": str(tmp_path / "none.pem")}
    paths["folder"] = str(tmp_path)
    args = [paths.get(a, a) for a in flags]
    data = tmp_path / "data"
    result = cli("serve", "--data-dir", str(data), "--port", str(free_port()), *args)
    assert result.code == code, result.err
    assert message in result.err and "\nhint: " in result.err
    assert "Traceback" not in result.err
    assert not data.exists()  # checked before the admin token, the stores or the port


def test_a_startup_error_is_a_json_line_in_json_mode(
    workspace: Path, tmp_path: Path, pem: dict[str, Path], cli: Cli
) -> None:
    result = cli(
        "serve", "--log-format", "json", "--tls-cert", str(pem["cert"]),
        "--tls-key", str(pem["other_key"]),
    )  # fmt: skip
    assert result.code == 3
    [line] = [json.loads(text) for text in result.err.splitlines()]
    assert line["level"] == "error" and "does not belong" in line["msg"]
    assert line["hint"] and line["exit_code"] == 3


def test_text_access_lines_cannot_be_forged(capsys: pytest.CaptureFixture[str]) -> None:
    logs.configure("text")
    logs.access_logger("text")("GET", "/a\nerror: forged 200", 404, 1.25)
    assert capsys.readouterr().err == "GET /a\\x0aerror: forged 200 404 1.2ms\n"


# ----- connection deadlines (uvicorn in a thread, on loopback) -------------------------------


async def small_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Answers every request with the client's port (to tell connections apart); `/big` with
    `?n` bytes; `/slow` after 0.3 s."""
    assert scope["type"] == "http"
    if scope["path"] == "/slow":
        await asyncio.sleep(0.3)
    if scope["path"] == "/big":
        body = b"x" * int(scope["query_string"])
    else:
        body = json.dumps({"port": scope["client"][1]}).encode()
    headers = [(b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})


@contextmanager
def running(http: Http = "httptools", **options: Any) -> Iterator[tuple[int, uvicorn.Server]]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn_config(small_app, http=http, shutdown_grace=1, **options))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not server.started:
            assert thread.is_alive() and time.monotonic() < deadline
            time.sleep(0.005)
        yield sock.getsockname()[1], server
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


def connect(port: int) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port))


def seconds_until_closed(conn: socket.socket, limit: float = 5.0) -> float:
    """How long until the server closes `conn` (reading and dropping whatever it sends)."""
    started = time.monotonic()
    conn.settimeout(limit)
    try:
        while conn.recv(65536):
            pass
    except ConnectionResetError:
        pass
    return time.monotonic() - started


def exchange(conn: socket.socket, head: bytes) -> tuple[int, bytes]:
    """Send one request head, read one response: (status, body)."""
    conn.sendall(head)
    data = b""
    while b"\r\n\r\n" not in data:
        data += conn.recv(65536)
    top, _, body = data.partition(b"\r\n\r\n")
    length = int(re.search(rb"content-length: (\d+)", top, re.I).group(1))  # type: ignore[union-attr]
    while len(body) < length:
        body += conn.recv(65536)
    return int(top.split()[1]), body


GET = b"GET / HTTP/1.1\r\nHost: t\r\n\r\n"


@pytest.mark.parametrize("http", PARSERS)
def test_slowloris_is_cut_off_while_others_are_served(http: Http) -> None:
    outcome: dict[str, Any] = {}
    with running(http, header_timeout=1.0) as (port, _):

        def slowloris() -> None:
            head = b"GET / HTTP/1.1\r\nHost: t\r\nX-Slow: " + b"a" * 40 + b"\r\n\r\n"
            with connect(port) as conn:
                started = time.monotonic()
                try:
                    for byte in head:  # one byte every 0.5 s: 30 s for the whole head
                        conn.sendall(bytes([byte]))
                        if select.select([conn], [], [], 0.5)[0]:
                            outcome["answer"] = conn.recv(1024)
                            break
                except OSError:
                    outcome["answer"] = b""
                outcome["seconds"] = time.monotonic() - started

        thread = threading.Thread(target=slowloris)
        thread.start()
        served = 0
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=5) as client:
            while thread.is_alive():
                assert client.get("/").status_code == 200
                served += 1
                time.sleep(0.1)
        thread.join()
    assert outcome["answer"] == b""  # closed, without an answer
    assert 0.9 < outcome["seconds"] < 2.5
    assert served >= 5


@pytest.mark.parametrize("http", PARSERS)
def test_a_connection_that_sends_nothing_is_closed(http: Http) -> None:
    with running(http, header_timeout=0.5) as (port, server), connect(port) as conn:
        assert 0.4 < seconds_until_closed(conn) < 2
        time.sleep(0.05)
        assert not server.server_state.connections


@pytest.mark.parametrize("http", PARSERS)
def test_keep_alive_serves_many_then_closes_when_idle(http: Http) -> None:
    with running(http, header_timeout=0.3, keep_alive_timeout=1) as (port, _):
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=5) as client:
            ports = set()
            for _ in range(4):  # 0.6 s on one connection: longer than the head timeout
                answer = client.get("/")
                assert answer.status_code == 200
                ports.add(answer.json()["port"])
                time.sleep(0.15)
            assert len(ports) == 1
        with connect(port) as conn:
            assert exchange(conn, GET)[0] == 200
            conn.sendall(b"G")  # a head begun, never finished: the head timeout
            assert 0.2 < seconds_until_closed(conn) < 1.5
        if http == "httptools":  # uvicorn's own timer, the same for both parsers
            with connect(port) as conn:
                assert exchange(conn, GET)[0] == 200
                assert 0.9 < seconds_until_closed(conn) < 2  # idle: the keep-alive timeout


def send_huge_head(conn: socket.socket, before: bytes = b"") -> None:
    """`before`, then a head with 4 MiB in one header, unless the server refuses it first."""
    try:
        conn.sendall(before + b"GET / HTTP/1.1\r\nHost: t\r\nX-Huge: ")
        for _ in range(64):
            conn.sendall(b"a" * 65536)
    except OSError:
        pass


def read_all(conn: socket.socket) -> bytes:
    data = b""
    try:
        while chunk := conn.recv(65536):
            data += chunk
    except ConnectionResetError:
        pass
    return data


@pytest.mark.parametrize(("http", "status"), [("httptools", 431), ("h11", 400)])
def test_an_oversized_head_is_refused(http: Http, status: int) -> None:
    with running(http) as (port, _):
        with connect(port) as conn:
            fine = b"GET / HTTP/1.1\r\nHost: t\r\nX-Big: " + b"a" * 8000 + b"\r\n\r\n"
            assert exchange(conn, fine)[0] == 200
        with connect(port) as conn:
            send_huge_head(conn)
            answer = read_all(conn)
        assert answer.startswith(b"HTTP/1.1 %d " % status)
        if http == "h11":
            return
        assert json.loads(answer.partition(b"\r\n\r\n")[2])["error"] == "headers_too_large"
        with connect(port) as conn:  # pipelined behind a request still being answered
            send_huge_head(conn, before=b"GET /slow HTTP/1.1\r\nHost: t\r\n\r\n")
            first, _, rest = read_all(conn).partition(b"\r\n\r\n")
        assert first.startswith(b"HTTP/1.1 200 ")  # the first answer whole, then the refusal
        assert re.match(rb'\{"port": \d+\}HTTP/1.1 431 ', rest)


def test_a_client_that_stops_reading_is_cut_off() -> None:
    with running(send_timeout=0.5) as (port, server):
        conn = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        with conn:
            conn.connect(("127.0.0.1", port))
            conn.sendall(b"GET /big?8000000 HTTP/1.1\r\nHost: t\r\n\r\n")
            deadline = time.monotonic() + 5
            while server.server_state.connections:  # the server lets go of it
                assert time.monotonic() < deadline
                time.sleep(0.05)


def test_a_slow_but_steady_reader_gets_everything() -> None:
    size = 800_000
    with running(send_timeout=0.3) as (port, _):
        conn = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        with conn:
            conn.connect(("127.0.0.1", port))
            conn.sendall(b"GET /big?%d HTTP/1.1\r\nHost: t\r\n\r\n" % size)
            received = 0
            started = time.monotonic()
            while received < size:  # ~100 KiB every 0.1 s: slower than the server writes
                time.sleep(0.1)
                conn.setblocking(False)
                try:
                    for _ in range(25):
                        chunk = conn.recv(4096)
                        assert chunk, "cut off"
                        received += len(chunk)
                except BlockingIOError:
                    pass
                conn.setblocking(True)
    # the head came too; and the transfer outlasted the send timeout twice over
    assert received > size and time.monotonic() - started > 0.6


def test_beyond_the_concurrency_limit_requests_get_503() -> None:
    with running(limit_concurrency=2) as (port, server), connect(port) as idle:
        deadline = time.monotonic() + 5
        while len(server.server_state.connections) < 1:
            assert time.monotonic() < deadline
            time.sleep(0.01)
        with connect(port) as conn:
            assert exchange(conn, GET)[0] == 503
        idle.close()
        while server.server_state.connections:
            assert time.monotonic() < deadline
            time.sleep(0.01)
        with connect(port) as conn:
            assert exchange(conn, GET)[0] == 200
    assert uvicorn_config(small_app, backlog=64).backlog == 64


def test_the_cli_defaults_are_the_servers() -> None:
    from caxton.cli import serve
    from caxton.server import serving

    names = ["HEADER_TIMEOUT", "KEEP_ALIVE_TIMEOUT", "SEND_TIMEOUT", "LIMIT_CONCURRENCY"]
    names += ["BACKLOG", "GRACE_SECONDS"]
    assert [getattr(serve, n) for n in names] == [getattr(serving, n) for n in names]
