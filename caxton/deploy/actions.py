"""Deploy, roll back and read the history of a workspace on a remote: the steps `caxton
deploy`, `caxton rollback`, `caxton log` and the TUI's Deploy tab share. Each returns what
happened; showing it is the caller's job. `say` receives progress lines."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from caxton.errors import ConfigError, ConflictError, Problem

if TYPE_CHECKING:
    from caxton.client import Client
    from caxton.deploy.local import GitState, Record
    from caxton.deploy.manifest import Manifest
    from caxton.deploy.push import Outcome, Plan
    from caxton.remotes import Remote

Say = Callable[[str], None]


def _quiet(line: str) -> None:
    """Progress nobody asked to see."""


@dataclass(frozen=True, slots=True)
class Deployed:
    """What a deploy or rollback did: `outcome` is None when nothing was sent (the remote has
    these files already, or it was a dry run)."""

    remote: Remote
    workspace: str
    plan: Plan
    outcome: Outcome | None
    git: GitState | None
    seconds: float  # the whole action, local checks included
    protocol_seconds: float  # plan, upload, apply

    def summary(self) -> dict[str, Any]:
        """`caxton deploy --json`'s shape."""
        assert self.outcome is not None and self.outcome.deployment is not None
        return {
            "remote": self.remote.name,
            "url": self.remote.url,
            "workspace": self.workspace,
            "deployment": self.outcome.deployment,
            "changes": self.outcome.plan.changes.to_json(),
            "files_sent": self.outcome.blobs_sent,
            "bytes_sent": self.outcome.bytes_sent,
            "protocol_seconds": round(self.protocol_seconds, 4),
            "seconds": round(self.seconds, 4),
            "reload_seconds": self.outcome.reload_seconds,
            "agents": self.outcome.agents,
            "invalid": self.outcome.invalid,
            "git": self.git.to_json() if self.git else None,
        }


def short(commit: str | None) -> str:
    return commit[:10] if commit else "-"


def when(iso: str) -> str:
    return iso.replace("T", " ")[:19]


@contextmanager
def client_for(remote: Remote, workspace: str, root: Path) -> Iterator[Client]:
    """A client for the remote; its refusals come back in this workspace's terms (a 403
    names the token to make, a refused version's problems are located in `root`)."""
    from caxton.client import Client, RemoteError

    with Client(remote.url, remote.token, workspace) as client:
        try:
            yield client
        except RemoteError as exc:
            raise _explained(exc, remote, workspace, root) from exc


def _explained(exc: Any, remote: Remote, workspace: str, root: Path) -> Any:
    if exc.status == 403:
        exc.message = (
            f"the token of remote {remote.name!r} does not let you deploy workspace "
            f"{workspace!r} on {remote.url}: {exc.message}"
        )
        exc.hint = (
            f"on the server: `caxton token create --workspace {workspace} --role deployer`; "
            f"here: `caxton remote add {remote.name} {remote.url}` with that token"
        )
    problems = exc.body.get("problems") if isinstance(exc.body, dict) else None
    if isinstance(problems, list):
        exc.problems = [
            Problem(
                root / str(p.get("path")),
                int(p.get("line") or 1),
                int(p.get("col") or 1),
                str(p.get("message")),
                p.get("hint"),
                str(p.get("code") or "invalid"),
                str(p.get("severity") or "error"),
            )
            for p in problems
            if isinstance(p, dict)
        ]
    return exc


def local_problems(root: Path) -> list[Problem]:
    from caxton.workspace.validate import validate_paths

    return validate_paths([root]).problems


def base_version(plan: Plan, record: Record | None, remote: Remote, force: bool) -> int | None:
    """The version this deploy builds on: the one this workspace last deployed or pulled.
    A server that moved on is the server's 409 to give; one this workspace never saw (or
    that is behind what it deployed: another server, or a reset one) is refused here."""
    live_version = plan.live_version
    if force:
        return None
    if record is None or record.url != remote.url:
        if live_version == 0 or plan.live_root == plan.manifest.root:
            return live_version
        raise ConflictError(
            f"remote {remote.name!r} is at version {live_version}, which this workspace never "
            "deployed or pulled",
            f"`caxton pull --remote {remote.name}` takes it first, or `caxton deploy --force` "
            "replaces it",
        )
    if record.version > live_version:
        raise ConflictError(
            f"remote {remote.name!r} is at version {live_version}, but this workspace deployed "
            f"version {record.version} there: it is another server, or its data was reset",
            f"`caxton deploy --remote {remote.name} --force` deploys on top of what is there",
        )
    return int(record.version)


