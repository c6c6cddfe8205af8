"""`caxton serve` (the HTTP API over local workspaces) and `caxton health [URL]`.

`serve` creates the admin token on its first start and says where it is (never what it is),
logs one line per request to stderr (method, path, status, milliseconds: no headers), as text
or as JSON lines, and on SIGTERM or Ctrl-C stops accepting, lets in-flight requests finish,
then closes the stores. `--tls-cert`/`--tls-key` are checked before the port is bound.
"""

from __future__ import annotations

import logging
import signal
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from caxton.cli import output
from caxton.errors import CaxtonError, ExitCode, FileAccessError, NotFoundError, UsageError

if TYPE_CHECKING:
    import ssl

    from caxton.server.logs import LogFormat

app = typer.Typer(add_completion=False)
health_app = typer.Typer(add_completion=False)

DEFAULT_PORT = 8420
DEFAULT_URL = f"http://127.0.0.1:{DEFAULT_PORT}"
# The defaults of caxton.server.serving, repeated so `caxton serve --help` imports no uvicorn.
GRACE_SECONDS = 30  # in-flight requests get this long to finish after SIGTERM
HEADER_TIMEOUT = 10.0
KEEP_ALIVE_TIMEOUT = 5
SEND_TIMEOUT = 30.0
LIMIT_CONCURRENCY = 1000
BACKLOG = 2048


class ServerUnavailable(CaxtonError):
    exit_code = ExitCode.UNAVAILABLE


