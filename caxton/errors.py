"""The error family every user-facing failure belongs to, and the documented exit codes."""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from pathlib import Path


class ExitCode(IntEnum):
    """Process exit codes, documented in the README; never renumber one that has shipped."""

    OK = 0
    INTERNAL = 1  # a bug in Caxton: rerun with --verbose and report the traceback
    USAGE = 2  # the command line itself is wrong (unknown option, missing argument)
    INVALID = 3  # configuration problems were found (validate, init on a broken workspace)
    NOT_FOUND = 4  # a workspace, agent, template or file that was named does not exist
    CONFLICT = 5  # the action would overwrite or duplicate something (use --force where offered)
    IO = 6  # a file could not be read or written (permissions, not a file, too large)
    UNAVAILABLE = 7  # a store or a model is unavailable (locked, corrupt, unreachable, refused)
    TOOL_FAILED = 8  # a tool hit a limit, crashed, answered badly, or returned an error result
    LIMIT = 9  # a request stopped at one of its agent's limits (turns, tool calls, time, cost)
    INTERRUPTED = 130  # Ctrl-C


class CaxtonError(Exception):
    """A failure the user can act on: what went wrong, and a hint saying how to fix it."""

    exit_code: ExitCode = ExitCode.INTERNAL

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


class UsageError(CaxtonError):
    exit_code = ExitCode.USAGE


class NotFoundError(CaxtonError):
    exit_code = ExitCode.NOT_FOUND


class ConflictError(CaxtonError):
    exit_code = ExitCode.CONFLICT


class FileAccessError(CaxtonError):
    exit_code = ExitCode.IO


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with a configuration file, located precisely."""

    path: Path
    line: int
    col: int
    message: str
    hint: str | None = None
    code: str = "invalid"
    severity: str = "error"  # "error" | "warning"

    def location(self, base: Path | None = None) -> str:
        shown = self.path
        if base is not None:
            try:
                shown = self.path.relative_to(base)
            except ValueError:
                shown = self.path
        return f"{shown}:{self.line}:{self.col}"

    def to_json(self, base: Path | None = None) -> dict[str, object]:
        shown = (
            self.path.relative_to(base) if base and self.path.is_relative_to(base) else self.path
        )
        return {
            "path": str(shown),
            "line": self.line,
            "col": self.col,
            "severity": self.severity,
            "code": self.code,
            "message": self.message,
            "hint": self.hint,
        }


class ConfigError(CaxtonError):
    """One or more problems in configuration files; each carries `path:line:col`."""

    exit_code = ExitCode.INVALID

    def __init__(self, problems: list[Problem], message: str | None = None) -> None:
        first = problems[0] if problems else None
        summary = message or (
            f"{first.location()}: {first.message}" if first else "invalid configuration"
        )
        super().__init__(summary, None)  # each problem carries its own hint
        self.problems = problems
