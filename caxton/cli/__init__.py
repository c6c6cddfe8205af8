"""The command-line interface: one module per command group, imported lazily."""

from __future__ import annotations

import sys


def entry() -> None:
    """The `caxton` console script.

    `caxton --version` is answered before typer is imported (about 35 ms of start-up): scripts
    and editors probe it often. Every other command goes through the typer app.
    """
    if sys.argv[1:] == ["--version"]:
        from caxton import __version__

        sys.stdout.write(f"caxton {__version__}\n")
        return
    from caxton.cli.app import run

    run()
