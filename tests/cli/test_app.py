"""The `caxton` entry point: version, help, usage errors, and bugs versus user mistakes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from caxton import __version__
from caxton.errors import ExitCode
from tests.conftest import Cli


def test_version(cli: Cli) -> None:
    result = cli("--version")
    assert (result.code, result.out) == (0, f"caxton {__version__}\n")


def test_help_lists_every_command(cli: Cli) -> None:
    result = cli("--help")
    assert result.code == 0
    for command in ("init", "validate", "agent", "template", "schema"):
        assert command in result.out


def test_no_arguments_shows_help(cli: Cli) -> None:
    result = cli()
    assert "Usage" in result.out + result.err


def test_unknown_command_is_a_usage_error(cli: Cli) -> None:
    result = cli("deploi")
    assert result.code == ExitCode.USAGE
    assert "deploi" in result.err


def test_a_bug_is_reported_without_traceback_unless_verbose(
    workspace: Path, cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr("caxton.workspace.validate.validate_paths", broken)
    quiet = cli("validate")
    assert quiet.code == ExitCode.INTERNAL
    assert "internal error: RuntimeError: boom" in quiet.err
    assert "Traceback" not in quiet.err
    assert "--verbose" in quiet.err
    loud = cli("--verbose", "validate")
    assert loud.code == ExitCode.INTERNAL
    assert "Traceback" in loud.err


def test_user_mistakes_never_show_a_traceback(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "caxton", "validate"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == ExitCode.NOT_FOUND
    assert done.stdout == ""
    assert done.stderr.startswith("error: no Caxton workspace")
    assert "Traceback" not in done.stderr


def test_no_color_when_asked(workspace: Path, cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FORCE_COLOR", "1")
    assert "\x1b[" in cli("init", "x", "--template", "nope").err
    monkeypatch.setenv("NO_COLOR", "1")
    assert "\x1b[" not in cli("init", "x", "--template", "nope").err
