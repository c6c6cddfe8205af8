"""What a workspace remembers of its deploys, in plain JSON under `.caxton/deploys/` (so
`caxton status` works offline and opens no database), and the git state a deploy records.

Per remote: `<remote>.json` holds the last deployed (or pulled) version, its manifest, and for
each file the version and time it last changed in a deploy; `<remote>.history.json` is the
last history `caxton log` fetched, shown when the server cannot be reached.
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from caxton.deploy.manifest import Changes, Manifest
from caxton.errors import CaxtonError, ExitCode, UsageError
from caxton.paths import workspace_state_dir

DEPLOYS_DIR = "deploys"


class GitRequired(CaxtonError):
    exit_code = ExitCode.USAGE


@dataclass(frozen=True, slots=True)
class GitState:
    commit: str
    branch: str | None
    dirty: list[str]  # deployable paths with uncommitted changes

    def to_json(self) -> dict[str, Any]:
        return {"commit": self.commit, "branch": self.branch, "dirty": self.dirty}


def _git(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(
            ["git", "-C", str(root), *args], capture_output=True, text=True, timeout=30
        )
    except FileNotFoundError as exc:
        raise GitRequired(
            "`caxton deploy` records the git commit it ships, and git is not installed",
            "install git (e.g. `apt-get install git`), then commit the workspace",
        ) from exc


def git_state(root: Path, *, required: bool = True) -> GitState | None:
    """The commit, branch and uncommitted deployable files of the workspace's repository;
    None when it is not in one (a GitRequired error instead when `required`)."""
    inside = _git(root, "rev-parse", "--show-toplevel")
    if inside.returncode != 0:
        if not required:
            return None
        raise GitRequired(
            f"`{root}` is not in a git repository; a deploy records the commit it ships",
            f"run `git init && git add -A && git commit -m 'first version'` in `{root}` "
            "(`caxton init` does this for new workspaces)",
        )
    head = _git(root, "rev-parse", "HEAD")
    if head.returncode != 0:
        if not required:
            return None
        raise GitRequired(
            "the workspace's git repository has no commit yet",
            "commit the workspace first: `git add -A && git commit -m 'first version'`",
        )
    branch = _git(root, "rev-parse", "--abbrev-ref", "HEAD").stdout.strip()
    status = _git(
        root, "status", "--porcelain", "--untracked-files=all", "--",
        "caxton.toml", "agents", "prompts", "tools", ".caxtonignore",
    )  # fmt: skip
    prefix = _git(root, "rev-parse", "--show-prefix").stdout.strip()  # porcelain: repo paths
    dirty = sorted(
        {
            line[3:].split(" -> ")[-1].strip().strip('"').removeprefix(prefix)
            for line in status.stdout.splitlines()
            if line
        }
    )
    return GitState(head.stdout.strip(), None if branch == "HEAD" else branch, dirty)


# ----- per-remote records -----------------------------------------------------------------


@dataclass(slots=True)
class Record:
    """The last version this workspace deployed to (or pulled from) one remote."""

    remote: str
    url: str
    workspace: str
    version: int
    root: str
    at: str
    files: dict[str, Any]  # the manifest, as JSON
    changed: dict[str, dict[str, Any]] = field(default_factory=dict)  # path -> {version, at}

    def manifest(self) -> Manifest:
        return Manifest.from_json(self.files)

    def to_json(self) -> dict[str, Any]:
        return {
            "remote": self.remote,
            "url": self.url,
            "workspace": self.workspace,
            "version": self.version,
            "root": self.root,
            "at": self.at,
            "files": self.files,
            "changed": self.changed,
        }


def deploys_dir(root: Path) -> Path:
    return workspace_state_dir(root) / DEPLOYS_DIR


def _write_json(path: Path, value: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(f".{path.name}.tmp")
    temp.write_text(json.dumps(value, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    temp.replace(path)


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise UsageError(
            f"cannot read `{path}`: {exc}",
            "delete it: it only caches what the server says (the next deploy or "
            "`caxton pull` writes it again)",
        ) from exc


def load_record(root: Path, remote: str) -> Record | None:
    data = _read_json(deploys_dir(root) / f"{remote}.json")
    if not isinstance(data, dict):
        return None
    try:
        return Record(
            remote,
            str(data["url"]),
            str(data["workspace"]),
            int(data["version"]),
            str(data["root"]),
            str(data["at"]),
            dict(data["files"]),
            dict(data.get("changed") or {}),
        )
    except (KeyError, TypeError, ValueError):
        return None


def records(root: Path) -> dict[str, Record]:
    folder = deploys_dir(root)
    found: dict[str, Record] = {}
    if folder.is_dir():
        for path in sorted(folder.glob("*.json")):
            if path.name.endswith(".history.json"):
                continue
            record = load_record(root, path.stem)
            if record is not None:
                found[record.remote] = record
    return found


def save_record(
    root: Path,
    remote: str,
    url: str,
    workspace: str,
    deployment: dict[str, Any],
    manifest: Manifest,
    changes: Changes | None,
) -> Record:
    """Remember `deployment` (a server's DeploymentOut) as the last one on `remote`; the files
    it added or modified get its version as when they last changed."""
    earlier = load_record(root, remote)
    changed = dict(earlier.changed) if earlier is not None else {}
    touched = (*changes.added, *changes.modified) if changes is not None else tuple(manifest.files)
    stamp = {"version": deployment["version"], "at": deployment["at"]}
    for path in touched:
        changed[path] = stamp
    changed = {p: v for p, v in changed.items() if p in manifest.files}
    record = Record(
        remote, url, workspace, deployment["version"], manifest.root, deployment["at"],
        manifest.to_json(), changed,
    )  # fmt: skip
    _write_json(deploys_dir(root) / f"{remote}.json", record.to_json())
    return record


def save_history(root: Path, remote: str, history: dict[str, Any]) -> None:
    _write_json(deploys_dir(root) / f"{remote}.history.json", history)


def load_history(root: Path, remote: str) -> dict[str, Any] | None:
    data = _read_json(deploys_dir(root) / f"{remote}.history.json")
    return data if isinstance(data, dict) else None


def forget(root: Path, remote: str) -> None:
    for name in (f"{remote}.json", f"{remote}.history.json"):
        (deploys_dir(root) / name).unlink(missing_ok=True)
