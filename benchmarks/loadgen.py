"""A lean HTTP/1.1 load generator for the server benchmark: keep-alive, no pipelining.

Why not httpx: on this 2-core VM the client shares the CPUs with the server it measures, and
httpx costs hundreds of microseconds of Python per request (its request and response models,
header normalisation, the connection pool's locks), about what the bare ASGI app costs to
answer; with it the benchmark measured mostly httpx (the bare app topped out at 550-680
requests/s, and *fell* with more clients). This client does the least a correct HTTP/1.1
client can: the request is one prepared `bytes`, sent as is; the answer is read as a status
line, headers up to the blank line, then a `Content-Length` body (or chunks, for a streamed
answer). Every request is timed, from just before it is written to the end of its body.

Two clients, one per kind of measurement:

- `Connection`: one blocking keep-alive socket (TCP_NODELAY), one request at a time, for the
  interleaved round trips (`bench_server.py` alternates several of them in rounds).
- `load()`: N asyncio stream connections (uvloop when installed: the client's CPU is part of
  what it measures), each sending its next request as soon as the previous answer is read,
  until `total` requests are done. Run as a script, it does that in a process of its own and
  prints one JSON object (rate, latency percentiles, its own CPU time), so the benchmark's
  process, its imports and its GIL stay out of the measurement:

    python benchmarks/loadgen.py http://127.0.0.1:8420/path --clients 8 --requests 2000 \\
        --method POST --body '{"request": "hi"}' --header 'authorization: Bearer ...'
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import socket
import statistics
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import urlsplit

CRLF2 = b"\r\n\r\n"


class HTTPFailure(Exception):
    """An answer this client cannot read, or a status other than the expected one."""


def target(url: str) -> tuple[str, int, str]:
    """Host, port and path (with the query) of an `http://` URL."""
    parts = urlsplit(url)
    if parts.scheme != "http" or not parts.hostname:
        raise ValueError(f"{url}: only http://host[:port]/path is supported")
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return parts.hostname, parts.port or 80, path


def request_bytes(
    url: str, method: str = "GET", body: bytes = b"", headers: Sequence[tuple[str, str]] = ()
) -> bytes:
    """The whole request, ready to be written again and again on a keep-alive connection."""
    host, port, path = target(url)
    lines = [f"{method} {path} HTTP/1.1", f"host: {host}:{port}"]
    lines += [f"{name}: {value}" for name, value in headers]
    if body or method in ("POST", "PUT", "PATCH"):
        lines.append(f"content-length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def parse_head(head: bytes) -> tuple[int, int | None, bool, bool]:
    """Status, Content-Length (None if absent), chunked?, and whether the server closes."""
    lines = head.split(b"\r\n")
    status_line = lines[0].split(b" ", 2)
    if len(status_line) < 2 or not status_line[0].startswith(b"HTTP/1."):
        raise HTTPFailure(f"not an HTTP/1.x status line: {lines[0][:80]!r}")
    status = int(status_line[1])
    length: int | None = None
    chunked = close = False
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value)
        elif name == b"transfer-encoding":
            chunked = b"chunked" in value.lower()
        elif name == b"connection":
            close = b"close" in value.lower()
    return status, length, chunked, close


# ----- one blocking connection: round trips one by one ------------------------------------------


class Connection:
    """A keep-alive HTTP/1.1 connection on a blocking socket; `send` returns (status, body)."""

    def __init__(self, url: str, timeout: float = 60.0) -> None:
        self.host, self.port, _ = target(url)
        self.timeout = timeout
        self._sock: socket.socket | None = None
        self._buffer = b""

    def _connect(self) -> socket.socket:
        sock = socket.create_connection((self.host, self.port), timeout=self.timeout)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._buffer = b""
        return sock

    def send(self, request: bytes) -> tuple[int, bytes]:
        sock = self._sock
        if sock is None:
            sock = self._sock = self._connect()
        sock.sendall(request)
        while (end := self._buffer.find(CRLF2)) < 0:
            self._read(sock)
        head, self._buffer = self._buffer[:end], self._buffer[end + 4 :]
        status, length, chunked, close = parse_head(head)
        if chunked:
            body = self._chunks(sock)
        elif length is not None:
            while len(self._buffer) < length:
                self._read(sock)
            body, self._buffer = self._buffer[:length], self._buffer[length:]
        else:  # no length, not chunked: the body runs to the end of the connection
            while self._read(sock, eof_ok=True):
                pass
            body, self._buffer, close = self._buffer, b"", True
        if close:
            self.close()
        return status, body

    def _read(self, sock: socket.socket, eof_ok: bool = False) -> bool:
        data = sock.recv(65536)
        if not data:
            if eof_ok:
                return False
            self.close()
            raise HTTPFailure("the server closed the connection mid-answer")
        self._buffer += data
        return True

    def _chunks(self, sock: socket.socket) -> bytes:
        parts = []
        while True:
            while (end := self._buffer.find(b"\r\n")) < 0:
                self._read(sock)
            size = int(self._buffer[:end].split(b";")[0], 16)
            while len(self._buffer) < end + 2 + size + 2:
                self._read(sock)
            parts.append(self._buffer[end + 2 : end + 2 + size])
            self._buffer = self._buffer[end + 2 + size + 2 :]
            if size == 0:  # no trailers are sent by the servers measured here
                return b"".join(parts)

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def __enter__(self) -> Connection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# ----- N asyncio connections: requests/s ----------------------------------------------------------


@dataclass
class LoadResult:
    clients: int
    requests: int
    seconds: float
    rate: float  # requests/s
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    client_cpu_ms: float  # this process's CPU time (user + system) per request
    loop: str

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


async def _read_answer(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    head = await reader.readuntil(CRLF2)
    status, length, chunked, close = parse_head(head[:-4])
    if chunked:
        parts = []
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            parts.append(await reader.readexactly(size + 2))
            if size == 0:
                body = b"".join(p[:-2] for p in parts)
                break
    elif length is not None:
        body = await reader.readexactly(length)
    else:
        raise HTTPFailure("an answer without Content-Length on a keep-alive connection")
    if close:
        raise HTTPFailure("the server closed a keep-alive connection")
    return status, body


async def load(
    url: str, request: bytes, clients: int, total: int, *, warmup: int = 5, expect: int = 200
) -> tuple[list[float], float]:
    """`total` requests over `clients` keep-alive connections, each sending its next request
    once it has read the previous answer (after `warmup` untimed requests per connection).
    Returns every request's latency (seconds) and the wall time of the timed part."""
    host, port, _ = target(url)
    connections = []
    for _ in range(clients):
        reader, writer = await asyncio.open_connection(host, port, limit=1 << 20)
        sock = writer.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        connections.append((reader, writer))
    left = 0
    times: list[float] = []
    clock = time.perf_counter

    async def worker(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal left
        while left > 0:
            left -= 1
            start = clock()
            writer.write(request)
            status, body = await _read_answer(reader)
            times.append(clock() - start)
            if status != expect:
                raise HTTPFailure(f"{url}: HTTP {status}: {body[:300]!r}")

    left = warmup * clients
    await asyncio.gather(*(worker(r, w) for r, w in connections))
    times.clear()
    left = total
    start = clock()
    await asyncio.gather(*(worker(r, w) for r, w in connections))
    seconds = clock() - start
    for _, writer in connections:
        writer.close()
    return times, seconds


def quantile(times: Sequence[float], q: int) -> float:
    """The q-th percentile (1..99) of `times`, in the units given."""
    if len(times) < 2:
        return times[0]
    return statistics.quantiles(times, n=100)[q - 1]


def run_load(
    url: str,
    request: bytes,
    clients: int,
    total: int,
    *,
    warmup: int = 5,
    loop: str = "auto",
    expect: int = 200,
) -> LoadResult:
    """`load()` on a new event loop (uvloop when `loop` is "auto" or "uvloop" and installed)."""
    used = "asyncio"
    if loop in ("auto", "uvloop"):
        try:
            import uvloop

            asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
            used = "uvloop"
        except ImportError:
            if loop == "uvloop":
                raise
    before = resource.getrusage(resource.RUSAGE_SELF)
    times, seconds = asyncio.run(load(url, request, clients, total, warmup=warmup, expect=expect))
    after = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return LoadResult(
        clients,
        total,
        seconds,
        total / seconds,
        statistics.median(times) * 1000,
        quantile(times, 90) * 1000,
        quantile(times, 99) * 1000,
        max(times) * 1000,
        cpu / (total + warmup * clients) * 1000,
        used,
    )


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("url")
    parser.add_argument("--clients", type=int, default=8, help="concurrent connections")
    parser.add_argument("--requests", type=int, default=1000, help="timed requests in all")
    parser.add_argument("--warmup", type=int, default=5, help="untimed requests per connection")
    parser.add_argument("--method", default="GET")
    parser.add_argument("--body", default="", help="the request body (sent as given)")
    parser.add_argument(
        "--header", action="append", default=[], metavar="NAME: VALUE", help="repeatable"
    )
    parser.add_argument("--loop", choices=("auto", "uvloop", "asyncio"), default="auto")
    parser.add_argument("--expect", type=int, default=200, help="the status every answer has")
    args = parser.parse_args(argv)
    headers = [(h.partition(":")[0].strip(), h.partition(":")[2].strip()) for h in args.header]
    if args.body and not any(name.lower() == "content-type" for name, _ in headers):
        headers.append(("content-type", "application/json"))
    request = request_bytes(args.url, args.method, args.body.encode(), headers)
    try:
        result = run_load(
            args.url,
            request,
            args.clients,
            args.requests,
            warmup=args.warmup,
            loop=args.loop,
            expect=args.expect,
        )
    except (HTTPFailure, OSError, asyncio.IncompleteReadError) as exc:
        print(json.dumps({"error": f"{type(exc).__name__}: {exc}"}))
        sys.exit(1)
    print(json.dumps(result.to_json()))


if __name__ == "__main__":
    main()
