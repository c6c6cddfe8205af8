"""What a model call costs: a price table for well-known models, overridable in `caxton.toml`.

Prices are US dollars per million tokens, as the vendors publish them (standard tier, no batch
or cache discounts). They change: `[llm.prices."MODEL"]` in `caxton.toml` overrides or extends
this table. A model found nowhere has an unknown cost (None), never a guessed 0; a model served
from this machine (localhost) is free unless `[llm.prices]` names it (a local proxy in front of
a paid API, say).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping

from caxton.llm.base import Usage
from caxton.workspace.config import ModelPrice

_P = ModelPrice

DEFAULT_PRICES: dict[str, ModelPrice] = {
    # OpenAI
    "gpt-5": _P(1.25, 10.0),
    "gpt-5-mini": _P(0.25, 2.0),
    "gpt-5-nano": _P(0.05, 0.40),
    "gpt-4.1": _P(2.0, 8.0),
    "gpt-4.1-mini": _P(0.40, 1.60),
    "gpt-4.1-nano": _P(0.10, 0.40),
    "gpt-4o": _P(2.50, 10.0),
    "gpt-4o-mini": _P(0.15, 0.60),
    "chatgpt-4o-latest": _P(5.0, 15.0),
    "gpt-4-turbo": _P(10.0, 30.0),
    "gpt-4": _P(30.0, 60.0),
    "gpt-3.5-turbo": _P(0.50, 1.50),
    "o1": _P(15.0, 60.0),
    "o1-mini": _P(1.10, 4.40),
    "o1-pro": _P(150.0, 600.0),
    "o3": _P(2.0, 8.0),
    "o3-mini": _P(1.10, 4.40),
    "o3-pro": _P(20.0, 80.0),
    "o4-mini": _P(1.10, 4.40),
    # Anthropic (dated ids such as claude-sonnet-4-20250514 resolve to these)
    "claude-opus-4-5": _P(5.0, 25.0),
    "claude-opus-4-1": _P(15.0, 75.0),
    "claude-opus-4": _P(15.0, 75.0),
    "claude-opus-4-0": _P(15.0, 75.0),
    "claude-sonnet-4-5": _P(3.0, 15.0),
    "claude-sonnet-4": _P(3.0, 15.0),
    "claude-sonnet-4-0": _P(3.0, 15.0),
    "claude-haiku-4-5": _P(1.0, 5.0),
    "claude-3-7-sonnet": _P(3.0, 15.0),
    "claude-3-5-sonnet": _P(3.0, 15.0),
    "claude-3-5-haiku": _P(0.80, 4.0),
    "claude-3-opus": _P(15.0, 75.0),
    "claude-3-sonnet": _P(3.0, 15.0),
    "claude-3-haiku": _P(0.25, 1.25),
}

FREE = ModelPrice(0.0, 0.0)

_DATED = (
    re.compile(r"-v\d+(:\d+)?$"),  # Bedrock: ...-v1:0
    re.compile(r"-\d{4}-\d{2}-\d{2}$"),  # OpenAI: gpt-4o-2024-08-06
    re.compile(r"-\d{8}$"),  # Anthropic: claude-3-5-sonnet-20241022
    re.compile(r"@\d{8}$"),  # Vertex AI: claude-3-5-sonnet@20240620
    re.compile(r"-\d{4}$"),  # older OpenAI: gpt-4-0613, gpt-3.5-turbo-0125
    re.compile(r"-latest$"),  # aliases: claude-3-5-haiku-latest
)
_VENDOR = re.compile(r"^[a-z0-9_.-]+/")  # OpenRouter and friends: openai/gpt-4o
_VERSION_DOT = re.compile(r"(?<=\d)\.(?=\d)")  # OpenRouter: claude-3.5-sonnet


def candidates(model: str) -> Iterator[str]:
    """Names to look `model` up by, most specific first."""
    name = model.strip().lower()
    seen: set[str] = set()
    bases = [name]
    if _VENDOR.match(name):
        bases.append(_VENDOR.sub("", name, count=1))
    for base in bases:
        forms = [base]
        for pattern in _DATED:
            stripped = pattern.sub("", forms[-1])
            if stripped != forms[-1]:
                forms.append(stripped)
        forms += [_VERSION_DOT.sub("-", form) for form in forms if _VERSION_DOT.search(form)]
        for form in forms:
            if form and form not in seen:
                seen.add(form)
                yield form


def price_for(
    model: str, prices: Mapping[str, ModelPrice] | None = None, *, local: bool = False
) -> ModelPrice | None:
    """The price of `model`: the workspace's `[llm.prices]` first, then (for a local server)
    free, then the built-in table; None when unknown."""
    overrides = {k.strip().lower(): v for k, v in (prices or {}).items()}
    for name in candidates(model):
        if name in overrides:
            return overrides[name]
    if local:
        return FREE
    for name in candidates(model):
        if name in DEFAULT_PRICES:
            return DEFAULT_PRICES[name]
    return None


def cost_of(price: ModelPrice, usage: Usage) -> float:
    """US dollars for `usage` at `price`."""
    return (usage.input_tokens * price.input + usage.output_tokens * price.output) / 1_000_000


def cost_usd(
    model: str,
    usage: Usage,
    *,
    prices: Mapping[str, ModelPrice] | None = None,
    local: bool = False,
) -> float | None:
    """US dollars for `usage` of `model`, or None when its price is unknown."""
    price = price_for(model, prices, local=local)
    return None if price is None else cost_of(price, usage)
