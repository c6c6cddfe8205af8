"""What the TUI talks to: a server (the embedded one over the workspace, or a remote) through
the one client, the remotes it deploys to, and the workspace folder itself for validation and
the deploy state. The panes reach all of it through `Backend`, so a fixed one can stand in.

Every method here blocks: the app calls them from thread workers, never from the event loop.
"""

from __future__ import annotations

import difflib
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import quote

from caxton.client import Client, OnEvent
from caxton.errors import Problem, UsageError

if TYPE_CHECKING:
    from caxton.deploy.actions import Deployed
    from caxton.deploy.manifest import Changes
    from caxton.memory.scope import ScopeKind

Say = Callable[[str], None]
MAX_DIFF_BYTES = 1 << 20  # larger files are summarised, not diffed


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


@dataclass(frozen=True, slots=True)
class Where:
    """One memory scope, as the API names it (`scope=` and, for an agent's, `agent=`)."""

    kind: ScopeKind = "workspace"
    agent: str | None = None

    @classmethod
    def of(cls, item: dict[str, Any]) -> Where:
        """The scope an entity, relation or interaction was found in."""
        scope = item.get("scope") or {}
        kind = scope.get("kind", "workspace")
        if kind == "agent":
            return cls("agent", str(scope.get("owner")))
        return cls("global") if kind == "global" else cls()

    @property
    def params(self) -> dict[str, Any]:
        return {"scope": self.kind, "agent": self.agent}

    def __str__(self) -> str:
        return f"agent:{self.agent}" if self.kind == "agent" else self.kind


