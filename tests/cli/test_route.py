"""`caxton route`: the fallback agent of `[routing]` shown as what it is, in text and JSON."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import Cli


def test_hello_goes_to_the_fallback_and_says_so(workspace: Path, cli: Cli) -> None:
    result = cli("route", "hello")
    assert result.code == 0, result.err
    assert result.out == "assistant\n"  # stdout: the chosen agent alone, for scripts
    lines = result.err.splitlines()
    assert lines[0].startswith("no agent fits (best: 'assistant' 0.")
    assert lines[0].endswith("< 0.46): the workspace's fallback agent 'assistant'")
    assert lines[1].startswith(" → assistant ")
    data = json.loads(cli("route", "hello", "--json").out)
    assert data["chosen"] == "assistant" and data["method"] == "fallback"
    assert data["reason"] == lines[0] and data["threshold"] == 0.46
    assert data["candidates"][0]["agent"] == "assistant"
    assert data["candidates"][0]["score"] < data["threshold"]
    assert data["fallback_problem"] is None and data["skipped_invalid"] == []


def test_a_request_that_fits_is_routed_as_before(workspace: Path, cli: Cli) -> None:
    assert cli("init", "reviewer", "-t", "code-reviewer").code == 0
    data = json.loads(cli("route", "review my pull request for bugs", "--json").out)
    assert data["chosen"] == "reviewer" and data["method"] == "embedding"
    assert data["reason"].startswith("'reviewer' scores")


def test_without_a_fallback_no_agent_fits(workspace: Path, cli: Cli) -> None:
    config = workspace / "caxton.toml"
    config.write_text(config.read_text().replace('fallback = "assistant"\n', ""))
    result = cli("route", "hello")
    assert result.code == 0
    assert result.out == "(no agent fits)\n"
    assert "no agent fits: the best, 'assistant'" in result.err and "fallback" not in result.err
    data = json.loads(cli("route", "hello", "--json").out)
    assert data["chosen"] is None and data["method"] == "embedding"


def test_a_broken_fallback_is_named(workspace: Path, cli: Cli) -> None:
    config = workspace / "caxton.toml"
    config.write_text(config.read_text().replace('"assistant"', '"assistent"'))
    result = cli("route", "hello")
    assert result.out == "(no agent fits)\n"
    assert (
        "warning: the workspace's fallback agent 'assistent' cannot take it: "
        "no agent has that name\nhint: `caxton validate` says what is wrong"
    ) in result.err
    data = json.loads(cli("route", "hello", "--json").out)
    assert data["chosen"] is None
    assert data["fallback_problem"].endswith("no agent has that name")
