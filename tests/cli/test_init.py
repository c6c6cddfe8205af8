"""`caxton init`: workspaces and agents from templates, and every way it refuses."""

from __future__ import annotations

import subprocess
import tomllib
from pathlib import Path

import pytest

from caxton.errors import ExitCode
from caxton.workspace.templates import template_names
from tests.conftest import Cli

SKELETON = ["caxton.toml", "README.md", ".gitignore", "tools/README.md", "agents/assistant.toml"]


def test_init_creates_a_valid_workspace_and_git_repo(tmp_path: Path, cli: Cli) -> None:
    result = cli("init", "my-agents", cwd=tmp_path)
    root = tmp_path / "my-agents"
    assert result.code == 0, result.err
    for name in SKELETON:
        assert (root / name).is_file(), name
    assert ".caxton/" in (root / ".gitignore").read_text()
    config = tomllib.loads((root / "caxton.toml").read_text())
    assert config["workspace"]["name"] == "my-agents"
    assert "{{" not in (root / "caxton.toml").read_text()
    # what no agent fits goes to the starter agent, which the skeleton creates
    assert config["routing"] == {"fallback": "assistant"}
    starter = tomllib.loads((root / "agents" / "assistant.toml").read_text())
    assert starter["name"] == config["routing"]["fallback"]
    assert (root / ".git").is_dir()
    assert "new git repository" in result.err
    assert cli("validate", cwd=root).code == 0


def test_init_in_current_directory_uses_the_folder_name(tmp_path: Path, cli: Cli) -> None:
    folder = tmp_path / "Mon Équipe"
    folder.mkdir()
    assert cli("init", cwd=folder).code == 0
    config = tomllib.loads((folder / "caxton.toml").read_text())
    assert config["workspace"]["name"] == "mon-equipe"


def test_init_inside_an_existing_git_repo_does_not_nest_a_repo(tmp_path: Path, cli: Cli) -> None:
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    result = cli("init", "sub", cwd=tmp_path)
    assert result.code == 0
    assert not (tmp_path / "sub" / ".git").exists()
    assert "new git repository" not in result.err


def test_init_refuses_to_overwrite_and_names_the_files(tmp_path: Path, cli: Cli) -> None:
    (tmp_path / "README.md").write_text("mine\n")
    (tmp_path / "agents").mkdir()
    (tmp_path / "agents" / "assistant.toml").write_text("# mine\n")
    result = cli("init", cwd=tmp_path)
    assert result.code == ExitCode.CONFLICT
    assert "README.md" in result.err and "assistant.toml" in result.err
    assert "hint: pass `--force`" in result.err
    assert (tmp_path / "README.md").read_text() == "mine\n"
    assert not (tmp_path / "caxton.toml").exists(), "nothing may be half-written"


def test_init_force_overwrites(tmp_path: Path, cli: Cli) -> None:
    (tmp_path / "README.md").write_text("mine\n")
    assert cli("init", "--force", cwd=tmp_path).code == 0
    assert "mine" not in (tmp_path / "README.md").read_text()


def test_init_inside_a_workspace_is_refused_with_the_agent_hint(workspace: Path, cli: Cli) -> None:
    result = cli("init", cwd=workspace)
    assert result.code == ExitCode.CONFLICT
    assert "already a Caxton workspace" in result.err
    assert "caxton init NAME --template TEMPLATE" in result.err
    nested = cli("init", "inner", cwd=workspace)
    assert nested.code == ExitCode.CONFLICT
    assert "inside the workspace" in nested.err
    assert not (workspace / "inner").exists()


def test_init_where_a_file_stands(tmp_path: Path, cli: Cli) -> None:
    (tmp_path / "taken").write_text("x")
    result = cli("init", "taken", cwd=tmp_path)
    assert result.code == ExitCode.CONFLICT
    assert "not a folder" in result.err


def test_init_with_a_directory_where_a_file_goes(tmp_path: Path, cli: Cli) -> None:
    (tmp_path / "caxton.toml").mkdir()
    result = cli("init", "--force", cwd=tmp_path)
    assert result.code == ExitCode.CONFLICT
    assert "a directory is there" in result.err
    assert not (tmp_path / "README.md").exists()


