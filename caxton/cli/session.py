"""The server a command talks to: a remote one (`--remote NAME`), or the embedded server,
started for the command on 127.0.0.1 over the workspace you are in. Either way the command
goes through the one client (`caxton.client.Client`), so local and remote share one path."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from caxton.cli import output

if TYPE_CHECKING:
    from caxton.client import Client

REMOTE_HELP = "A server from `caxton login` (default: this workspace, served here)."


def _remote_workspace(remote_workspace: str | None, name: str) -> str:
    from caxton.errors import UsageError
    from caxton.memory.local import workspace_name
    from caxton.workspace.loader import find_root

    root = find_root(Path.cwd())
    if root is not None:
        return workspace_name(root)
    if remote_workspace:
        return remote_workspace
    raise UsageError(
        f"which workspace on remote {name!r}? this folder is not a workspace",
        f"cd into the workspace, or log in naming one: `caxton login URL --name {name} "
        "--workspace NAME`",
    )


@contextmanager
def connect(
    remote: str | None, *, model: str | None = None, record: Path | None = None
) -> Iterator[Client]:
    """A client for the remote named, or for an embedded server over this workspace (stopped,
    with its traces saved, when the block ends)."""
    from caxton.client import Client
    from caxton.errors import UsageError

    if remote is not None:
        from caxton.remotes import get_remote

        if model is not None or record is not None:
            raise UsageError(
                "--model and --record apply to runs on this machine, not on a remote",
                "drop them, or drop --remote to run here",
            )
        entry = get_remote(remote)
        workspace = _remote_workspace(entry.workspace, remote)
        with Client(entry.url, entry.token, workspace) as client:
            yield client
        return

    from caxton.server.embedded import start_embedded
    from caxton.workspace.loader import require_root

    root = require_root(Path.cwd())
    with start_embedded(root, model=model, record=record) as server:
        served = next(iter(server.state.workspaces.values()))
        if served.runtime is None and served.problem is not None:
            raise served.problem  # the workspace does not load: its own error and exit code
        if served.problem is not None:  # the trace store is held (a TUI is running here)
            output.warn(
                f"this run is not logged: {served.problem.message}",
                "its trace is shown by the process that holds the store only if it ran it; "
                "close the other process to log runs again",
            )
            served.keep_traces_in_memory()
        with Client(server.url, server.token, served.name) as client:
            yield client
