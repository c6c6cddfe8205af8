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
        if tool.kind == "mcp":
            return "external, unsandboxed"
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
    """A tool's description, input schema, permissions and limits.

    An MCP server's tool is asked for by connecting to its server (starting a stdio one).
    """
    import shlex

    from caxton.tools.registry import find_tool

    tool = find_tool(_root(), name, connect=True)
    data = tool.to_json()
    if as_json:
        output.emit_json(data)
        return
    output.echo(f"{tool.name} ({tool.kind}, {tool.origin}): {tool.description}")
    output.echo("input schema: " + json.dumps(tool.input_schema, indent=2))
    if "server" in data:
        server = data["server"]
        reached = shlex.join(server["command"]) if server["command"] else server["url"]
        output.echo(f"runs: external, unsandboxed: MCP server {tool.server!r} ({reached})")
        output.echo(f"transport: {server['transport']}, timeout {server['timeout']}")
        output.echo(f"environment passed: {', '.join(server['env']) or 'none beyond the base set'}")
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
    """Call a tool once (WASM in its sandbox, MCP on its server) and show the result and time."""
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
    http = [r.to_json() for r in getattr(run, "http", ())]
    if as_json:
        output.emit_json(
            {
                "content": result.content,
                "is_error": result.is_error,
                "fuel_used": run.fuel_used,
                "seconds": round(run.seconds, 6),
                "http": http,
            }
        )
    else:
        output.echo(result.text())
        for request in http:
            outcome = request.get("status") or request.get("denied") or request.get("error")
            output.say(f"http: {request['method']} {request['url']} -> {outcome}")
        output.say(
            f"{'error result' if result.is_error else 'ok'}: "
            + (f"{run.fuel_used:,} fuel, " if run.fuel_used is not None else "unsandboxed, ")
            + f"{run.seconds * 1000:.1f} ms"
        )
    if result.is_error:
        raise typer.Exit(int(ExitCode.TOOL_FAILED))


@app.command()
def new(
    name: str = typer.Argument(..., help="Tool name: lowercase letters, digits and `_`."),
    lang: str = typer.Option("c", "--lang", help="Source language: c or zig."),
    force: bool = typer.Option(False, "--force", help="Rewrite the files of an existing folder."),
) -> None:
    """Start a workspace tool: tools/NAME/ with tool.toml, an example source and a README."""
    from caxton.errors import UsageError
    from caxton.tools.authoring import LANGS, scaffold
    from caxton.workspace.loader import require_root

    if lang not in LANGS:
        raise UsageError(f"--lang must be c or zig, not {lang!r}", f"`caxton tool new {name}`")
    root = require_root(Path.cwd())
    written = scaffold(root, name, "c" if lang == "c" else "zig", force=force)
    output.success(
        f"created tool {name!r} in `{written[0].parent.relative_to(root)}/`: "
        + ", ".join(p.name for p in written)
    )
    output.say(
        f"  next: edit `{written[1].relative_to(root)}`, then `caxton tool build {name}` and "
        f"""`caxton tool test {name} --call '{{"text": "hello world"}}'`"""
    )


@app.command()
def build(
    names: list[str] | None = typer.Argument(
        None, metavar="[NAME]...", help="Tool folders under tools/ (default: every one)."
    ),
    release: bool = typer.Option(
        True, "--release/--debug", help="Optimise and strip, or keep debug information."
    ),
) -> None:
    """Compile workspace tools from their .c or .zig source into tools/NAME/NAME.wasm."""
    from caxton.errors import CaxtonError
    from caxton.tools.authoring import BuildError, BuildFailed, build_tool, tool_folders
    from caxton.workspace.loader import require_root

    root = require_root(Path.cwd())
    folders = tool_folders(root, names or [])
    failed: list[tuple[str, CaxtonError]] = []
    for folder in folders:
        try:
            built = build_tool(root, folder, release=release)
        except CaxtonError as exc:
            if isinstance(exc, BuildError) and exc.compiler_output:
                output.say(exc.compiler_output)
            output.say(output.style("✗", "error") + f" {folder.name}: {exc.message}")
            failed.append((folder.name, exc))
            continue
        if built.compiler_output:
            output.say(built.compiler_output)
        output.success(
            f"built `{built.module.relative_to(root)}`: {built.size:,} bytes, "
            f"{built.seconds * 1000:.0f} ms"
        )
        for message, hint in built.warnings:
            output.warn(message, hint)
    if failed:
        first = failed[0][1]
        raise BuildFailed(
            f"tool {failed[0][0]!r} did not build"
            if len(folders) == 1
            else f"{len(failed)} of {len(folders)} tools did not build: "
            + ", ".join(name for name, _ in failed),
            first.hint if len(failed) == 1 else "fix the errors above, then build again",
            first.exit_code,
        )
