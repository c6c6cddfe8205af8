"""`caxton schema agent|workspace`: JSON Schemas generated from the validator's own model."""

from __future__ import annotations

import typer

from caxton.cli import output

app = typer.Typer(
    add_completion=False, no_args_is_help=True, help="Print JSON Schemas for editor completion."
)


@app.callback()
def _group() -> None:
    """Print JSON Schemas for editor completion (taplo, Even Better TOML)."""


@app.command()
def agent() -> None:
    """The JSON Schema of an agent file (agents/*.toml)."""
    from caxton.agents.model import agent_json_schema

    output.emit_json(agent_json_schema())


@app.command()
def workspace() -> None:
    """The JSON Schema of the workspace file (caxton.toml)."""
    from caxton.workspace.config import WorkspaceConfig
    from caxton.workspace.schema import json_schema

    output.emit_json(json_schema(WorkspaceConfig, title="Caxton workspace (caxton.toml)"))