class _Report:
    """Startup and shutdown messages: plain lines in text mode, log records in JSON mode (so
    that stderr holds nothing but JSON lines)."""

    def __init__(self, fmt: LogFormat) -> None:
        self.json = fmt == "json"
        self.log = logging.getLogger("caxton.server")

    def info(self, text: str, **fields: Any) -> None:
        if self.json:
            self.log.info(text, extra=fields)
        else:
            output.say(text)

    def warn(self, text: str, hint: str) -> None:
        if self.json:
            self.log.warning(text, extra={"hint": hint})
        else:
            output.warn(text, hint)

    @contextmanager
    def errors(self) -> Iterator[None]:
        """In JSON mode, a failure is logged as an error line, then exits with its code."""
        try:
            yield
        except CaxtonError as exc:
            if not self.json:
                raise
            fields = {"hint": exc.hint, "exit_code": int(exc.exit_code)}
            self.log.error(exc.message, extra=fields)
            raise typer.Exit(int(exc.exit_code)) from exc


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP explicitly: asyncio sets TCP_NODELAY only on sockets that say so (else a
    # keep-alive response can wait ~40 ms on the client's delayed ACK).
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise ServerUnavailable(
            f"cannot listen on {host}:{port}: {exc.strerror or exc}",
            "another server may be using the port: pass `--port N`, or stop that server",
        ) from exc
    return sock


@app.command(name="serve")
def serve(
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on."),
    port: int = typer.Option(DEFAULT_PORT, "--port", "-p", help="Port to listen on."),
    data_dir: Path | None = typer.Option(
        None, "--data-dir", help="Server data: secret, tokens, traces (default: the platform's)."
    ),
    workspace: list[Path] = typer.Option(
        [],
        "--workspace",
        "-w",
        help="Also serve this workspace folder as it is (repeatable); deployed workspaces "
        "are always served.",
    ),
    model: str | None = typer.Option(
        None, "--model", "-m", help="Provider every agent uses instead of its own, e.g. `test`."
    ),
    max_concurrent: int = typer.Option(
        16, "--max-concurrent", min=1, help="Requests running at once per workspace."
    ),
    tls_cert: Path | None = typer.Option(
        None, "--tls-cert", help="Serve HTTPS with this certificate chain (PEM); needs --tls-key."
    ),
    tls_key: Path | None = typer.Option(
        None, "--tls-key", help="The certificate's private key (PEM, not encrypted)."
    ),
    log_format: str = typer.Option(
        "text",
        "--log-format",
        metavar="text|json",
        help="stderr as text lines, or as one JSON object per line.",
    ),
    header_timeout: float = typer.Option(
        HEADER_TIMEOUT,
        "--header-timeout",
        min=0.1,
        help="Seconds a client has to send a request's line and headers; then it is closed.",
    ),
    keep_alive_timeout: int = typer.Option(
        KEEP_ALIVE_TIMEOUT,
        "--keep-alive-timeout",
        min=1,
        help="Seconds an idle connection stays open between requests.",
    ),
    send_timeout: float = typer.Option(
        SEND_TIMEOUT,
        "--send-timeout",
        min=0.1,
        help="Seconds a client may leave a response unread before it is cut off.",
    ),
    limit_concurrency: int = typer.Option(
        LIMIT_CONCURRENCY,
        "--limit-concurrency",
        min=1,
        help="Open connections plus running requests; beyond it a request gets a 503.",
    ),
    backlog: int = typer.Option(
        BACKLOG, "--backlog", min=1, help="Connections the kernel queues before they are accepted."
    ),
    rate_limit: float = typer.Option(
        100.0,
        "--rate-limit",
        min=0.0,
        help="API requests per second per token, in bursts of twice that; 0 turns it off.",
    ),
    body_timeout: float = typer.Option(
        30.0, "--body-timeout", min=0.1, help="Seconds a client may stall while sending a body."
    ),
    otlp_endpoint: str | None = typer.Option(
        None,
        "--otlp-endpoint",
        help="Export traces over OTLP/HTTP to this collector (default: OTEL_EXPORTER_OTLP_"
        "[TRACES_]ENDPOINT if set, else nothing is sent). Needs `caxton[otlp]`.",
    ),
) -> None:
    """Serve deployed workspaces (and `--workspace` folders) over HTTP(S): agents, messages
    (SSE), traces, deploys; /health, /ready, /metrics."""

    from caxton import paths
    from caxton.server import logs
    from caxton.server.app import Limits, ServerState, create_app
    from caxton.server.auth import ensure_admin_token
    from caxton.server.serving import Server, tls_files, uvicorn_config
    from caxton.workspace.loader import find_root, require_root

    if log_format not in logs.LOG_FORMATS:
        raise UsageError(
            f"unknown log format {log_format!r}", "pass `--log-format text` or `--log-format json`"
        )
    fmt: LogFormat = "json" if log_format == "json" else "text"
    logs.configure(fmt)
    report = _Report(fmt)
    with report.errors():
        tls = tls_files(tls_cert, tls_key)  # before anything is loaded, created or bound
        exporter = _exporter(otlp_endpoint)  # a missing extra fails before serving
        data = (data_dir or paths.data_dir()).expanduser()
        roots = [require_root(p) for p in workspace]
        token, token_path = ensure_admin_token(data)
        sock = _bind(host, port)
        try:
            state = ServerState.open(data, roots, model=model, max_concurrent=max_concurrent)
        except BaseException:
            sock.close()
            if exporter is not None:
                exporter.close()
            raise
        state.exporter = exporter
        if exporter is not None:
            report.info(f"exporting traces over OTLP to {exporter.endpoint}")
        try:
            for problem in state.problems():
                report.warn(f"workspace {problem}", "`GET /ready` reports it until it is fixed")
            shown = host if ":" not in host else f"[{host}]"
            url = f"{'https' if tls else 'http'}://{shown}:{port}"
            names = sorted(state.workspaces)
            if not workspace and find_root(Path.cwd()) is not None:
                report.info(
                    "this folder is a workspace: `caxton serve --workspace .` serves it as it "
                    "is; `caxton deploy` ships it here"
                )
            report.info(
                f"serving {', '.join(names) or 'no workspace yet (`caxton deploy` adds one)'} "
                f"on {url} (data dir `{data}`)",
                workspaces=names,
                url=url,
                data_dir=str(data),
            )
            if token is not None:
                report.info(
                    f"created an admin token (all workspaces, 365 days) in `{token_path}`; use it "
                    f"as `Authorization: Bearer $(cat {token_path})`, and make narrower ones with "
                    "`caxton token create`",
                    token_file=str(token_path),
                )
            else:
                report.info(f"admin token: `{token_path}`", token_file=str(token_path))
            config = uvicorn_config(
                create_app(
                    state,
                    access_log=logs.access_logger(fmt),
                    limits=Limits(
                        body_timeout=body_timeout,
                        rate=rate_limit,
                        burst=max(1, int(rate_limit * 2)),
                    ),
                ),
                tls=tls,
                header_timeout=header_timeout,
                keep_alive_timeout=keep_alive_timeout,
                send_timeout=send_timeout,
                limit_concurrency=limit_concurrency,
                backlog=backlog,
                shutdown_grace=GRACE_SECONDS,
            )
            server = Server(config, on_exit=state.stop_streams)

            def stop(signum: int, frame: Any) -> None:
                # uvicorn swaps in its own handler while serving and calls this one again once it
                # has shut down; exiting quietly then makes SIGTERM a clean stop (exit 0).
                server.should_exit = True

            for sig in (signal.SIGINT, signal.SIGTERM):
                signal.signal(sig, stop)
            server.run(sockets=[sock])
        finally:
            sock.close()
            state.close()
    report.info("stopped")


def _exporter(endpoint: str | None) -> Any:
    import os

    from caxton.observability.otlp import OtlpExporter, endpoint_from_env

    chosen = endpoint or endpoint_from_env(os.environ)
    return OtlpExporter(chosen) if chosen else None


def _trust(ca_cert: Path) -> ssl.SSLContext:
    """A client context that trusts the CA certificates in `ca_cert` (PEM)."""
    import ssl

    try:
        return ssl.create_default_context(cafile=ca_cert)
    except FileNotFoundError as exc:
        raise NotFoundError(f"no file `{ca_cert}`", "check the path given to `--ca-cert`") from exc
    except ssl.SSLError as exc:
        raise FileAccessError(
            f"`{ca_cert}` holds no PEM certificate",
            "`--ca-cert` takes the certificate of the CA that signed the server's certificate "
            "(for a self-signed server, its certificate itself), in PEM",
        ) from exc
    except OSError as exc:
        raise FileAccessError(
            f"cannot read `{ca_cert}`: {exc.strerror or exc}", "check the file's permissions"
        ) from exc


@health_app.command(name="health")
def health(
    url: str = typer.Argument(DEFAULT_URL, help="The server's base URL (http:// or https://)."),
    timeout: float = typer.Option(5.0, "--timeout", help="Seconds to wait for the answer."),
    as_json: bool = typer.Option(False, "--json", help="Print the server's answer as JSON."),
    insecure: bool = typer.Option(
        False, "--insecure", help="Do not verify the server's certificate (e.g. self-signed)."
    ),
    ca_cert: Path | None = typer.Option(
        None, "--ca-cert", help="Trust the CA certificate(s) in this PEM file for https."
    ),
) -> None:
    """Check that a server answers `GET /health` (exit 0), else exit 7."""
    import time

    import httpx

    if insecure and ca_cert is not None:
        raise UsageError(
            "`--insecure` and `--ca-cert` exclude each other",
            "pass `--ca-cert PATH` to verify the server against that CA, or `--insecure` not to",
        )
    verify: ssl.SSLContext | bool = _trust(ca_cert) if ca_cert is not None else not insecure
    base = url if "://" in url else f"http://{url}"
    started = time.perf_counter()
    try:
        response = httpx.get(base.rstrip("/") + "/health", timeout=timeout, verify=verify)
        body = response.json() if response.status_code == 200 else None
    except (httpx.HTTPError, ValueError) as exc:
        if "CERTIFICATE_VERIFY_FAILED" in str(exc):
            hint = (
                "the server's certificate is not trusted: pass `--ca-cert PATH` with the CA "
                "that signed it, or `--insecure` to skip the check (e.g. for a self-signed one)"
            )
        else:
            hint = "check the URL (`https://` if the server has `--tls-cert`), and that "
            hint += "`caxton serve` is running there"
        raise ServerUnavailable(f"{base} does not answer: {exc}", hint) from exc
    ms = (time.perf_counter() - started) * 1000
    if not isinstance(body, dict) or body.get("status") != "ok":
        raise ServerUnavailable(
            f"{base} is not healthy (HTTP {response.status_code})",
            "look at the server's log",
        )
    if as_json:
        output.emit_json({**body, "url": base, "ms": round(ms, 2)})
    else:
        output.success(f"{base} is up ({ms:.1f} ms)")
