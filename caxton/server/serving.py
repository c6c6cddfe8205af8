"""How Caxton runs uvicorn: one `uvicorn_config()` for `caxton serve` and the embedded server.

It adds the connection deadlines uvicorn lacks. uvicorn arms no timer on a fresh connection,
and its keep-alive timer is cancelled by the first byte that arrives, so a client that sends
nothing, or a request head one byte at a time, holds a connection forever. With httptools
the head is not size-limited either. Here a request head must be complete within
`header_timeout` seconds of the connection opening (or of its first byte on a kept-alive
connection), and may be at most MAX_HEAD_BYTES. A client that stops reading its response
for `send_timeout` seconds is cut off. The request body and the time a request may take
are the app's to bound, not this module's.
"""

from __future__ import annotations

import asyncio
import json
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from caxton.errors import CaxtonError, ExitCode, FileAccessError, NotFoundError, UsageError

HEADER_TIMEOUT = 10.0  # seconds to deliver a complete request head
KEEP_ALIVE_TIMEOUT = 5  # seconds an idle kept-alive connection stays open
SEND_TIMEOUT = 30.0  # seconds a client may leave a response unread before it is cut off
LIMIT_CONCURRENCY = 1000  # connections plus running requests; beyond it requests get a 503
BACKLOG = 2048  # connections the kernel queues before the server accepts them
GRACE_SECONDS = 30  # in-flight requests get this long to finish on shutdown
MAX_HEAD_BYTES = 16 * 1024  # request line and headers; h11's own default, and Node's


class InvalidTlsFile(CaxtonError):
    exit_code = ExitCode.INVALID


@dataclass(frozen=True, slots=True)
class TlsFiles:
    """A certificate chain and its private key, both PEM, checked to load and to match."""

    cert: Path
    key: Path


class _EncryptedKey(Exception):
    pass


def _refuse_password() -> str:
    # Without a callback OpenSSL would prompt on the terminal, and a server would hang there.
    raise _EncryptedKey


def tls_files(cert: Path | None, key: Path | None) -> TlsFiles | None:
    """Check `--tls-cert` and `--tls-key` (both or neither) before anything binds a port."""
    if cert is None and key is None:
        return None
    if cert is None or key is None:
        given, missing = ("--tls-cert", "--tls-key") if key is None else ("--tls-key", "--tls-cert")
        raise UsageError(
            f"`{given}` needs `{missing}`",
            "pass both: `--tls-cert cert.pem --tls-key key.pem` (PEM files), or neither",
        )
    for flag, path in (("--tls-cert", cert), ("--tls-key", key)):
        try:
            with path.open("rb"):
                pass
        except FileNotFoundError as exc:
            raise NotFoundError(f"no file `{path}`", f"check the path given to `{flag}`") from exc
        except OSError as exc:
            raise FileAccessError(
                f"cannot read `{path}`: {exc.strerror or exc}",
                f"`{flag}` takes a PEM file that the server's user can read",
            ) from exc
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    try:
        context.load_verify_locations(cafile=cert)  # parses certificates, and only them
    except ssl.SSLError as exc:
        raise InvalidTlsFile(
            f"`{cert}` holds no PEM certificate",
            "`--tls-cert` takes the server's certificate in PEM (`-----BEGIN CERTIFICATE-----`), "
            "followed by any intermediate certificates",
        ) from exc
    try:
        context.load_cert_chain(cert, key, password=_refuse_password)
    except _EncryptedKey as exc:
        raise InvalidTlsFile(
            f"the key `{key}` is encrypted",
            f"the server cannot ask for a passphrase: decrypt it with "
            f"`openssl pkey -in {key} -out key.pem`, keep that file private (mode 0600), "
            "and pass it to `--tls-key`",
        ) from exc
    except ssl.SSLError as exc:
        if exc.reason == "KEY_VALUES_MISMATCH":
            raise InvalidTlsFile(
                f"the key `{key}` does not belong to the certificate `{cert}`",
                "pass the private key that the certificate was issued for",
            ) from exc
        raise InvalidTlsFile(
            f"`{key}` holds no PEM private key",
            "`--tls-key` takes the private key in PEM (`-----BEGIN PRIVATE KEY-----`)",
        ) from exc
    return TlsFiles(cert, key)


# ----- connection deadlines ---------------------------------------------------------------------


class _Deadlines:
    """The timers of one connection, mixed into a uvicorn HTTP protocol.

    The head timer runs while the connection waits for a request head: from the connection
    opening, and on a kept-alive connection from the first byte after the previous response
    (until then uvicorn's keep-alive timer bounds the idle time). The send timer runs while
    the transport's buffer is above its high-water mark and the client reads nothing."""

    header_timeout: float = HEADER_TIMEOUT
    send_timeout: float = SEND_TIMEOUT
    loop: asyncio.AbstractEventLoop
    transport: asyncio.Transport
    cycle: Any  # the current request's RequestResponseCycle, or None before the first

    _head_timer: asyncio.TimerHandle | None = None
    _send_timer: asyncio.TimerHandle | None = None
    _unsent = 0

    def _awaiting_head(self) -> bool:
        return self.cycle is None or bool(self.cycle.response_complete)

    def _start_head_timer(self) -> None:
        if self._head_timer is None:
            self._head_timer = self.loop.call_later(self.header_timeout, self._head_late)

    def _stop_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_late(self) -> None:
        self._head_timer = None
        if self._awaiting_head() and not self.transport.is_closing():
            self.transport.close()

    def _writing_paused(self) -> None:
        if self._send_timer is None:
            self._unsent = self.transport.get_write_buffer_size()
            self._send_timer = self.loop.call_later(self.send_timeout, self._send_late)

    def _writing_resumed(self) -> None:
        if self._send_timer is not None:
            self._send_timer.cancel()
            self._send_timer = None

    def _send_late(self) -> None:
        self._send_timer = None
        unsent = self.transport.get_write_buffer_size()
        if unsent < self._unsent:  # a slow reader, but a reader: give it another period
            self._unsent = unsent
            self._send_timer = self.loop.call_later(self.send_timeout, self._send_late)
        else:
            # abort, not close: close would wait for the buffer to drain, which never happens.
            self.transport.abort()

    def _stop_timers(self) -> None:
        self._stop_head_timer()
        self._writing_resumed()


