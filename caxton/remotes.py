"""Remote servers the user has logged in to: name, URL, token and default workspace.

They live in the user config dir, `credentials.toml` (mode 0600: it holds tokens), never in a
workspace, so a token cannot be committed by accident. `caxton login URL` adds one;
`--remote NAME` on a command uses it.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

from caxton import paths
from caxton.errors import FileAccessError, NotFoundError, UsageError
from caxton.private_files import check_private, write_private

CREDENTIALS_FILE = "credentials.toml"
REMOTE_NAME = re.compile(r"^[a-z][a-z0-9-]{0,31}$")
DEFAULT_REMOTE = "default"


@dataclass(frozen=True, slots=True)
class Remote:
    name: str
    url: str
    token: str
    workspace: str | None = None  # used when a command runs outside a workspace

    def __repr__(self) -> str:  # never the token
        return f"Remote({self.name!r}, {self.url!r}, workspace={self.workspace!r})"


def credentials_path() -> Path:
    return paths.config_dir() / CREDENTIALS_FILE


def check_name(name: str) -> str:
    if not REMOTE_NAME.match(name):
        raise UsageError(
            f"{name!r} is not a remote name",
            "use 1-32 lowercase letters, digits and dashes, starting with a letter",
        )
    return name


def normalise_url(url: str) -> str:
    url = url.strip().rstrip("/")
    if "://" not in url:
        url = f"http://{url}"
    if not url.startswith(("http://", "https://")):
        raise UsageError(
            f"{url!r} is not an http(s) URL", "give the server's URL, e.g. https://host:8420"
        )
    return url


def load_remotes() -> dict[str, Remote]:
    path = credentials_path()
    if not path.exists():
        return {}
    check_private(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise FileAccessError(
            f"cannot read `{path}`: {exc}",
            "fix or delete it (then `caxton login` again): it is written by `caxton login`",
        ) from exc
    remotes = {}
    for name, entry in (data.get("remotes") or {}).items():
        if isinstance(entry, dict) and isinstance(entry.get("url"), str):
            workspace = entry.get("workspace")
            remotes[name] = Remote(
                name,
                entry["url"],
                str(entry.get("token", "")),
                workspace if isinstance(workspace, str) else None,
            )
    return remotes


def _save(remotes: dict[str, Remote]) -> Path:
    import tomlkit

    document = tomlkit.document()
    document.add(tomlkit.comment("Written by `caxton login`; holds tokens: keep it mode 0600."))
    table = tomlkit.table(is_super_table=True)
    for remote in sorted(remotes.values(), key=lambda r: r.name):
        entry = tomlkit.table()
        entry["url"] = remote.url
        entry["token"] = remote.token
        if remote.workspace:
            entry["workspace"] = remote.workspace
        table[remote.name] = entry
    document["remotes"] = table
    path = credentials_path()
    write_private(path, tomlkit.dumps(document).encode(), exclusive=False)
    return path


def save_remote(remote: Remote) -> Path:
    """Add or replace a remote; returns the credentials file's path."""
    remotes = load_remotes()
    remotes[remote.name] = remote
    return _save(remotes)


def remove_remote(name: str) -> bool:
    remotes = load_remotes()
    if remotes.pop(name, None) is None:
        return False
    _save(remotes)
    return True


def get_remote(name: str) -> Remote:
    remote = load_remotes().get(name)
    if remote is None:
        raise NotFoundError(
            f"no remote {name!r}",
            f"log in first: `caxton login URL --name {name}`",
        )
    return remote


def workspace_remotes(root: Path) -> dict[str, str]:
    """The remotes `caxton.toml` declares (`[remotes.NAME] url`): name -> URL."""
    from caxton.workspace.loader import load_workspace

    config = load_workspace(root, only=[]).config
    return {n: r.url for n, r in config.remotes.items()} if config is not None else {}


def resolve_remote(root: Path, name: str | None) -> Remote:
    """The remote a deploy command talks to: the one named, else the only one there is. Its
    URL comes from `caxton.toml` when declared there, its token from the user's credentials."""
    declared = workspace_remotes(root)
    stored = load_remotes()
    if name is None:
        known = sorted(set(declared) | set(stored))
        if len(known) != 1:
            raise UsageError(
                "which remote? " + (f"this workspace knows {', '.join(known)}" if known else
                                    "this workspace has no remote yet"),
                "pass `--remote NAME`" if known else
                "add one: `caxton remote add prod URL` (it asks for the server's token)",
            )  # fmt: skip
        name = known[0]
    entry = stored.get(name)
    url = declared.get(name) or (entry.url if entry else None)
    if url is None:
        raise NotFoundError(
            f"no remote {name!r}",
            f"add it: `caxton remote add {name} URL`"
            + (
                f" (known: {', '.join(sorted(set(declared) | set(stored)))})"
                if declared or stored
                else ""
            ),
        )
    if entry is None or not entry.token:
        raise NotFoundError(
            f"no token for remote {name!r} ({url}) on this machine",
            f"`caxton remote add {name} {url}` asks for one (tokens stay in your user config, "
            "never in the workspace)",
        )
    return Remote(name, normalise_url(url), entry.token, entry.workspace)
