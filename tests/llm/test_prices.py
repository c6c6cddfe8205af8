"""The price table: lookups tolerant of dated names, overrides from caxton.toml, local = free."""

from __future__ import annotations

import tomllib

import pytest

from caxton.llm.base import Usage
from caxton.llm.prices import FREE, candidates, cost_usd, price_for
from caxton.workspace.config import ModelPrice, WorkspaceConfig
from caxton.workspace.schema import Checker


@pytest.mark.parametrize(
    ("model", "known_as"),
    [
        ("gpt-4o", "gpt-4o"),
        ("gpt-4o-2024-08-06", "gpt-4o"),
        ("gpt-4o-mini-2024-07-18", "gpt-4o-mini"),
        ("GPT-4.1-mini", "gpt-4.1-mini"),
        ("gpt-4-0613", "gpt-4"),
        ("o3-mini-2025-01-31", "o3-mini"),
        ("openai/gpt-4o", "gpt-4o"),
        ("claude-3-5-sonnet-20241022", "claude-3-5-sonnet"),
        ("claude-3-5-haiku-latest", "claude-3-5-haiku"),
        ("claude-sonnet-4-20250514", "claude-sonnet-4"),
        ("claude-opus-4-1-20250805", "claude-opus-4-1"),
        ("anthropic/claude-3.5-sonnet", "claude-3-5-sonnet"),
        ("claude-3-5-sonnet@20240620", "claude-3-5-sonnet"),
        ("claude-3-5-sonnet-20241022-v2:0", "claude-3-5-sonnet"),
    ],
)
def test_dated_and_prefixed_names_find_their_model(model: str, known_as: str) -> None:
    assert price_for(model) == price_for(known_as) is not None


def test_the_table_has_what_the_docs_promise() -> None:
    assert price_for("gpt-4o") == ModelPrice(2.5, 10.0)
    assert price_for("gpt-4o-mini") == ModelPrice(0.15, 0.6)
    assert price_for("claude-sonnet-4-5") == ModelPrice(3.0, 15.0)


def test_unknown_models_have_no_price() -> None:
    for model in ("llama3.2", "gpt-4o-audio-preview", "my-finetune", "qwen2.5:7b"):
        assert price_for(model) is None, model
        assert cost_usd(model, Usage(100, 100)) is None


def test_candidates_are_most_specific_first() -> None:
    assert list(candidates("openai/gpt-4o-2024-08-06")) == [
        "openai/gpt-4o-2024-08-06",
        "openai/gpt-4o",
        "gpt-4o-2024-08-06",
        "gpt-4o",
    ]


def test_overrides_win_and_extend() -> None:
    prices = {"gpt-4o": ModelPrice(1.0, 2.0), "My-Model": ModelPrice(0.5, 0.5)}
    assert price_for("gpt-4o-2024-08-06", prices) == ModelPrice(1.0, 2.0)
    assert price_for("my-model", prices) == ModelPrice(0.5, 0.5)
    assert price_for("gpt-4o-mini", prices) == ModelPrice(0.15, 0.6)  # untouched


def test_local_servers_are_free_unless_priced() -> None:
    assert price_for("llama3.2", local=True) == FREE
    assert price_for("gpt-4o", local=True) == FREE  # llama.cpp answers as "gpt-3.5-turbo" too
    proxy = {"gpt-4o": ModelPrice(2.5, 10.0)}
    assert price_for("gpt-4o", proxy, local=True) == ModelPrice(2.5, 10.0)


def test_cost_from_usage() -> None:
    assert cost_usd("gpt-4o", Usage(1_000_000, 0)) == pytest.approx(2.5)
    assert cost_usd("gpt-4o", Usage(1200, 300)) == pytest.approx((1200 * 2.5 + 300 * 10) / 1e6)
    assert cost_usd("claude-3-haiku-20240307", Usage(4000, 1000)) == pytest.approx(0.00225)
    assert cost_usd("llama3.2", Usage(10**6, 10**6), local=True) == 0.0


def check(toml: str) -> tuple[WorkspaceConfig | None, list[str]]:
    checker = Checker()
    built = checker.build(WorkspaceConfig, tomllib.loads('[workspace]\nname = "my-ws"\n' + toml))
    return built, [issue.message for issue in checker.issues]


def test_prices_in_caxton_toml() -> None:
    built, issues = check(
        '[llm.prices."gpt-4o"]\ninput = 2\noutput = 8.5\n'
        '[llm.prices."openai/gpt-4.1"]\ninput = 1.5\noutput = 6.0\n'
    )
    assert issues == [] and built is not None
    assert built.llm.prices == {
        "gpt-4o": ModelPrice(2.0, 8.5),
        "openai/gpt-4.1": ModelPrice(1.5, 6.0),
    }


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        (
            '[llm.prices."gpt-4o"]\ninput = -1\noutput = 1\n',
            "llm.prices.gpt-4o.input is -1.0, out of range",
        ),
        (
            '[llm.prices."gpt-4o"]\ninput = 1\n',
            "missing required key 'output' in [llm.prices.gpt-4o]",
        ),
        (
            '[llm.prices."gpt-4o"]\ninput = "2.5"\noutput = 1\n',
            "llm.prices.gpt-4o.input must be a number, not a string",
        ),
        (
            '[llm.prices."gpt 4o"]\ninput = 1\noutput = 1\n',
            "name 'gpt 4o' in [llm.prices] is not valid",
        ),
    ],
)
def test_bad_prices_are_reported(toml: str, message: str) -> None:
    _, issues = check(toml)
    assert issues == [message]