class H11DeadlineProtocol(_Deadlines, H11Protocol):
    """uvicorn's h11 protocol with the deadlines (h11 limits the head's size itself)."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._start_head_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_timers()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._awaiting_head():
            self._start_head_timer()
        super().data_received(data)
        if not self._awaiting_head():
            self._stop_head_timer()

    def pause_writing(self) -> None:
        super().pause_writing()
        self._writing_paused()

    def resume_writing(self) -> None:
        super().resume_writing()
        self._writing_resumed()


_HEAD_TOO_LARGE = json.dumps(
    {
        "error": "headers_too_large",
        "detail": f"the request line and headers are over {MAX_HEAD_BYTES} bytes",
        "hint": "send fewer or shorter headers",
    }
).encode()


class HttpToolsDeadlineProtocol(_Deadlines, HttpToolsProtocol):
    """uvicorn's httptools protocol with the deadlines and a limit on the head's size.

    httptools buffers a header until it ends, unbounded, so the size is counted here:
    every read that falls wholly inside one unfinished head (the read in which a head
    starts is not counted, so the limit can be passed by at most one read)."""

    _in_head = True  # between the end of one message and the end of the next head
    _heads = 0
    _head_bytes = 0

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._start_head_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_timers()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._awaiting_head():
            self._start_head_timer()
        inside, heads = self._in_head, self._heads
        super().data_received(data)
        if not self._awaiting_head():
            self._stop_head_timer()
        if inside and self._in_head and heads == self._heads:
            self._head_bytes += len(data)
            if self._head_bytes > MAX_HEAD_BYTES and not self.transport.is_closing():
                self._refuse_head()

    def _refuse_head(self) -> None:
        if not self._awaiting_head():
            # A pipelined head while a response is being written: read (so buffer) no more
            # until that response is out; the next read then refuses the head.
            self.flow.pause_reading()
            return
        self.transport.write(
            b"HTTP/1.1 431 Request Header Fields Too Large\r\n"
            b"content-type: application/json\r\n"
            b"content-length: %d\r\nconnection: close\r\n\r\n%s"
            % (len(_HEAD_TOO_LARGE), _HEAD_TOO_LARGE)
        )
        self.transport.close()

    def on_headers_complete(self) -> None:
        self._in_head = False
        self._heads += 1
        self._head_bytes = 0
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._in_head = True

    def pause_writing(self) -> None:
        super().pause_writing()
        self._writing_paused()

    def resume_writing(self) -> None:
        super().resume_writing()
        self._writing_resumed()


def protocol_class(
    header_timeout: float, send_timeout: float, http: Literal["httptools", "h11"] = "httptools"
) -> type[asyncio.Protocol]:
    """uvicorn's HTTP protocol with these deadlines; httptools (a dependency: the faster one)."""
    base: type[_Deadlines] = (
        HttpToolsDeadlineProtocol if http == "httptools" else H11DeadlineProtocol
    )
    timeouts = {"header_timeout": header_timeout, "send_timeout": send_timeout}
    return type(base.__name__, (base,), timeouts)


def uvicorn_config(
    app: Any,
    *,
    tls: TlsFiles | None = None,
    header_timeout: float = HEADER_TIMEOUT,
    keep_alive_timeout: int = KEEP_ALIVE_TIMEOUT,
    send_timeout: float = SEND_TIMEOUT,
    limit_concurrency: int | None = LIMIT_CONCURRENCY,
    backlog: int = BACKLOG,
    shutdown_grace: int = GRACE_SECONDS,
    http: Literal["httptools", "h11"] = "httptools",
) -> uvicorn.Config:
    """The uvicorn configuration serving `app` (run it with `Server.run(sockets=[sock])`).

    It leaves logging alone (`caxton.server.logs` configures it for `caxton serve`; an
    embedding host owns its own), sends no `server` header, and speaks no WebSocket."""
    return uvicorn.Config(
        app,
        http=protocol_class(header_timeout, send_timeout, http),
        ws="none",
        lifespan="off",
        log_config=None,
        access_log=False,
        server_header=False,
        timeout_keep_alive=keep_alive_timeout,
        timeout_graceful_shutdown=shutdown_grace,
        limit_concurrency=limit_concurrency,
        backlog=backlog,
        h11_max_incomplete_event_size=MAX_HEAD_BYTES,
        ssl_certfile=tls.cert if tls else None,
        ssl_keyfile=tls.key if tls else None,
    )


class Server(uvicorn.Server):
    """uvicorn's server, calling `on_exit` as soon as a signal starts the shutdown (the API
    ends its open event streams there, which would otherwise hold the graceful shutdown for
    its whole grace period)."""

    def __init__(self, config: uvicorn.Config, on_exit: Callable[[], None] | None = None) -> None:
        super().__init__(config)
        self._on_exit = on_exit

    def handle_exit(self, sig: int, frame: Any) -> None:
        if self._on_exit is not None:
            self._on_exit()
        super().handle_exit(sig, frame)
