"""What the TUI talks to: a server (the embedded one over the workspace, or a remote) through
the one client, and the workspace folder itself for validation and the deploy state.

Every method here blocks: the app calls them from thread workers, never from the event loop.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from caxton.client import Client, OnEvent
from caxton.errors import Problem


@dataclass(frozen=True, slots=True)
class AgentRow:
    name: str
    description: str
    capabilities: tuple[str, ...]
    valid: bool
    problems: tuple[str, ...]
    changed: bool = False  # differs from what was last deployed (to any remote)


@dataclass(frozen=True, slots=True)
class Overview:
    """The sidebar's data: agents, tools, remotes, and the local problems."""

    workspace: str
    agents: tuple[AgentRow, ...]
    tools: tuple[tuple[str, str], ...]  # (name, where it runs)
    remotes: tuple[str, ...]
    problems: tuple[Problem, ...] = field(default_factory=tuple)


class Backend:
    """The embedded server over `root` (started by `start()`), or the remote named."""

    def __init__(self, root: Path | None, *, remote: str | None = None, model: str | None = None):
        self.root = root
        self.remote = remote
        self.model = model
        self.server: Any = None
        self.url = ""
        self._token = ""
        self.workspace = ""
        self._lock = threading.Lock()
        self.started = threading.Event()

    @property
    def label(self) -> str:
        where = f"remote {self.remote}" if self.remote else "local server"
        return f"{self.workspace} · {where} {self.url}".strip()

    def start(self) -> None:
        """Start the embedded server (or check the remote); blocks until it answers."""
        if self.remote is not None:
            from caxton.remotes import get_remote

            entry = get_remote(self.remote)
            self.url, self._token = entry.url, entry.token
            if self.root is not None:
                from caxton.memory.local import workspace_name

                self.workspace = workspace_name(self.root)
            else:
                self.workspace = entry.workspace or ""
            with self.client() as client:
                client.agents()
        else:
            from caxton.server.embedded import start_embedded

            assert self.root is not None
            self.server = start_embedded(self.root, model=self.model)
            served = next(iter(self.server.state.workspaces.values()))
            if served.runtime is None and served.problem is not None:
                problem = served.problem
                self.server.stop()
                raise problem
            if served.problem is not None:  # the trace store is held by another process
                served.keep_traces_in_memory()
            self.url, self._token = self.server.url, self.server.token
            self.workspace = served.name
        self.started.set()

    def stop(self) -> None:
        """Stop the embedded server (its stores saved); a remote needs nothing."""
        with self._lock:
            server, self.server = self.server, None
        if server is not None:
            server.stop()

    @property
    def alive(self) -> bool:
        """False once an embedded server's thread has ended (a remote is checked apart)."""
        server = self.server
        return server is None or server.running

    def client(self) -> Client:
        return Client(self.url, self._token, self.workspace)

    # ----- reads -----------------------------------------------------------------------------

    def overview(self) -> Overview:
        with self.client() as client:
            agents = client.agents()
            tools = client.get("tools")["tools"]
        changed = self._changed_since_deploy()
        rows = tuple(
            AgentRow(
                a["name"],
                a["description"],
                tuple(a["capabilities"]),
                bool(a["valid"]),
                tuple(a["problems"]),
                f"agents/{a['name']}.toml" in changed,
            )
            for a in agents
        )
        where = tuple(
            (str(t["name"]), "sandboxed" if t.get("sandboxed") else f"{t['kind']}, outside")
            for t in tools
        )
        return Overview(self.workspace, rows, where, self._remotes(), tuple(self.problems()))

    def problems(self) -> list[Problem]:
        if self.root is None:
            return []
        from caxton.workspace.validate import validate_paths

        return validate_paths([self.root]).problems

    def _remotes(self) -> tuple[str, ...]:
        from caxton.remotes import load_remotes

        names = set(load_remotes())
        if self.root is not None:
            from caxton.remotes import workspace_remotes

            names |= set(workspace_remotes(self.root))
        return tuple(sorted(names))

    def _changed_since_deploy(self) -> set[str]:
        if self.root is None:
            return set()
        from caxton.deploy import local
        from caxton.deploy.manifest import build

        records = local.records(self.root)
        if not records:
            return set()
        here = build(self.root)
        changed: set[str] = set()
        for record in records.values():
            changed |= set(record.manifest().diff(here).paths)
        return changed

    def traces(self, limit: int = 50) -> list[dict[str, Any]]:
        with self.client() as client:
            return client.traces(limit)

    def trace(self, trace_id: str) -> dict[str, Any]:
        with self.client() as client:
            return client.trace(trace_id)

    # ----- actions ---------------------------------------------------------------------------

    def send(
        self,
        text: str,
        *,
        agent: str | None,
        conversation_id: str | None,
        on_event: OnEvent,
    ) -> dict[str, Any]:
        with self.client() as client:
            return client.send(
                text, agent=agent, conversation_id=conversation_id, on_event=on_event
            )

    def reload(self) -> dict[str, Any]:
        with self.client() as client:
            return client.reload()


Factory = Callable[[], Backend]
