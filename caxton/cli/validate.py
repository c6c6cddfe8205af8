"""`caxton validate`: every problem in caxton.toml and the agent files, located and explained."""

from __future__ import annotations

from pathlib import Path

import typer

from caxton.cli import output

app = typer.Typer(add_completion=False)


@app.command(name="validate")
def validate(
    paths: list[Path] | None = typer.Argument(
        None, help="Agent files or workspace folders (default: the current workspace)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the problems as JSON."),
) -> None:
    """Check caxton.toml and agent files; print every problem, not just the first."""
    from caxton.errors import ExitCode
    from caxton.workspace.validate import validate_paths

    report = validate_paths(paths or [Path.cwd()])
    if as_json:
        output.emit_json(report.to_json())
    else:
        output.print_problems(report.problems, base=Path.cwd())
        if report.problems:
            output.say(
                output.count_problems(report.problems)
                + f" ({report.files_checked} file{'s' * (report.files_checked != 1)} checked)"
            )
        else:
            output.success(
                f"{report.files_checked} file{'s' * (report.files_checked != 1)} "
                "checked, no problems"
            )
    if report.errors:
        raise typer.Exit(int(ExitCode.INVALID))
