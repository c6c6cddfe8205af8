"""The capability router over the ten template agents, with the shipped model."""

from __future__ import annotations

import pytest

from caxton.memory.embedder import Embedder
from caxton.routing.router import AgentProfile, Router
from caxton.routing.workspace import profile
from caxton.workspace.templates import template_agents


def profiles() -> list[AgentProfile]:
    return [profile(config) for config in template_agents()]


@pytest.fixture
def router(embedder: Embedder) -> Router:
    r = Router(embedder)
    r.update(profiles())
    return r


@pytest.mark.parametrize(
    ("request_text", "agent"),
    [
        ("compute the average and median order value in sales.csv", "data-analyzer"),
        ("review this pull request for bugs and security problems", "code-reviewer"),
        ("write a blog post announcing our new pricing", "content-generator"),
        ("validate the orders file against the JSON schema", "data-validator"),
        ("is the api latency high? check service health", "system-monitor"),
        ("write the README for this library", "documentation-builder"),
    ],
)
def test_obvious_requests(router: Router, request_text: str, agent: str) -> None:
    result = router.route(request_text)
    assert result.chosen == agent, result.reason
    assert result.candidates[0].agent == agent
    assert result.method == "embedding"
    assert agent in result.reason


def test_off_topic_gets_no_agent(router: Router) -> None:
    result = router.route("what is a good recipe for banana bread?")
    assert result.chosen is None
    assert result.reason.startswith("no agent fits")
    assert result.candidates  # still ranked, for the curious


def test_explanations_name_the_capability(router: Router) -> None:
    best = router.route("find flaky tests in last night's test report").candidates[0]
    assert best.best_capability is not None
    assert best.best_capability in best.explain()


def test_repeated_requests_come_from_the_cache(router: Router) -> None:
    first = router.route("Review my diff please")
    again = router.route("  review my DIFF please ")
    assert not first.cached and again.cached
    assert again.chosen == first.chosen


def test_updates_embed_only_what_changed(router: Router) -> None:
    changed = AgentProfile(
        "data-analyzer",
        ("weather-forecasting",),
        "Forecasts the weather.",
        ("will it rain tomorrow?", "weather forecast for the weekend in Porto"),
    )
    edited = [changed if p.name == "data-analyzer" else p for p in profiles()]
    assert router.update(edited) == 1
    assert router.route("will it rain in Lisbon tomorrow?").chosen == "data-analyzer"
    assert router.update(edited) == 0
    fewer = [p for p in edited if p.name != "api-client"]
    assert router.update(fewer) == 0
    assert "api-client" not in [c.agent for c in router.route("call the api", top=10).candidates]


def test_keyword_fallback_without_a_model() -> None:
    router = Router(None)
    router.update(profiles())
    result = router.route("please do a code review of this diff")
    assert result.method == "keyword"
    assert result.chosen == "code-reviewer"
    assert "keyword fallback" in result.reason
    assert router.route("zzz qqq").chosen is None


def test_no_agents() -> None:
    router = Router(None)
    router.update([])
    result = router.route("anything")
    assert result.chosen is None and "no agents" in result.reason
