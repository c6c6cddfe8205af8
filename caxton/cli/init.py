"""`caxton init`: a new workspace, or (with --template) a new agent in the current one."""

from __future__ import annotations

from pathlib import Path

import typer

from caxton.cli import output

app = typer.Typer(add_completion=False)


@app.command(name="init")
def init(
    target: str | None = typer.Argument(
        None,
        metavar="[DIR | NAME]",
        help="Folder for a new workspace (default: here); with --template, the agent's name.",
    ),
    template: str | None = typer.Option(
        None,
        "--template",
        "-t",
        help="Create an agent from this template (see `caxton template list`).",
    ),
    name: str | None = typer.Option(
        None, "--name", help="Workspace name (default: from the folder name)."
    ),
    force: bool = typer.Option(False, "--force", help="Overwrite files that already exist."),
) -> None:
    """Create a workspace (git repo, caxton.toml, agents/, tools/), or an agent from a template."""
    from caxton.errors import UsageError
    from caxton.workspace.scaffold import create_agent, create_workspace

    if template is not None:
        if target is None:
            raise UsageError("an agent needs a name", f"`caxton init NAME --template {template}`")
        if name is not None:
            raise UsageError(
                "`--name` names a workspace; it does not apply with --template",
                f"`caxton init {target} --template {template}`",
            )
        result = create_agent(Path.cwd(), target, template, force=force)
        path = result.written[0]
        output.success(
            f"created agent {target!r} from template {template!r}: "
            f"`{path.relative_to(Path.cwd()) if path.is_relative_to(Path.cwd()) else path}`"
        )
        output.say(
            f"  next: edit it, then `caxton validate`; `caxton agent show {target}` shows it"
        )
        return
    directory = Path(target) if target else Path.cwd()
    result = create_workspace(directory, name=name, force=force)
    for message, hint in result.warnings:
        output.warn(message, hint)
    output.success(
        f"created workspace at `{result.root}`"
        + (" (new git repository)" if result.git_initialized else "")
    )
    for path in result.written:
        output.say(f"  {path.relative_to(result.root)}")
    steps = [] if directory.resolve() == Path.cwd().resolve() else [f"cd {target}"]
    steps += ["caxton init analyst --template data-analyzer", "caxton validate"]
    output.say("  next: " + " && ".join(f"`{s}`" for s in steps))
