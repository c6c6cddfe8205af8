"""The README's two first commands stay true: CI runs exactly the documented test command."""

from __future__ import annotations

import re
from pathlib import Path

from caxton.errors import ExitCode

ROOT = Path(__file__).parent.parent


def readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    head = text[: text.index("## Quickstart")]
    return re.findall(r"```sh\n(.+?)\n```", head)[:2]  # the first two; more may follow


def test_the_first_two_commands_install_and_run() -> None:
    main_job, tests = readme_commands()
    assert main_job == "pip install . && caxton quickstart"
    assert tests.startswith("pip install -e '.[dev]' && ") and tests.endswith("pytest")


def test_ci_runs_exactly_the_readme_test_command() -> None:
    _, tests = readme_commands()
    script = (ROOT / ".ci" / "run").read_text().splitlines()
    assert script[-1] == tests


def test_exit_code_table_matches_the_enum() -> None:
    text = (ROOT / "README.md").read_text()
    table = dict(re.findall(r"^\| (\d+) \| (.+) \|$", text, flags=re.MULTILINE))
    assert {int(code) for code in table} == {int(code) for code in ExitCode}
