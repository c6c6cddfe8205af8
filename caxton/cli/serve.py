"""`caxton serve` (the HTTP API over local workspaces) and `caxton health [URL]`.

`serve` creates the admin token on its first start and says where it is (never what it is),
logs one line per request to stderr (method, path, status, milliseconds: no headers), and on
SIGTERM or Ctrl-C stops accepting, lets in-flight requests finish, then closes the stores.
"""

from __future__ import annotations

import signal
import socket
from pathlib import Path
from typing import Any

import typer

from caxton.cli import output
from caxton.errors import CaxtonError, ExitCode

app = typer.Typer(add_completion=False)
health_app = typer.Typer(add_completion=False)

DEFAULT_PORT = 8420
DEFAULT_URL = f"http://127.0.0.1:{DEFAULT_PORT}"
GRACE_SECONDS = 30  # in-flight requests get this long to finish after SIGTERM


class ServerUnavailable(CaxtonError):
    exit_code = ExitCode.UNAVAILABLE


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
        [], "--workspace", "-w", help="A workspace folder to serve (repeatable; default: here)."
    ),
    model: str | None = typer.Option(
        None, "--model", "-m", help="Provider every agent uses instead of its own, e.g. `test`."
    ),
    max_concurrent: int = typer.Option(
        16, "--max-concurrent", min=1, help="Requests running at once per workspace."
    ),
) -> None:
    """Serve workspaces over HTTP: agents, messages (SSE), traces; /health, /ready, /metrics."""
    import uvicorn

    from caxton import paths
    from caxton.server.app import ServerState, create_app
    from caxton.server.auth import ensure_admin_token
    from caxton.workspace.loader import require_root

    data = (data_dir or paths.data_dir()).expanduser()
    roots = workspace or [require_root(Path.cwd())]
    token, token_path = ensure_admin_token(data)
    sock = _bind(host, port)
    try:
        state = ServerState.open(data, roots, model=model, max_concurrent=max_concurrent)
    except BaseException:
        sock.close()
        raise
    try:
        for problem in state.problems():
            output.warn(f"workspace {problem}", "`GET /ready` reports it until it is fixed")
        shown = host if ":" not in host else f"[{host}]"
        output.say(
            f"serving {', '.join(sorted(state.workspaces))} on http://{shown}:{port} "
            f"(data dir `{data}`)"
        )
        if token is not None:
            output.say(
                f"created an admin token (all workspaces, 365 days) in `{token_path}`; use it "
                f"as `Authorization: Bearer $(cat {token_path})`, and make narrower ones with "
                "`caxton token create`"
            )
        else:
            output.say(f"admin token: `{token_path}`")
        config = uvicorn.Config(
            create_app(state, access_log=output.say),
            log_config=None,
            access_log=False,
            server_header=False,
            lifespan="off",
            timeout_graceful_shutdown=GRACE_SECONDS,
        )
        server = uvicorn.Server(config)

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
    output.say("stopped")


@health_app.command(name="health")
def health(
    url: str = typer.Argument(DEFAULT_URL, help="The server's base URL."),
    timeout: float = typer.Option(5.0, "--timeout", help="Seconds to wait for the answer."),
    as_json: bool = typer.Option(False, "--json", help="Print the server's answer as JSON."),
) -> None:
    """Check that a server answers `GET /health` (exit 0), else exit 7."""
    import time

    import httpx

    base = url if "://" in url else f"http://{url}"
    started = time.perf_counter()
    try:
        response = httpx.get(base.rstrip("/") + "/health", timeout=timeout)
        body = response.json() if response.status_code == 200 else None
    except (httpx.HTTPError, ValueError) as exc:
        raise ServerUnavailable(
            f"{base} does not answer: {exc}",
            "check the URL, and that `caxton serve` is running there",
        ) from exc
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
