"""Routing over a real workspace: the `[routing] fallback` agent takes what no agent fits."""

from __future__ import annotations

from pathlib import Path

import pytest

from caxton.routing.router import Router
from caxton.routing.workspace import profile, route_in_workspace, with_fallback
from caxton.workspace.templates import template_agents
from tests.conftest import Cli

FALLBACK_LINE = 'fallback = "assistant"\n'


def drop_fallback(root: Path) -> None:
    config = root / "caxton.toml"
    text = config.read_text()
    assert FALLBACK_LINE in text  # `caxton init` wrote it
    config.write_text(text.replace(FALLBACK_LINE, ""))


@pytest.mark.parametrize("request_text", ["hello", "what is 2+2?", "thanks!"])
def test_a_fresh_workspace_gives_general_requests_to_the_assistant(
    workspace: Path, request_text: str
) -> None:
    result = route_in_workspace(workspace, request_text).result
    assert result.chosen == "assistant" and result.method == "fallback"
    best = result.candidates[0]
    assert best.score < result.threshold  # it was below the threshold: no agent fits
    assert result.reason == (
        f"no agent fits (best: {best.agent!r} {best.score:.2f} < {result.threshold:.2f}): "
        "the workspace's fallback agent 'assistant'"
    )
    assert result.fallback_problem is None


def test_a_request_that_fits_still_goes_to_the_agent_it_fits(workspace: Path, cli: Cli) -> None:
    assert cli("init", "reviewer", "--template", "code-reviewer").code == 0
    result = route_in_workspace(workspace, "review this pull request for security bugs").result
    assert result.chosen == "reviewer" and result.method == "embedding"
    assert result.candidates[0].score >= result.threshold
    off_topic = route_in_workspace(workspace, "what is a good recipe for banana bread?").result
    assert off_topic.chosen == "assistant" and off_topic.method == "fallback"


def test_without_a_fallback_no_agent_fits(workspace: Path) -> None:
    drop_fallback(workspace)
    result = route_in_workspace(workspace, "hello").result
    assert result.chosen is None and result.method == "embedding"
    assert result.reason.startswith("no agent fits: the best, 'assistant', scores")
    assert result.fallback_problem is None


def test_an_invalid_fallback_takes_nothing_and_says_why(workspace: Path) -> None:
    assistant = workspace / "agents" / "assistant.toml"
    assistant.write_text(assistant.read_text().replace("capabilities = [", "capabilitys = ["))
    outcome = route_in_workspace(workspace, "hello")
    assert outcome.result.chosen is None and outcome.skipped == ["assistant"]
    assert outcome.result.fallback_problem == (
        "the workspace's fallback agent 'assistant' cannot take it: it is invalid: "
        "agents/assistant.toml:1:1: missing required key 'capabilities' in the top level"
    )
    config = workspace / "caxton.toml"
    config.write_text(config.read_text().replace(FALLBACK_LINE, 'fallback = "nobody"\n'))
    assert route_in_workspace(workspace, "hello").result.fallback_problem == (
        "the workspace's fallback agent 'nobody' cannot take it: no agent has that name"
    )


def test_keyword_routing_says_so_when_the_fallback_takes_a_request() -> None:
    router = Router(None)
    router.update([profile(config) for config in template_agents()])
    raw = router.route("zzz qqq")
    names = [c.agent for c in raw.candidates]
    result = with_fallback(raw, "code-reviewer", names, {})
    assert result.chosen == "code-reviewer" and result.method == "fallback"
    assert result.reason.endswith("; routing by keywords only: no embedding model")
    assert router.route("zzz qqq").chosen is None  # the router's cached answer is untouched


def test_a_routed_answer_or_no_fallback_is_left_as_it_is() -> None:
    router = Router(None)
    router.update([profile(config) for config in template_agents()])
    fits = router.route("please do a code review of this diff")
    assert with_fallback(fits, "data-analyzer", ["data-analyzer"], {}) is fits
    nothing = router.route("zzz qqq")
    assert with_fallback(nothing, None, [], {}) is nothing
