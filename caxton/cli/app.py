"""The `caxton` command: a typer app whose command groups are imported only when used."""

from __future__ import annotations

import importlib
import sys
from typing import Any

import typer
from typer.core import TyperGroup

from caxton import __version__
from caxton.cli import output
from caxton.errors import CaxtonError

# name -> (module, one-line help). The help lives here so `caxton --help` imports no command.
COMMANDS: dict[str, tuple[str, str]] = {
    "quickstart": ("caxton.cli.quickstart", "Create, serve, deploy and try a workspace, offline."),
    "init": ("caxton.cli.init", "Create a workspace, or an agent from a template."),
    "validate": ("caxton.cli.validate", "Check caxton.toml and agent files; print every problem."),
    "agent": ("caxton.cli.agent", "List, show and edit the workspace's agents."),
    "template": ("caxton.cli.template", "List and show the built-in agent templates."),
    "schema": ("caxton.cli.schema", "Print JSON Schemas for editor completion."),
    "route": ("caxton.cli.route", "Show which agent would take a request, and why."),
    "memory": ("caxton.cli.memory", "Search and edit the workspace's local memory."),
    "tool": ("caxton.cli.tool", "List, inspect and try the tools agents can call."),
    "tui": ("caxton.cli.tui", "Chat with agents and trace them in a terminal UI."),
    "run": ("caxton.cli.run", "Send one request to an agent and stream the answer."),
    "chat": ("caxton.cli.run:chat_app", "Talk to one agent, a line at a time."),
    "token": ("caxton.cli.token", "Create, list and revoke server tokens."),
    "trace": ("caxton.cli.trace", "Show a request's span tree: durations, tokens, cost, fuel."),
    "logs": ("caxton.cli.trace:logs_app", "List recent requests; `logs off|on` stops or resumes."),
    "serve": ("caxton.cli.serve", "Serve workspaces over HTTP: agents, messages, traces."),
    "health": ("caxton.cli.serve:health_app", "Check that a server answers; exit 0, or 7."),
    "login": ("caxton.cli.login", "Check a server token and keep it as a named remote."),
    "logout": ("caxton.cli.login:logout_app", "Forget a remote and its token."),
    "remote": ("caxton.cli.remote", "Add, list and remove the servers this workspace deploys to."),
    "deploy": ("caxton.cli.deploy", "Ship the workspace to a remote: changed files only, atomic."),
    "status": ("caxton.cli.deploy:status_app", "What would deploy and what is invalid (offline)."),
    "pull": ("caxton.cli.deploy:pull_app", "Bring a remote's live files here (keeps local edits)."),
    "log": ("caxton.cli.deploy:log_app", "A remote's deploy history (cached for offline)."),
    "rollback": (
        "caxton.cli.deploy:rollback_app",
        "Make an older version live again (new version).",
    ),
}


class LazyGroup(TyperGroup):
    """Imports a command group's module the first time that command is asked for."""

    def list_commands(self, ctx: Any) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        if cmd_name not in COMMANDS:
            return None
        module_name, _, attribute = COMMANDS[cmd_name][0].partition(":")
        module = importlib.import_module(module_name)
        command = typer.main.get_command(getattr(module, attribute or "app"))
        command.name = cmd_name
        command.short_help = COMMANDS[cmd_name][1]
        return command


app = typer.Typer(
    cls=LazyGroup,
    name="caxton",
    help="Caxton: multi-agent LLM systems from plain TOML files.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _show_version(value: bool) -> None:
    if value:
        output.echo(f"caxton {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_show_version, is_eager=True, help="Print the version."
    ),
    verbose: bool = typer.Option(
        False, "--verbose", "-v", help="Show tracebacks for internal errors."
    ),
) -> None:
    """Caxton: multi-agent LLM systems from plain TOML files."""


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns the exit code instead of raising SystemExit (see `run`)."""
    args = sys.argv[1:] if argv is None else argv
    head = args[: args.index("--")] if "--" in args else args
    verbose = "--verbose" in head or "-v" in head
    command = typer.main.get_command(app)
    try:
        command.main(args=args, prog_name="caxton", standalone_mode=True)
    except SystemExit as exc:
        code = exc.code
        return code if isinstance(code, int) else (0 if code is None else 1)
    except CaxtonError as exc:
        return output.fail(exc)
    except Exception as exc:
        return output.internal_error(exc, verbose=verbose)
    return 0


def run() -> None:
    """The console-script entry point."""
    sys.exit(main())
