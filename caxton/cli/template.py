"""`caxton template list|show`: the agent templates embedded in the package."""

from __future__ import annotations

import typer

from caxton.cli import output

app = typer.Typer(
    add_completion=False, no_args_is_help=True, help="List and show the built-in agent templates."
)


@app.callback()
def _group() -> None:
    """List and show the built-in agent templates."""


@app.command(name="list")
def list_templates(as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """List the templates with what each agent does."""
    from caxton.workspace.templates import all_templates

    templates = all_templates()
    if as_json:
        output.emit_json(
            [{k: v for k, v in t.to_json().items() if k != "documentation"} for t in templates]
        )
        return
    output.table(
        [[t.name, ", ".join(t.capabilities)] for t in templates], ["template", "capabilities"]
    )
    output.say(
        "use one: `caxton init NAME --template TEMPLATE`; details: `caxton template show TEMPLATE`"
    )


@app.command()
def show(
    name: str = typer.Argument(..., help="Template name."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    toml: bool = typer.Option(False, "--toml", help="Print the template file itself."),
) -> None:
    """Show a template: what it does, its tools, and how to customise it."""
    from caxton.workspace.templates import load_template

    template = load_template(name)
    if as_json:
        output.emit_json({**template.to_json(), "toml": template.text})
    elif toml:
        output.echo(template.text.rstrip("\n"))
    else:
        output.echo(f"{template.name}: {template.description}")
        output.echo(f"  capabilities: {', '.join(template.capabilities)}")
        output.echo(f"  tools:        {', '.join(template.tools)}")
        output.echo()
        output.echo(template.documentation.strip())