def deploy(
    root: Path,
    remote_name: str | None,
    *,
    message: str = "",
    force: bool = False,
    dry_run: bool = False,
    say: Say = _quiet,
) -> Deployed:
    """Validate here, then plan, upload what is missing and apply; the local record follows."""
    from caxton.deploy import local
    from caxton.deploy.manifest import build
    from caxton.deploy.push import plan, push
    from caxton.memory.local import workspace_name
    from caxton.remotes import resolve_remote

    started = time.perf_counter()
    errors = [p for p in local_problems(root) if p.severity == "error"]
    if errors:
        files = len({p.path for p in errors})
        raise ConfigError(
            errors,
            f"{len(errors)} error{'s' * (len(errors) != 1)} in {files} "
            f"file{'s' * (files != 1)}: nothing was deployed",
        )
    git = local.git_state(root)
    assert git is not None  # required: no repository raised GitRequired
    if git.dirty:
        say(
            f"warning: deploying uncommitted changes ({', '.join(git.dirty[:5])}"
            + (" ..." if len(git.dirty) > 5 else "")
            + f"); the deploy records commit {short(git.commit)} as dirty"
        )
    remote = resolve_remote(root, remote_name)
    name = workspace_name(root)
    record = local.load_record(root, remote.name)
    manifest = build(root)
    with client_for(remote, name, root) as client:
        protocol_started = time.perf_counter()
        planned = plan(client, manifest)
        base = base_version(planned, record, remote, force)
        if dry_run or planned.same:
            if planned.same and record is None:  # in step already: remember it
                remember(root, remote, name, client, planned.live_version, manifest)
            return Deployed(remote, name, planned, None, git, time.perf_counter() - started,
                            time.perf_counter() - protocol_started)  # fmt: skip
        outcome = push(
            client, root, manifest, base_version=base, git=git, message=message,
            progress=say, planned=planned,
        )  # fmt: skip
        protocol = time.perf_counter() - protocol_started
    return _recorded(root, remote, name, manifest, outcome, git, started, protocol)


def rollback(
    root: Path, remote_name: str | None, version: int, *, message: str = "", say: Say = _quiet
) -> Deployed:
    """A new version with `version`'s files (`outcome` None if they are live already). It
    records the commit that version was deployed from: those are the files it ships."""
    from caxton.deploy import local
    from caxton.deploy.manifest import Manifest
    from caxton.deploy.push import plan, push
    from caxton.memory.local import workspace_name
    from caxton.remotes import resolve_remote

    started = time.perf_counter()
    remote = resolve_remote(root, remote_name)
    name = workspace_name(root)
    with client_for(remote, name, root) as client:
        protocol_started = time.perf_counter()
        older = client.get(f"deployments/{version}")
        manifest = Manifest.from_json(older["files"])
        planned = plan(client, manifest)
        if planned.same:
            return Deployed(remote, name, planned, None, None, time.perf_counter() - started,
                            time.perf_counter() - protocol_started)  # fmt: skip
        git = (
            local.GitState(older["commit"], older["branch"], ["(dirty)"] if older["dirty"] else [])
            if older["commit"]
            else None
        )
        outcome = push(
            client, root, manifest, base_version=planned.live_version, git=git,
            message=message or f"rollback to version {version}", kind="rollback",
            rollback_of=version, progress=say, planned=planned,
        )  # fmt: skip
        protocol = time.perf_counter() - protocol_started
    return _recorded(root, remote, name, manifest, outcome, git, started, protocol)


def _recorded(
    root: Path,
    remote: Remote,
    name: str,
    manifest: Manifest,
    outcome: Outcome,
    git: GitState | None,
    started: float,
    protocol: float,
) -> Deployed:
    """The local record of what was applied, and the account of it."""
    from caxton.deploy import local

    assert outcome.deployment is not None
    local.save_record(
        root, remote.name, remote.url, name, outcome.deployment, manifest, outcome.plan.changes
    )
    return Deployed(
        remote, name, outcome.plan, outcome, git, time.perf_counter() - started, protocol
    )


def remember(
    root: Path, remote: Remote, name: str, client: Client, version: int, manifest: Manifest
) -> None:
    """Record a version this workspace's files already match (nothing was sent)."""
    from caxton.deploy import local

    if version == 0:
        return
    deployment = client.get(f"deployments/{version}")
    local.save_record(root, remote.name, remote.url, name, deployment, manifest, None)


def history(
    root: Path, remote_name: str | None, limit: int = 50
) -> tuple[Remote, dict[str, Any], bool]:
    """The remote's history (saved for offline use); when the server does not answer, the
    last one saved. Returns (remote, history, from the saved copy)."""
    from caxton.client import RemoteError
    from caxton.deploy import local
    from caxton.memory.local import workspace_name
    from caxton.remotes import resolve_remote

    remote = resolve_remote(root, remote_name)
    try:
        with client_for(remote, workspace_name(root), root) as client:
            answer: dict[str, Any] = client.get("deployments", limit=limit)
        answer["fetched_at"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        local.save_history(root, remote.name, answer)
        return remote, answer, False
    except RemoteError as exc:
        saved = local.load_history(root, remote.name) if exc.status == 0 else None
        if saved is None:
            raise
        return remote, saved, True