@dataclass(frozen=True, slots=True)
class DeployPlan:
    """What deploying the workspace to a remote would change; nothing was sent."""

    remote: str
    url: str
    live_version: int  # 0: nothing deployed there yet
    same: bool  # the live version has exactly these files
    changes: Changes
    files_to_send: int  # the files the server does not have yet
    bytes_to_send: int
    warning: str | None = None  # the deploy would be refused: why, then `hint: ...`

    def kind(self, path: str) -> Literal["added", "modified", "deleted"]:
        if path in self.changes.added:
            return "added"
        return "deleted" if path in self.changes.deleted else "modified"


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
        return Overview(self.workspace, rows, where, self.remotes(), tuple(self.problems()))

    def problems(self) -> list[Problem]:
        if self.root is None:
            return []
        from caxton.workspace.validate import validate_paths

        return validate_paths([self.root]).problems

    def remotes(self) -> tuple[str, ...]:
        """The remotes known here: the user's (`caxton remote add`) and the workspace's
        `caxton.toml` ones."""
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

    # ----- memory: the server's memory API, one scope at a time -------------------------------

    def memory_search(self, text: str, where: Where, limit: int = 50) -> list[dict[str, Any]]:
        """Entities, relations and interactions matching `text` by meaning and keywords, best
        first (each with its `kind` and `score`)."""
        with self.client() as client:
            hits: list[dict[str, Any]] = client.get(
                "memory/search", q=text, limit=limit, **where.params
            )["hits"]
        return hits

    def memory_entities(self, where: Where) -> list[dict[str, Any]]:
        """Every entity in the scope, by name."""
        with self.client() as client:
            entities: list[dict[str, Any]] = client.get("memory/entities", **where.params)[
                "entities"
            ]
        return entities

    def memory_entity(self, name: str, where: Where) -> dict[str, Any]:
        """The entity with its relations and the entities they reach: `{entities, relations}`."""
        with self.client() as client:
            graph: dict[str, Any] = client.get(
                f"memory/entities/{quote(name, safe='')}", **where.params
            )
        return graph

    def memory_stats(self) -> dict[str, Any]:
        """How many entities, relations and interactions the workspace's memory holds."""
        with self.client() as client:
            stats: dict[str, Any] = client.get("memory/stats")
        return stats

    # ----- deploy: the steps `caxton deploy`, `log` and `rollback` take (caxton.deploy) --------

    def deploy_plan(self, remote: str) -> DeployPlan:
        """What deploying the workspace's files to `remote` would change, and a warning when
        the deploy would be refused for the version it builds on."""
        from caxton.deploy import actions, local
        from caxton.deploy.manifest import build
        from caxton.deploy.push import plan
        from caxton.errors import ConflictError
        from caxton.memory.local import workspace_name
        from caxton.remotes import resolve_remote

        root = self._folder()
        target = resolve_remote(root, remote)
        manifest = build(root)
        with actions.client_for(target, workspace_name(root), root) as client:
            planned = plan(client, manifest)
        warning = None
        try:
            record = local.load_record(root, target.name)
            actions.base_version(planned, record, target, False)
        except ConflictError as exc:  # the deploy would be refused: say so now
            warning = f"{exc.message}\nhint: {exc.hint}"
        return DeployPlan(
            target.name, target.url, planned.live_version, planned.same, planned.changes,
            len(planned.missing), planned.upload_bytes, warning,
        )  # fmt: skip

    def deploy_diff(self, plan: DeployPlan, path: str) -> str:
        """The unified diff of `path` from the plan's live version to the file here."""
        from caxton.deploy.actions import client_for
        from caxton.deploy.manifest import disk_path
        from caxton.deploy.store import unpack
        from caxton.memory.local import workspace_name
        from caxton.remotes import resolve_remote

        root = self._folder()
        kind = plan.kind(path)
        old = new = b""
        if kind != "added" and plan.live_version:
            remote = resolve_remote(root, plan.remote)
            with client_for(remote, workspace_name(root), root) as client:
                files = client.get(f"deployments/{plan.live_version}")["files"] or {}
                digest = str(files[path]["sha256"])
                blobs = dict(unpack(client.fetch_bytes("blobs/fetch", {"hashes": [digest]})))
            old = blobs[digest]
        if kind != "deleted":
            try:
                new = disk_path(root, path).read_bytes()
            except OSError as exc:  # the file went away since the plan: planning again shows it
                new = f"(cannot read the file here: {exc.strerror or exc})\n".encode()
        return unified(path, old, new, plan.live_version)

    def deploy(self, remote: str, message: str, say: Say) -> dict[str, Any] | None:
        """Deploy the workspace to `remote` as `caxton deploy -m MESSAGE` does, each step
        said; the summary (`caxton deploy --json`'s shape plus `version` and `ms`), or None
        when the remote has these files already."""
        from caxton.deploy import actions

        done = actions.deploy(self._folder(), remote, message=message, say=say)
        if done.outcome is None:
            say(f"nothing to deploy: version {done.plan.live_version} on {done.remote.name} is "
                "this workspace")  # fmt: skip
            return None
        return _summary(done)

    def rollback(self, remote: str, version: int, message: str, say: Say) -> dict[str, Any] | None:
        """Make `version`'s files live again as a new version, as `caxton rollback` does; the
        summary, or None when they are live already."""
        from caxton.deploy import actions

        done = actions.rollback(self._folder(), remote, version, message=message, say=say)
        if done.outcome is None:
            say(f"version {done.plan.live_version} already has version {version}'s files")
            return None
        return {**_summary(done), "rollback_of": version}

    def deploy_history(
        self, remote: str, limit: int = 50
    ) -> tuple[list[dict[str, Any]], str | None]:
        """The remote's deployments, newest first, saved for offline use as `caxton log` does;
        when the server does not answer, the saved ones and when they were fetched (else
        None)."""
        from caxton.deploy import actions

        _, history, cached = actions.history(self._folder(), remote, limit)
        fetched_at = str(history.get("fetched_at", "?")) if cached else None
        return list(history["deployments"]), fetched_at

    def _folder(self) -> Path:
        if self.root is None:
            raise UsageError(
                "deploying works on a workspace folder", "start `caxton tui` inside one"
            )
        return self.root

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


def _summary(done: Deployed) -> dict[str, Any]:
    summary: dict[str, Any] = done.summary()
    summary["version"] = summary["deployment"]["version"]
    summary["ms"] = round(done.seconds * 1000)
    return summary


def unified(path: str, old: bytes, new: bytes, live_version: int) -> str:
    """The unified diff of the live version's file against the local one (text files)."""
    if max(len(old), len(new)) > MAX_DIFF_BYTES:
        return f"{path}: {len(old):,} bytes live, {len(new):,} bytes here (too large to diff)"
    try:
        before, after = old.decode(), new.decode()
    except UnicodeDecodeError:
        return f"{path}: binary, {len(old):,} bytes live, {len(new):,} bytes here"
    lines = difflib.unified_diff(
        before.splitlines(),
        after.splitlines(),
        fromfile=f"{path} (version {live_version}, live)" if old else "/dev/null",
        tofile=f"{path} (here)" if new else "/dev/null",
        lineterm="",
    )
    return "\n".join(lines) or f"{path}: no difference in the text"
