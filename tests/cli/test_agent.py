"""`caxton agent list|show|set`, read offline from the workspace files."""

from __future__ import annotations

import json
from pathlib import Path

from caxton.errors import ExitCode
from tests.conftest import Cli


def test_list_shows_agents_and_their_status(workspace: Path, cli: Cli) -> None:
    assert cli("init", "analyst", "-t", "data-analyzer").code == 0
    (workspace / "agents" / "broken.toml").write_text('name = "broken"\n')
    result = cli("agent", "list")
    assert result.code == 0
    lines = result.out.splitlines()
    assert lines[0].split() == ["NAME", "CAPABILITIES", "TOOLS", "STATUS", "FILE"]
    assert lines[1].startswith("analyst ") and " valid " in lines[1]
    assert lines[3].startswith("broken ") and " invalid " in lines[3]
    assert "1 invalid agent" in result.err


def test_list_json(workspace: Path, cli: Cli) -> None:
    data = json.loads(cli("agent", "list", "--json").out)
    assert [a["name"] for a in data] == ["assistant"]
    assert data[0]["status"] == "valid"
    assert data[0]["config"]["limits"]["timeout"].endswith("s")
    assert data[0]["file"] == "agents/assistant.toml"


def test_show(workspace: Path, cli: Cli) -> None:
    result = cli("agent", "show", "assistant")
    assert result.code == 0
    assert result.out.startswith("assistant 0.1.0")
    assert "test (workspace default)" in result.out
    data = json.loads(cli("agent", "show", "assistant", "--json").out)
    assert "delegate" in data["config"]["tools"]


def test_show_unknown_agent_suggests(workspace: Path, cli: Cli) -> None:
    result = cli("agent", "show", "asistant")
    assert result.code == ExitCode.NOT_FOUND
    assert "did you mean 'assistant'?" in result.err


def test_set_keeps_comments_and_layout(workspace: Path, cli: Cli) -> None:
    path = workspace / "agents" / "assistant.toml"
    before = path.read_text()
    assert cli("agent", "set", "assistant", "llm.temperature", "0.9").code == 0
    after = path.read_text()
    changed = [
        (a, b) for a, b in zip(before.splitlines(), after.splitlines(), strict=True) if a != b
    ]
    assert len(changed) == 1
    assert changed[0][1].startswith("temperature = 0.9")
    assert after.startswith("# assistant: the starter agent")


def test_set_adds_a_top_level_key_above_the_tables(workspace: Path, cli: Cli) -> None:
    assert cli("agent", "set", "assistant", "version", "1.2.3").code == 0
    assert cli("validate").code == 0
    assert json.loads(cli("agent", "show", "assistant", "--json").out)["config"]["version"] == (
        "1.2.3"
    )


def test_set_refuses_an_invalid_result_and_changes_nothing(workspace: Path, cli: Cli) -> None:
    path = workspace / "agents" / "assistant.toml"
    before = path.read_text()
    result = cli("agent", "set", "assistant", "llm.temperature", "5")
    assert result.code == ExitCode.INVALID
    assert "out of range" in result.err
    assert "the file was not changed" in result.err
    result = cli("agent", "set", "assistant", "tools", '["no_such_tool"]')
    assert result.code == ExitCode.INVALID
    assert path.read_text() == before
    assert not list(path.parent.glob(".*caxton-*"))


def test_no_agents(workspace: Path, cli: Cli) -> None:
    (workspace / "agents" / "assistant.toml").unlink()
    result = cli("agent", "list")
    assert result.code == 0
    assert "no agents yet" in result.err
