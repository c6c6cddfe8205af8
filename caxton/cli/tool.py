"""`caxton tool list|inspect|test`: the tools agents can call, and a way to try one."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from caxton.cli import output

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="List, inspect and try the tools agents can call.",
)


@app.callback()
def _group() -> None:
    """List, inspect and try the tools agents can call."""


def _root() -> Path | None:
    from caxton.workspace.loader import find_root

    return find_root(Path.cwd())


@app.command(name="list")
def list_tools(as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """Built-in and workspace tools, with their kind and where they come from."""
    from caxton.tools.registry import ToolInfo, available_tools

    tools = available_tools(_root())
    if as_json:
        output.emit_json([t.to_json() for t in tools])
        return

    def status(tool: ToolInfo) -> str:
        if tool.runnable:
            return "sandbox"
        return "runtime" if tool.kind != "wasm" else "not built yet"

    rows = [[t.name, t.kind, t.origin, status(t), t.description] for t in tools]
    output.table(rows, ["tool", "kind", "from", "runs in", "description"])


@app.command()
def inspect(
    name: str = typer.Argument(..., help="Tool name."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """A tool's description, input schema, permissions and limits."""
    from caxton.tools.registry import find_tool

    tool = find_tool(_root(), name)
    data = tool.to_json()
    if as_json:
        output.emit_json(data)
        return
    output.echo(f"{tool.name} ({tool.kind}, {tool.origin}): {tool.description}")
    output.echo("input schema: " + json.dumps(tool.input_schema, indent=2))
    if "limits" in data:
        output.echo(f"module: {data['module']}")
        output.echo("limits: " + ", ".join(f"{k} {v}" for k, v in data["limits"].items()))
        perms = data["permissions"]
        output.echo(
            f"permissions: env {perms['env'] or 'none'}, hosts "
            f"{perms['http_hosts'] or 'none'}, folders {perms['dirs'] or 'none'}"
        )


@app.command()
def test(
    name: str = typer.Argument(..., help="Tool name."),
    call: str = typer.Option("{}", "--call", help="The arguments, as a JSON object."),
    as_json: bool = typer.Option(False, "--json", help="Print the whole result as JSON."),
) -> None:
    """Call a WASM tool once in its sandbox and show the result, fuel and time."""
    from caxton.errors import ExitCode, UsageError
    from caxton.tools.registry import call as call_tool
    from caxton.tools.registry import find_tool

    try:
        arguments = json.loads(call)
    except json.JSONDecodeError as exc:
        raise UsageError(
            f"--call is not JSON: {exc.msg} (column {exc.colno})",
            """pass an object, e.g. --call '{"op": "words", "text": "hi"}'""",
        ) from exc
    if not isinstance(arguments, dict):
        raise UsageError("--call must be a JSON object", """e.g. --call '{"text": "hi"}'""")
    root = _root()
    result = call_tool(find_tool(root, name), arguments, root)
    run = result.run
    if as_json:
        output.emit_json(
            {
                "content": result.content,
                "is_error": result.is_error,
                "fuel_used": run.fuel_used,
                "seconds": round(run.seconds, 6),
            }
        )
    else:
        output.echo(result.text())
        output.say(
            f"{'error result' if result.is_error else 'ok'}: {run.fuel_used:,} fuel, "
            f"{run.seconds * 1000:.1f} ms"
        )
    if result.is_error:
        raise typer.Exit(int(ExitCode.TOOL_FAILED))
