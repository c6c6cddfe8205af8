"""`caxton deploy`, `status`, `pull`, `log` and `rollback`: shipping a workspace to a remote
`caxton serve` and seeing where it stands.

`deploy` is explicit and incremental (only files the server lacks are sent) and all or
nothing on the server. `status` never touches the network unless `--remote` is named: it reads
`.caxton/deploys/` (plain JSON). Progress goes to stderr, results to stdout.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from caxton.cli import output
from caxton.deploy.actions import short, when
from caxton.errors import ConflictError, NotFoundError, Problem

if TYPE_CHECKING:
    from caxton.deploy.manifest import Manifest
    from caxton.remotes import Remote

app = typer.Typer(add_completion=False)
status_app = typer.Typer(add_completion=False)
pull_app = typer.Typer(add_completion=False)
log_app = typer.Typer(add_completion=False)
rollback_app = typer.Typer(add_completion=False)

REMOTE_HELP = "The remote (`caxton remote list`); default: the only one."


def _root_and_name() -> tuple[Path, str]:
    from caxton.memory.local import workspace_name
    from caxton.workspace.loader import require_root

    root = require_root(Path.cwd())
    return root, workspace_name(root)


# ----- deploy --------------------------------------------------------------------------------


@app.command(name="deploy")
def deploy(
    remote_name: str | None = typer.Option(None, "--remote", "-r", help=REMOTE_HELP),
    dry_run: bool = typer.Option(False, "--dry-run", help="Show the plan; change nothing."),
    message: str = typer.Option("", "--message", "-m", help="Say what this deploy is for."),
    force: bool = typer.Option(
        False, "--force", help="Deploy on top of a version this workspace never deployed."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Ship this workspace to a remote: only changed files travel; all or nothing there."""
    from caxton.deploy import actions

    root, _ = _root_and_name()
    done = actions.deploy(
        root, remote_name, message=message, force=force, dry_run=dry_run,
        say=_progress(as_json),
    )  # fmt: skip
    if done.outcome is None:
        _show_plan(done.plan, done.remote, as_json, dry_run=dry_run)
        return
    if as_json:
        output.emit_json(done.summary())
        return
    c, d, git = done.outcome.plan.changes, done.outcome.deployment, done.git
    assert d is not None and git is not None
    output.success(
        f"deployed version {d['version']} of {done.workspace!r} to {done.remote.name} "
        f"({done.remote.url}): {len(c.added)} added, {len(c.modified)} modified, "
        f"{len(c.deleted)} deleted"
    )
    output.say(
        f"  {done.outcome.blobs_sent} file(s), {done.outcome.bytes_sent:,} bytes sent in "
        f"{done.seconds:.2f} s (protocol {done.protocol_seconds * 1000:.0f} ms; agents reloaded "
        f"in {(done.outcome.reload_seconds or 0) * 1000:.0f} ms: {done.outcome.agents} running)"
    )
    output.say(
        f"  commit {short(git.commit)}" + (f" on {git.branch}" if git.branch else "")
        + (" (dirty)" if git.dirty else "") + (f": {message}" if message else "")
    )  # fmt: skip
    for agent, problem in done.outcome.invalid.items():
        output.warn(f"agent {agent!r} is not running: {problem}")


def _progress(quiet: bool) -> Callable[[str], None]:
    """Progress lines on stderr (a `warning:` line styled as one); none with --json."""

    def say(line: str) -> None:
        if line.startswith("warning: "):
            output.warn(line.removeprefix("warning: "), "commit first to ship exactly a commit")
        elif not quiet:
            output.say(line)

    return say


def _show_plan(planned: Any, remote: Remote, as_json: bool, *, dry_run: bool) -> None:
    c = planned.changes
    if as_json:
        output.emit_json(
            {
                "remote": remote.name,
                "url": remote.url,
                "dry_run": dry_run,
                "same": planned.same,
                "live_version": planned.live_version,
                "changes": c.to_json(),
                "files_to_send": len(planned.missing),
                "bytes_to_send": planned.upload_bytes,
            }
        )
        return
    if planned.same:
        output.success(
            f"nothing to deploy: version {planned.live_version} on {remote.name} is this "
            f"workspace (root {planned.manifest.root[:12]})"
        )
        return
    output.echo(f"plan for {remote.name} ({remote.url}), on version {planned.live_version}:")
    for label, paths in (("added", c.added), ("modified", c.modified), ("deleted", c.deleted)):
        for path in paths:
            output.echo(f"  {label:<9} {path}")
    output.echo(
        f"{len(planned.missing)} file(s) to send ({planned.upload_bytes:,} bytes before "
        "compression); nothing was changed (--dry-run)"
    )


