"""The embedded server: the same app in a background thread on 127.0.0.1, for the TUI and CLI.

It listens on a random port with a random admin token for the session. Its data dir (the
signing secret and the token registry) is a temporary folder deleted on `stop()`, so a session's
token is worthless afterwards. Traces go to the workspace's own `.caxton/traces.duckdb`, where
`caxton trace` and `caxton logs` find them (in memory only after `caxton logs off`).
"""

from __future__ import annotations

import shutil
import socket
import tempfile
import threading
import time
from pathlib import Path
from types import TracebackType
from typing import Any

from caxton.errors import CaxtonError, ExitCode

START_TIMEOUT = 15.0  # seconds: loading a workspace, opening stores, binding
STOP_TIMEOUT = 10.0
SESSION_TOKEN_TTL = 30 * 86400  # the secret dies with the session anyway


class EmbeddedServerError(CaxtonError):
    exit_code = ExitCode.UNAVAILABLE


class EmbeddedServer:
    """A running embedded server: `.url`, `.token`, `.stop()`; a context manager."""

    def __init__(
        self,
        url: str,
        token: str,
        state: Any,
        server: Any,
        thread: threading.Thread,
        sock: socket.socket,
        data_dir: Path,
        keep_data: bool = False,
    ) -> None:
        self.url = url
        self.token = token
        self.state = state
        self._server = server
        self._thread = thread
        self._sock = sock
        self._data_dir = data_dir
        self._keep_data = keep_data
        self._stopped = False

    def __repr__(self) -> str:  # never show the token
        return f"EmbeddedServer({self.url!r})"

    @property
    def running(self) -> bool:
        """The server thread is alive (False once it ended, stopped or crashed)."""
        return self._thread.is_alive() and not self._stopped

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def stop(self) -> None:
        """Stop accepting, let in-flight requests finish, then close the stores."""
        if self._stopped:
            return
        self._stopped = True
        self.state.stop_streams()  # open event streams end, so in-flight work is all that waits
        self._server.should_exit = True
        self._thread.join(STOP_TIMEOUT)
        self._sock.close()
        try:
            self.state.close()
        finally:
            if not self._keep_data:
                shutil.rmtree(self._data_dir, ignore_errors=True)

    def __enter__(self) -> EmbeddedServer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def start_embedded(
    workspace_root: Path | None,
    *,
    model: str | None = None,
    record: Path | None = None,
    limits: Any = None,
    data_dir: Path | None = None,
) -> EmbeddedServer:
    """Serve the workspace at `workspace_root` on 127.0.0.1 (random port) until `.stop()`.
    `model` and `record` are the runtime's (`caxton run --model/--record`); `limits` (a
    `caxton.server.gate.Limits`) defaults to no rate limit: one local user. With `data_dir`
    the server keeps its data there (deployed workspaces too) instead of a temporary folder."""
    import uvicorn

    from caxton.server.app import Limits, ServerState, create_app
    from caxton.server.serving import uvicorn_config

    keep_data = data_dir is not None
    if data_dir is None:
        data_dir = Path(tempfile.mkdtemp(prefix="caxton-embedded-"))
    roots = [workspace_root] if workspace_root is not None else []
    state = None
    sock = None
    try:
        state = ServerState.open(data_dir, roots, model=model, record=record, traces="workspace")
        token, _ = state.authority.issue("embedded", ["*"], "admin", SESSION_TOKEN_TTL)
        # IPPROTO_TCP explicitly: asyncio sets TCP_NODELAY only on sockets that say so, and
        # without it a keep-alive response waits ~40 ms on the client's delayed ACK.
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        # the same uvicorn settings as `caxton serve`; logging stays the host's (the TUI's)
        config = uvicorn_config(
            create_app(state, limits=limits or Limits(rate=0)), shutdown_grace=5
        )
        server = uvicorn.Server(config)
        thread = threading.Thread(
            target=server.run, kwargs={"sockets": [sock]}, name="caxton-embedded", daemon=True
        )
        thread.start()
        deadline = time.monotonic() + START_TIMEOUT
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                server.should_exit = True
                raise EmbeddedServerError(
                    "the embedded server did not start",
                    "run `caxton serve --workspace .` to see why",
                )
            time.sleep(0.005)
    except BaseException:
        if sock is not None:
            sock.close()
        if state is not None:
            state.close()
        if not keep_data:
            shutil.rmtree(data_dir, ignore_errors=True)
        raise
    return EmbeddedServer(
        f"http://127.0.0.1:{port}", token, state, server, thread, sock, data_dir, keep_data
    )
