"""`caxton template list|show` and the quality bar every template must meet."""

from __future__ import annotations

import json
import re
import tomllib

import pytest

from caxton.agents.check import PLACEHOLDER
from caxton.errors import ExitCode
from caxton.tools.catalog import BUILTIN_TOOL_NAMES
from caxton.workspace.templates import load_template, template_names
from tests.conftest import Cli

EXPECTED = {
    "data-analyzer",
    "code-reviewer",
    "task-automator",
    "api-client",
    "content-generator",
    "data-validator",
    "system-monitor",
    "test-runner",
    "documentation-builder",
    "pipeline-coordinator",
}


def test_the_ten_templates_ship() -> None:
    assert set(template_names()) == EXPECTED


def test_list(cli: Cli) -> None:
    result = cli("template", "list")
    assert result.code == 0
    names = [line.split()[0] for line in result.out.splitlines()[1:]]
    assert set(names) == EXPECTED
    data = json.loads(cli("template", "list", "--json").out)
    assert {t["name"] for t in data} == EXPECTED
    assert all(t["capabilities"] and t["description"] for t in data)


def test_show(cli: Cli) -> None:
    result = cli("template", "show", "code-reviewer")
    assert result.code == 0
    assert result.out.startswith("code-reviewer: ")
    assert "capabilities:" in result.out
    raw = cli("template", "show", "code-reviewer", "--toml").out
    assert raw.startswith("# {{agent_name}}")
    tomllib.loads(raw)


def test_show_unknown(cli: Cli) -> None:
    result = cli("template", "show", "code-review")
    assert result.code == ExitCode.NOT_FOUND
    assert "did you mean 'code-reviewer'?" in result.err


def test_capabilities_are_distinct_across_templates() -> None:
    seen: dict[str, str] = {}
    for name in template_names():
        for capability in load_template(name).capabilities:
            assert capability not in seen, f"{capability} in {name} and {seen[capability]}"
            seen[capability] = name


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_template_is_substantial(name: str) -> None:
    template = load_template(name)
    data = tomllib.loads(template.text)
    assert len(data["system_prompt"].splitlines()) >= 20
    assert len(data["documentation"].splitlines()) >= 15
    assert 3 <= len(data["capabilities"]) <= 6
    assert set(data["tools"]) <= BUILTIN_TOOL_NAMES
    for tool in data["tools"]:
        assert tool in data["system_prompt"], f"{name}'s prompt never explains {tool}"
    for param in data["parameters"]:
        used = re.search(
            r"\{\{\s*" + param + r"\s*\}\}", data["system_prompt"] + data["user_prompt_template"]
        )
        assert used, f"{name}: parameter {param} is never used"
    assert any(m[1] == "request" for m in PLACEHOLDER.finditer(data["user_prompt_template"]))