# ----- status --------------------------------------------------------------------------------


@status_app.command(name="status")
def status(
    remote_name: str | None = typer.Option(
        None, "--remote", "-r", help="Also ask this remote what is live (else: offline)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the status as JSON."),
) -> None:
    """What would deploy, per remote, and what is invalid: offline, from `.caxton/`."""
    from caxton.deploy import local
    from caxton.deploy.manifest import build

    root, name = _root_and_name()
    manifest = build(root)
    from caxton.deploy.actions import local_problems

    problems = local_problems(root)
    git = local.git_state(root, required=False)
    records = local.records(root)
    declared = _declared_remotes(root)
    names = [remote_name] if remote_name else sorted(set(records) | set(declared))
    remotes = []
    for remote in names:
        record = records.get(remote)
        entry: dict[str, Any] = {
            "remote": remote,
            "url": record.url if record else declared.get(remote),
        }
        if record is None:
            entry.update(deployed=None, changes=manifest_all(manifest))
        else:
            entry.update(
                deployed={"version": record.version, "root": record.root, "at": record.at},
                changes=record.manifest().diff(manifest).to_json(),
            )
        if remote_name:
            entry["live"] = _live(root, remote_name, name)
        entry["agents"] = _agents_status(manifest, record)
        remotes.append(entry)
    errors = [p for p in problems if p.severity == "error"]
    result = {
        "workspace": name,
        "root": manifest.root,
        "files": len(manifest.files),
        "git": git.to_json() if git else None,
        "valid": not errors,
        "problems": [p.to_json(root) for p in problems],
        "remotes": remotes,
    }
    if as_json:
        output.emit_json(result)
        return
    _print_status(result, problems, root)


def manifest_all(manifest: Manifest) -> dict[str, list[str]]:
    return {"added": list(manifest.files), "modified": [], "deleted": []}


def _declared_remotes(root: Path) -> dict[str, str]:
    from caxton.remotes import load_remotes, workspace_remotes

    declared = {n: r.url for n, r in load_remotes().items()}
    declared.update(workspace_remotes(root))
    return declared


def _agents_status(manifest: Manifest, record: Any) -> list[dict[str, Any]]:
    before = record.manifest().files if record is not None else {}
    rows = []
    for path, entry in manifest.files.items():
        if not (path.startswith("agents/") and path.endswith(".toml")):
            continue
        old = before.get(path)
        state = "new" if old is None else "changed" if old.sha256 != entry.sha256 else "deployed"
        last = record.changed.get(path) if record is not None else None
        rows.append({"path": path, "state": state, "last_deployed": last})
    for path in before:
        if path.startswith("agents/") and path not in manifest.files:
            rows.append({"path": path, "state": "deleted", "last_deployed": None})
    return rows


def _live(root: Path, remote_name: str, name: str) -> dict[str, Any]:
    """The live version on the remote, or why it could not be asked."""
    from caxton.client import RemoteError
    from caxton.remotes import resolve_remote

    remote = resolve_remote(root, remote_name)
    try:
        from caxton.client import Client

        with Client(remote.url, remote.token, name) as client:
            answer = client.get("deploy")
    except RemoteError as exc:
        return {"reachable": False, "error": exc.message}
    live = answer.get("live")
    return {"reachable": True, "version": live["version"] if live else 0, "deployment": live}


