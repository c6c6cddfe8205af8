"""`caxton remote add|list|remove`: the servers this workspace deploys to.

A remote's name and URL go in `caxton.toml` (`[remotes.NAME] url`, safe to commit); its token
goes in the user's credentials file (mode 0600), never in the workspace.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import typer

from caxton.cli import output

app = typer.Typer(add_completion=False, no_args_is_help=True)


@app.command(name="add")
def add(
    name: str = typer.Argument(..., help="What to call it, e.g. prod."),
    url: str = typer.Argument(..., help="The server's URL, e.g. https://agents.example:8420."),
    token_stdin: bool = typer.Option(False, "--token-stdin", help="Read the token from stdin."),
) -> None:
    """Add (or update) a remote: the URL in caxton.toml, the token in your user config."""
    from caxton.cli.login import _read_token
    from caxton.client import Client
    from caxton.errors import UsageError
    from caxton.memory.local import workspace_name
    from caxton.remotes import Remote, check_name, normalise_url, save_remote
    from caxton.workspace.edit import set_value
    from caxton.workspace.loader import require_root

    check_name(name)
    base = normalise_url(url)
    root = require_root(Path.cwd())
    workspace = workspace_name(root)
    token = _read_token(token_stdin)
    with Client(base, token, workspace) as client:
        who = client.whoami()  # a bad token or a wrong URL is refused here; nothing is saved
    if who.get("role") == "viewer":
        raise UsageError(
            f"this token is a viewer's: it cannot deploy to {base}",
            f"on the server: `caxton token create --workspace {workspace} --role deployer`",
        )
    _edit_workspace_file(root, lambda text: set_value(text, f"remotes.{name}.url", base))
    path = save_remote(Remote(name, base, token, workspace))
    output.success(
        f"remote {name!r} is {base} (in caxton.toml); its token is in `{path}` "
        f"({who['subject']!r}, {who['role']})"
    )
    output.say(f"next: `caxton deploy --remote {name}`")


@app.command(name="list")
def list_remotes(
    as_json: bool = typer.Option(False, "--json", help="Print the remotes as JSON."),
) -> None:
    """The remotes this workspace knows, whether a token is stored, and the last deploy."""
    from caxton.deploy import local
    from caxton.remotes import load_remotes, workspace_remotes
    from caxton.workspace.loader import find_root

    root = find_root(Path.cwd())
    declared = workspace_remotes(root) if root is not None else {}
    stored = load_remotes()
    records = local.records(root) if root is not None else {}
    rows = []
    for name in sorted(set(declared) | set(stored)):
        entry = stored.get(name)
        record = records.get(name)
        rows.append(
            {
                "name": name,
                "url": declared.get(name) or (entry.url if entry else None),
                "in_workspace": name in declared,
                "token": bool(entry and entry.token),
                "deployed_version": record.version if record else None,
                "deployed_at": record.at if record else None,
            }
        )
    if as_json:
        output.emit_json(rows)
        return
    if not rows:
        output.say("no remotes: `caxton remote add prod URL` adds one")
        return
    output.table(
        [
            [
                str(r["name"]), str(r["url"]), "yes" if r["token"] else "no (remote add again)",
                f"v{r['deployed_version']}" if r["deployed_version"] else "-",
            ]
            for r in rows
        ],
        ["name", "url", "token", "deployed"],
    )  # fmt: skip


@app.command(name="remove")
def remove(name: str = typer.Argument(..., help="The remote to forget.")) -> None:
    """Forget a remote: its caxton.toml entry, its token here and its deploy records."""
    from caxton.deploy import local
    from caxton.errors import NotFoundError
    from caxton.remotes import remove_remote, workspace_remotes
    from caxton.workspace.loader import find_root

    root = find_root(Path.cwd())
    in_workspace = root is not None and name in workspace_remotes(root)
    if root is not None and in_workspace:
        _edit_workspace_file(root, lambda text: _without_remote(text, name))
    had_token = remove_remote(name)
    if root is not None:
        local.forget(root, name)
    if not (in_workspace or had_token):
        raise NotFoundError(f"no remote {name!r}", "`caxton remote list` shows them")
    output.success(f"forgot remote {name!r}")
    if had_token:
        output.say("the token itself stays valid until `caxton token revoke` on the server")


def _edit_workspace_file(root: Path, change: Callable[[str], str]) -> None:
    from caxton.paths import WORKSPACE_FILE
    from caxton.workspace.files import write_all

    path = root / WORKSPACE_FILE
    write_all({path: change(path.read_text(encoding="utf-8"))}, force=True)


def _without_remote(text: str, name: str) -> str:
    import tomlkit

    document = tomlkit.parse(text)
    remotes = document.get("remotes")
    if remotes is not None and name in remotes:
        del remotes[name]
        if not remotes:
            del document["remotes"]
    return tomlkit.dumps(document)