@pytest.mark.parametrize(
    ("name", "suggestion"),
    [("my agent", "my-agent"), ("Ünïcode-Agent", "unicode-agent"), ("x", None), ("9lives", None)],
)
def test_bad_agent_names_are_refused_with_a_suggestion(
    workspace: Path, cli: Cli, name: str, suggestion: str | None
) -> None:
    result = cli("init", name, "--template", "data-analyzer")
    assert result.code == ExitCode.USAGE
    assert f"agent name {name!r} is not valid" in result.err
    if suggestion:
        assert f"hint: try {suggestion!r}" in result.err
    assert sorted(p.name for p in (workspace / "agents").iterdir()) == ["assistant.toml"]


def test_bad_workspace_name(tmp_path: Path, cli: Cli) -> None:
    result = cli("init", "ws", "--name", "My Workspace", cwd=tmp_path)
    assert result.code == ExitCode.USAGE
    assert "hint: try 'my-workspace'" in result.err
    assert not (tmp_path / "ws").exists()
    underivable = tmp_path / "日本"
    underivable.mkdir()
    result = cli("init", cwd=underivable)
    assert result.code == ExitCode.USAGE
    assert "--name" in result.err


@pytest.mark.parametrize("template", template_names())
def test_every_template_makes_a_valid_agent(workspace: Path, cli: Cli, template: str) -> None:
    result = cli("init", "helper", "--template", template)
    assert result.code == 0, result.err
    text = (workspace / "agents" / "helper.toml").read_text()
    assert 'name = "helper"' in text
    for variable in ("{{agent_name}}", "{{created_at}}", "{{caxton_version}}"):
        assert variable not in text
    validated = cli("validate", "--json")
    assert validated.code == 0, validated.out
    assert '"problems": []' in validated.out


def test_agent_from_a_subfolder_finds_the_workspace(workspace: Path, cli: Cli) -> None:
    result = cli("init", "analyst", "-t", "data-analyzer", cwd=workspace / "tools")
    assert result.code == 0, result.err
    assert (workspace / "agents" / "analyst.toml").is_file()


def test_unknown_template_lists_the_available_ones(workspace: Path, cli: Cli) -> None:
    result = cli("init", "analyst", "--template", "data-analyser")
    assert result.code == ExitCode.NOT_FOUND
    assert "did you mean 'data-analyzer'?" in result.err
    for name in template_names():
        assert name in result.err


def test_agent_outside_a_workspace(tmp_path: Path, cli: Cli) -> None:
    result = cli("init", "analyst", "--template", "data-analyzer", cwd=tmp_path)
    assert result.code == ExitCode.NOT_FOUND
    assert "not inside a Caxton workspace" in result.err
    assert "hint: create a workspace first" in result.err


def test_agent_file_exists(workspace: Path, cli: Cli) -> None:
    result = cli("init", "assistant", "--template", "code-reviewer")
    assert result.code == ExitCode.CONFLICT
    assert "assistant" in result.err
    assert "general-assistance" in (workspace / "agents" / "assistant.toml").read_text()
    assert cli("init", "assistant", "--template", "code-reviewer", "--force").code == 0
    assert "code-review" in (workspace / "agents" / "assistant.toml").read_text()


def test_agent_name_taken_by_another_file(workspace: Path, cli: Cli) -> None:
    (workspace / "agents" / "helper.toml").write_text(
        (workspace / "agents" / "assistant.toml")
        .read_text()
        .replace('name = "assistant"', 'name = "reviewer"')
    )
    result = cli("init", "reviewer", "--template", "code-reviewer")
    assert result.code == ExitCode.CONFLICT
    assert "agents/helper.toml" in result.err
    assert not (workspace / "agents" / "reviewer.toml").exists()


def test_template_needs_a_name(workspace: Path, cli: Cli) -> None:
    result = cli("init", "--template", "code-reviewer")
    assert result.code == ExitCode.USAGE
    assert "an agent needs a name" in result.err
