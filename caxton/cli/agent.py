"""`caxton agent list|show|set`: the workspace's agents, read offline from their files."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from caxton.cli import output

if TYPE_CHECKING:
    from caxton.workspace.loader import AgentFile, Workspace

app = typer.Typer(
    add_completion=False, no_args_is_help=True, help="List, show and edit the workspace's agents."
)


@app.callback()
def _group() -> None:
    """List, show and edit the workspace's agents."""


def _workspace() -> Workspace:
    from caxton.workspace.loader import load_workspace, require_root

    return load_workspace(require_root(Path.cwd()))


def _status(agent: AgentFile) -> str:
    if not agent.valid:
        return "invalid"
    return "warnings" if agent.problems else "valid"


def _agent_json(agent: AgentFile, root: Path) -> dict[str, Any]:
    from caxton.agents.serialize import config_to_dict

    return {
        "name": agent.config.name if agent.config else agent.path.stem,
        "file": str(agent.path.relative_to(root)),
        "status": _status(agent),
        "config": config_to_dict(agent.config) if agent.config else None,
        "problems": [p.to_json(root) for p in agent.problems],
    }


@app.command(name="list")
def list_agents(as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """List the workspace's agents with their capabilities and status."""
    ws = _workspace()
    if as_json:
        output.emit_json([_agent_json(a, ws.root) for a in ws.agents])
        return
    if not ws.agents:
        output.say("no agents yet; add one with `caxton init NAME --template TEMPLATE`")
        return
    rows = [
        [
            a.config.name if a.config else a.path.stem,
            ", ".join(a.config.capabilities) if a.config else "-",
            str(len(a.config.tools)) if a.config else "-",
            _status(a),
            str(a.path.relative_to(ws.root)),
        ]
        for a in ws.agents
    ]
    output.table(rows, ["name", "capabilities", "tools", "status", "file"])
    invalid = sum(1 for a in ws.agents if not a.valid)
    if invalid:
        output.say(f"{invalid} invalid agent{'s' * (invalid != 1)}: `caxton validate` says why")


@app.command()
def show(
    name: str = typer.Argument(..., help="Agent name (or its file name without .toml)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Show one agent's settings, as loaded (defaults filled in)."""
    ws = _workspace()
    agent = _find(ws, name)
    if as_json:
        output.emit_json(_agent_json(agent, ws.root))
        return
    output.print_problems(agent.problems, base=ws.root)
    config = agent.config
    if config is None:
        raise typer.Exit(3)
    output.echo(f"{config.name} {config.version}  ({agent.path.relative_to(ws.root)})")
    output.echo(f"  {config.description}")
    output.echo(f"  capabilities: {', '.join(config.capabilities)}")
    output.echo(f"  tools:        {', '.join(config.tools) or '(none)'}")
    provider = config.llm.provider or (
        f"{ws.config.llm.default_provider} (workspace default)"
        if ws.config
        else "(workspace default)"
    )
    output.echo(
        f"  llm:          {provider}"
        + (f", model {config.llm.model}" if config.llm.model else "")
        + f", max_tokens {config.llm.max_tokens}, temperature {config.llm.temperature}"
    )
    lim = config.limits
    output.echo(
        f"  limits:       {lim.max_turns} turns, {lim.max_tool_calls} tool calls, "
        f"{lim.timeout}, ${lim.max_cost_usd}"
    )
    mem = config.memory
    output.echo(
        "  memory:       "
        + (
            f"on, scope {mem.scope}, auto_store {'on' if mem.auto_store else 'off'}, "
            f"top {mem.search_limit} at >= {mem.min_similarity}"
            if mem.enabled
            else "off"
        )
    )
    for key, value in config.parameters.items():
        output.echo(f"  param {key} = {value!r}")


@app.command(name="set")
def set_key(
    name: str = typer.Argument(..., help="Agent name."),
    key: str = typer.Argument(..., help="Key path, e.g. `llm.temperature` or `description`."),
    value: str = typer.Argument(..., help='A TOML value (0.3, true, ["a"]) or plain text.'),
) -> None:
    """Set one key in an agent file, keeping its comments and layout; refuses invalid results."""
    from caxton.workspace.edit import set_agent_value

    ws = _workspace()
    agent = _find(ws, name)
    set_agent_value(agent.path, key, value, ws.context)
    output.success(f"set {key} in `{agent.path.relative_to(ws.root)}`")


def _find(ws: Workspace, name: str) -> AgentFile:
    from caxton.errors import NotFoundError
    from caxton.workspace.schema import suggest

    agent = ws.agent(name)
    if agent is None:
        names = [a.config.name if a.config else a.path.stem for a in ws.agents]
        close = suggest(name, names)
        raise NotFoundError(
            f"no agent named {name!r} in this workspace"
            + (f"; did you mean {close!r}?" if close else ""),
            "`caxton agent list` shows the agents"
            if names
            else "add one with `caxton init NAME --template TEMPLATE`",
        )
    return agent