def _print_status(result: dict[str, Any], problems: list[Problem], root: Path) -> None:
    git = result["git"]
    head = f"workspace {result['workspace']!r}: {result['files']} deployable files"
    if git:
        head += f"; git {short(git['commit'])}" + (f" on {git['branch']}" if git["branch"] else "")
        if git["dirty"]:
            head += f", {len(git['dirty'])} uncommitted"
    else:
        head += "; not in a git repository (deploy needs one)"
    output.echo(head)
    if not result["remotes"]:
        output.echo("no remote yet: `caxton remote add prod URL`, then `caxton deploy`")
    for entry in result["remotes"]:
        deployed = entry["deployed"]
        where = f"remote {entry['remote']}" + (f" ({entry['url']})" if entry["url"] else "")
        if deployed is None:
            output.echo(f"{where}: never deployed from here")
        else:
            output.echo(
                f"{where}: you deployed version {deployed['version']} at {when(deployed['at'])}"
            )
        live = entry.get("live")
        if live is not None:
            if not live["reachable"]:
                output.echo(f"  live: unknown, the server did not answer ({live['error']})")
            elif deployed and live["version"] != deployed["version"]:
                output.echo(
                    f"  live: version {live['version']}: someone deployed since "
                    f"(`caxton pull --remote {entry['remote']}`)"
                )
            else:
                output.echo(f"  live: version {live['version']}")
        changes = entry["changes"]
        count = sum(len(v) for v in changes.values())
        if deployed is not None and count == 0:
            output.echo("  up to date: nothing to deploy")
        elif deployed is not None:
            for label, key in (("new", "added"), ("modified", "modified"), ("deleted", "deleted")):
                for path in changes[key]:
                    output.echo(f"  {label:<9} {path}")
        else:
            output.echo(f"  {count} file(s) would deploy")
        for agent in entry["agents"]:
            last = agent["last_deployed"]
            last_at = f"v{last['version']} {when(last['at'])}" if last else "-"
            output.echo(f"  agent {agent['path']:<40} {agent['state']:<9} last deployed {last_at}")
    errors = [p for p in problems if p.severity == "error"]
    if problems:
        output.echo(f"problems: {output.count_problems(problems)}")
        output.print_problems(problems, base=root)
    if errors:
        output.echo("fix these before deploying (`caxton validate` checks again)")


# ----- log -------------------------------------------------------------------------------------


