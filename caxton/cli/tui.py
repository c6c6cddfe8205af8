"""`caxton tui [WORKSPACE] [--remote NAME]`: the terminal UI (needs the `caxton_tui` package,
which `pip install caxton` brings)."""

from __future__ import annotations

from pathlib import Path

import typer

app = typer.Typer(add_completion=False)


@app.command(name="tui")
def tui(
    workspace: Path | None = typer.Argument(None, help="The workspace folder (default: here)."),
    remote: str | None = typer.Option(
        None, "--remote", "-r", help="Talk to this remote instead of a local server."
    ),
    model: str | None = typer.Option(
        None, "--model", "-m", help="Provider every agent uses here, e.g. `test`."
    ),
) -> None:
    """Chat with the workspace's agents and trace every request, in a terminal UI."""
    import importlib

    from caxton.errors import UsageError
    from caxton.workspace.loader import find_root, require_root

    if remote is not None and model is not None:
        raise UsageError("--model applies to a local server", "drop --model or --remote")
    root = require_root(workspace or Path.cwd()) if remote is None else find_root(Path.cwd())
    tui_app = importlib.import_module("caxton_tui.app")  # never imported by the core otherwise
    tui_app.run(root, remote=remote, model=model)
