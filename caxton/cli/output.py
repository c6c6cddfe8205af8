"""The one owner of stdout (data, `--json`), stderr (messages, hints, progress) and exit codes.

Data goes to stdout so it can be piped; everything said to a person goes to stderr. Colour only
on a terminal, never with NO_COLOR set. An error reads: `error: what`, a blank line, `hint: fix`.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from caxton.errors import CaxtonError, ExitCode, Problem

_STYLES = {"error": "1;31", "warning": "1;33", "hint": "36", "ok": "32", "dim": "2", "bold": "1"}


def _color(stream: Any) -> bool:
    if os.environ.get("NO_COLOR") or os.environ.get("TERM") == "dumb":
        return False
    if os.environ.get("FORCE_COLOR"):
        return True
    return bool(getattr(stream, "isatty", lambda: False)())


def style(text: str, name: str, *, stream: Any = None) -> str:
    if not _color(stream or sys.stderr):
        return text
    return f"\x1b[{_STYLES[name]}m{text}\x1b[0m"


def echo(text: str = "") -> None:
    """A line of data on stdout."""
    sys.stdout.write(text + "\n")


def emit_json(value: Any) -> None:
    import json

    sys.stdout.write(json.dumps(value, indent=2, ensure_ascii=False, default=str) + "\n")


def say(text: str = "") -> None:
    """A message for the person at the terminal, on stderr."""
    sys.stderr.write(text + "\n")


def success(text: str) -> None:
    say(style("✓", "ok") + " " + text)


def warn(text: str, hint: str | None = None) -> None:
    say(style("warning", "warning") + ": " + text)
    if hint:
        say(style("hint", "hint") + ": " + hint)


def error(text: str, hint: str | None = None) -> None:
    say(style("error", "error") + ": " + text)
    if hint:
        say()
        say(style("hint", "hint") + ": " + hint)


def fail(exc: CaxtonError) -> int:
    """Report a user-facing failure; the return value is the process exit code."""
    problems: Sequence[Problem] = getattr(exc, "problems", ())
    if problems:
        print_problems(problems, stream=sys.stderr)
    error(exc.message, exc.hint)
    return int(exc.exit_code)


def internal_error(exc: BaseException, *, verbose: bool) -> int:
    if verbose:
        import traceback

        traceback.print_exception(exc)
    error(
        f"internal error: {type(exc).__name__}: {exc}",
        "this is a bug in Caxton; rerun with `--verbose` for the traceback and report it"
        if not verbose
        else "this is a bug in Caxton; please report it with the traceback above",
    )
    return int(ExitCode.INTERNAL)


def print_problems(
    problems: Iterable[Problem], *, base: Path | None = None, stream: Any = None
) -> None:
    """Compiler-style lines: `path:line:col: error: message`, then an indented hint."""
    out = stream or sys.stdout
    for p in problems:
        label = style(p.severity, "error" if p.severity == "error" else "warning", stream=out)
        out.write(f"{p.location(base)}: {label}: {p.message}\n")
        if p.hint:
            out.write(f"  {style('hint', 'hint', stream=out)}: {p.hint}\n")


def count_problems(problems: Sequence[Problem]) -> str:
    errors = sum(1 for p in problems if p.severity == "error")
    warnings = len(problems) - errors
    files = len({p.path for p in problems})
    parts = []
    if errors:
        parts.append(f"{errors} error{'s' * (errors != 1)}")
    if warnings:
        parts.append(f"{warnings} warning{'s' * (warnings != 1)}")
    return f"{' and '.join(parts)} in {files} file{'s' * (files != 1)}"


def table(rows: Sequence[Sequence[str]], headers: Sequence[str]) -> None:
    """A plain aligned table on stdout (readable without colour, greppable)."""
    widths = [len(h) for h in headers]
    for row in rows:
        widths = [max(w, len(cell)) for w, cell in zip(widths, row, strict=True)]
    line = "  ".join(h.upper().ljust(w) for h, w in zip(headers, widths, strict=True))
    echo(line.rstrip())
    for row in rows:
        echo("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