@log_app.command(name="log")
def log(
    remote_name: str | None = typer.Option(None, "--remote", "-r", help=REMOTE_HELP),
    limit: int = typer.Option(20, "--limit", "-n", min=1, max=1000, help="How many."),
    audit: bool = typer.Option(
        False, "--audit", help="The audit log instead: every apply, made or refused."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the history as JSON."),
) -> None:
    """The remote's deploy history, newest first (the last one fetched when offline)."""
    from caxton.deploy import actions
    from caxton.remotes import resolve_remote

    root, name = _root_and_name()
    if audit:
        remote = resolve_remote(root, remote_name)
        with actions.client_for(remote, name, root) as client:
            entries = client.get("deploy/audit", limit=limit)["entries"]
        if as_json:
            output.emit_json(entries)
            return
        output.table(
            [
                [when(e["at"]), e["who"], e["action"], e["outcome"],
                 str(e["version"] or "-"), short(e["commit"]), e["detail"][:60]]
                for e in entries
            ],
            ["at (UTC)", "who", "action", "outcome", "version", "commit", "detail"],
        )  # fmt: skip
        return
    remote, history, cached = actions.history(root, remote_name, limit)
    if cached:
        output.warn(
            f"{remote.url} does not answer; this is the history fetched at "
            f"{when(str(history.get('fetched_at', '?')))}",
            "check the server with `caxton health URL`",
        )
    deployments = history["deployments"][:limit]
    if as_json:
        output.emit_json({**history, "deployments": deployments, "cached": cached})
        return
    if not deployments:
        output.echo(f"nothing deployed to {remote.name} yet")
        return
    rows = []
    for d in deployments:
        what = d["message"] or (
            f"rollback to v{d['rollback_of']}" if d["kind"] == "rollback" else ""
        )
        rows.append([
            str(d["version"]), when(d["at"]), d["who"],
            short(d["commit"]) + ("*" if d["dirty"] else ""),
            f"+{d['added']} ~{d['modified']} -{d['deleted']}", what,
        ])  # fmt: skip
    output.table(rows, ["version", "at (UTC)", "who", "commit", "changes", "message"])


# ----- rollback --------------------------------------------------------------------------------


@rollback_app.command(name="rollback")
def rollback(
    version: int = typer.Argument(..., min=1, help="The version to bring back."),
    remote_name: str | None = typer.Option(None, "--remote", "-r", help=REMOTE_HELP),
    message: str = typer.Option("", "--message", "-m", help="Say why."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Make an older version live again, as a new version (history only moves forward)."""
    from caxton.deploy import actions

    root, _ = _root_and_name()
    done = actions.rollback(root, remote_name, version, message=message, say=_progress(as_json))
    remote, outcome = done.remote, done.outcome
    if outcome is None:
        output.success(f"version {done.plan.live_version} already has version {version}'s files")
        return
    assert outcome.deployment is not None
    if as_json:
        output.emit_json(
            {"deployment": outcome.deployment, "changes": outcome.plan.changes.to_json()}
        )
        return
    d = outcome.deployment
    output.success(
        f"version {d['version']} on {remote.name} has version {version}'s files "
        f"({d['added']} added, {d['modified']} modified, {d['deleted']} deleted back)"
    )
    output.say(
        "your files here are unchanged: `caxton status` shows how they differ; "
        f"`caxton pull --remote {remote.name} --force` brings the rolled-back files here "
        "(git keeps yours)"
    )


# ----- pull ------------------------------------------------------------------------------------


@pull_app.command(name="pull")
def pull(
    paths: list[str] = typer.Argument(None, help="Only these files or folders (default: all)."),
    remote_name: str | None = typer.Option(None, "--remote", "-r", help=REMOTE_HELP),
    force: bool = typer.Option(False, "--force", help="Overwrite local changes."),
    as_json: bool = typer.Option(False, "--json", help="Print what changed as JSON."),
) -> None:
    """Bring the live version's files here; local changes are never overwritten unless
    `--force`."""
    from caxton.deploy import actions, local
    from caxton.deploy.manifest import Changes, Manifest, build
    from caxton.deploy.push import download

    root, name = _root_and_name()
    from caxton.remotes import resolve_remote

    remote = resolve_remote(root, remote_name)
    record = local.load_record(root, remote.name)
    here = build(root)
    base = record.manifest() if record is not None and record.url == remote.url else None
    wanted = [p.strip("/") for p in paths or []]

    def chosen(path: str) -> bool:
        return not wanted or any(path == w or path.startswith(w + "/") for w in wanted)

    with actions.client_for(remote, name, root) as client:
        status = client.get("deploy")
        live = status["live"]
        if live is None:
            raise NotFoundError(
                f"nothing is deployed to {name!r} on {remote.name}",
                f"`caxton deploy --remote {remote.name}` ships this workspace there",
            )
        deployment = client.get(f"deployments/{live['version']}")
        theirs = Manifest.from_json(deployment["files"])
        writes: dict[str, str] = {}  # path -> sha256
        deletes: list[str] = []
        blocked: list[str] = []
        for path in sorted(set(theirs.files) | set(here.files)):
            if not chosen(path):
                continue
            mine, server = here.files.get(path), theirs.files.get(path)
            if mine == server:
                continue
            known = base.files.get(path) if base is not None else None
            untouched = mine == known  # unchanged here since the last deploy or pull
            if not untouched and not force:
                blocked.append(path)
            elif server is None:
                deletes.append(path)
            else:
                writes[path] = server.sha256
        if blocked:
            raise ConflictError(
                f"{len(blocked)} file(s) changed here would be overwritten: "
                + ", ".join(blocked[:5]) + (" ..." if len(blocked) > 5 else ""),
                "commit or save them elsewhere, then `caxton pull --force`; or pull other "
                "paths only: `caxton pull PATH`",
            )  # fmt: skip
        sizes = {theirs.files[p].sha256: theirs.files[p].size for p in sorted(writes)}
        blobs = download(client, sizes, status.get("limits") or {}, _progress(as_json))
    _write_pulled(root, {p: blobs[h] for p, h in writes.items()}, deletes)
    if not wanted:
        changes = (base or Manifest.of({})).diff(theirs) if base else None
        local.save_record(root, remote.name, remote.url, name, deployment, theirs, changes)
    result = Changes(
        tuple(p for p in writes if p not in here.files),
        tuple(p for p in writes if p in here.files),
        tuple(deletes),
    )
    if as_json:
        output.emit_json({"version": live["version"], **result.to_json()})
        return
    if result.empty:
        output.success(f"already up to date with version {live['version']} on {remote.name}")
        return
    output.success(
        f"pulled version {live['version']} from {remote.name}: {len(result.added)} added, "
        f"{len(result.modified)} modified, {len(result.deleted)} deleted"
    )
    for label, items in (
        ("added", result.added),
        ("modified", result.modified),
        ("deleted", result.deleted),
    ):
        for path in items:
            output.echo(f"  {label:<9} {path}")


def _write_pulled(root: Path, files: dict[str, bytes], deletes: list[str]) -> None:
    """Each file lands whole (written beside, then renamed); deletions after the writes."""
    from caxton.errors import FileAccessError

    try:
        for path, data in files.items():
            target = root / path
            target.parent.mkdir(parents=True, exist_ok=True)
            temp = target.with_name(f".{target.name}.caxton-pull")
            temp.write_bytes(data)
            temp.replace(target)
        for path in deletes:
            (root / path).unlink(missing_ok=True)
    except OSError as exc:
        raise FileAccessError(
            f"could not write `{exc.filename}`: {exc.strerror or exc}",
            "check the folder's permissions and free space, then pull again",
        ) from exc
