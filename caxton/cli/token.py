"""`caxton token create|list|revoke`: the server's bearer tokens, managed on the server machine."""

from __future__ import annotations

from pathlib import Path

import typer

from caxton.cli import output

app = typer.Typer(
    add_completion=False, no_args_is_help=True, help="Create, list and revoke server tokens."
)

DATA_DIR_HELP = "The server's data dir (default: the platform's, or $CAXTON_HOME/data)."


@app.callback()
def _group() -> None:
    """Create, list and revoke the bearer tokens a `caxton serve` accepts."""


def _default_subject() -> str:
    import getpass

    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return "cli"


@app.command()
def create(
    workspace: list[str] = typer.Option(
        [], "--workspace", "-w", help="A workspace the token reaches (repeatable)."
    ),
    all_workspaces: bool = typer.Option(
        False, "--all-workspaces", help="Reach every workspace, present and future."
    ),
    role: str = typer.Option(..., "--role", help="viewer, deployer or admin."),
    ttl: str = typer.Option("30d", "--ttl", help='Lifetime: "30d", "12h", "90m", "3600s".'),
    subject: str | None = typer.Option(
        None, "--subject", help="Who holds it (default: your user name)."
    ),
    data_dir: Path | None = typer.Option(None, "--data-dir", help=DATA_DIR_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print JSON (with the token)."),
) -> None:
    """Issue a token: the token on stdout (only there), its id and expiry on stderr."""
    from caxton.errors import UsageError
    from caxton.server.auth import ALL_WORKSPACES, TokenAuthority, parse_role, parse_ttl

    if all_workspaces and workspace:
        raise UsageError(
            "`--all-workspaces` and `--workspace` exclude each other", "pass one or the other"
        )
    seconds = parse_ttl(ttl)
    checked_role = parse_role(role)
    names = [ALL_WORKSPACES] if all_workspaces else workspace
    token, record = TokenAuthority(data_dir).issue(
        subject or _default_subject(), names, checked_role, seconds
    )
    if as_json:
        output.emit_json({"token": token, **record.to_json()})
    else:
        output.echo(token)
    reach = "all workspaces" if all_workspaces else ", ".join(record.workspaces)
    output.success(
        f"token {record.jti} for {record.subject!r}: {record.role} on {reach}, "
        f"expires {record.to_json()['expires_at']}"
    )
    output.say("it is shown once; revoke it with `caxton token revoke " + record.jti[:8] + "`")


@app.command(name="list")
def list_tokens(
    data_dir: Path | None = typer.Option(None, "--data-dir", help=DATA_DIR_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """List issued tokens (never the tokens themselves) with their status."""
    from caxton.server.auth import TokenAuthority

    records = [r.to_json() for r in TokenAuthority(data_dir).list_tokens()]
    if as_json:
        output.emit_json(records)
        return
    if not records:
        output.say("no tokens yet; create one with `caxton token create --workspace W --role R`")
        return
    output.table(
        [
            [
                r["jti"],
                r["subject"],
                ",".join(r["workspaces"]),
                r["role"],
                r["expires_at"],
                r["status"],
            ]
            for r in records
        ],
        ["jti", "subject", "workspaces", "role", "expires", "status"],
    )


@app.command()
def revoke(
    jti: str = typer.Argument(..., help="The token's jti, or an unambiguous prefix of it."),
    data_dir: Path | None = typer.Option(None, "--data-dir", help=DATA_DIR_HELP),
) -> None:
    """Revoke a token: the server refuses it from its next request on."""
    from caxton.server.auth import TokenAuthority

    record, changed = TokenAuthority(data_dir).revoke(jti)
    if changed:
        output.success(f"revoked token {record.jti} ({record.subject!r}, {record.role})")
    else:
        output.say(f"token {record.jti} was already revoked")
