"""`caxton login URL` (check a token against a server and keep it) and `caxton logout NAME`.

The token is read from a hidden prompt, or from stdin when it is not a terminal (or with
`--token-stdin`): never from the command line, where it would land in the shell's history.
"""

from __future__ import annotations

import sys

import typer

from caxton.cli import output

app = typer.Typer(add_completion=False)
logout_app = typer.Typer(add_completion=False)


def _read_token(from_stdin: bool) -> str:
    from caxton.errors import UsageError

    if from_stdin or not sys.stdin.isatty():
        token = sys.stdin.readline().strip()
    else:
        import getpass

        token = getpass.getpass("token (from `caxton token create` on the server): ").strip()
    if not token:
        raise UsageError(
            "no token given",
            "paste the token when asked, or pipe it: `caxton login URL --token-stdin < file`",
        )
    return token


@app.command(name="login")
def login(
    url: str = typer.Argument(..., help="The server's URL, e.g. https://agents.example:8420."),
    name: str = typer.Option("default", "--name", "-n", help="What to call this remote."),
    workspace: str | None = typer.Option(
        None, "--workspace", "-w", help="Workspace to use outside a workspace folder."
    ),
    token_stdin: bool = typer.Option(False, "--token-stdin", help="Read the token from stdin."),
    as_json: bool = typer.Option(False, "--json", help="Print what the server said as JSON."),
) -> None:
    """Check a token against a server, then keep it (user config, mode 0600) as a remote."""
    from caxton.client import Client
    from caxton.errors import UsageError
    from caxton.remotes import Remote, check_name, normalise_url, save_remote

    check_name(name)
    base = normalise_url(url)
    token = _read_token(token_stdin)
    with Client(base, token, workspace or "") as client:
        who = client.whoami()  # a bad token is refused here, and nothing is saved
    reachable = who.get("reachable") or []
    if workspace is not None and workspace not in reachable:
        raise UsageError(
            f"this token does not reach workspace {workspace!r} on {base}",
            "it reaches: " + (", ".join(reachable) or "no workspace served there"),
        )
    chosen = workspace or (reachable[0] if len(reachable) == 1 else None)
    path = save_remote(Remote(name, base, token, chosen))
    if as_json:
        output.emit_json({"remote": name, "url": base, "workspace": chosen, **who})
        return
    output.success(
        f"logged in to {base} as {who['subject']!r} ({who['role']}); saved as remote "
        f"{name!r} in `{path}`"
    )
    output.say(
        "workspaces reachable: " + (", ".join(reachable) or "none yet")
        + (f"; default {chosen!r}" if chosen else "")
    )  # fmt: skip
    output.say(f'next: `caxton run --remote {name} "hello"`')


@logout_app.command(name="logout")
def logout(name: str = typer.Argument("default", help="The remote to forget.")) -> None:
    """Forget a remote and its token (the token stays valid on the server until revoked)."""
    from caxton.errors import NotFoundError
    from caxton.remotes import remove_remote

    if not remove_remote(name):
        raise NotFoundError(f"no remote {name!r}", "`caxton login URL --name NAME` adds one")
    output.success(f"forgot remote {name!r}")
    output.say("the token itself stays valid until `caxton token revoke` on the server")
