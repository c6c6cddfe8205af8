"""Fixtures for provider tests: a scripted fake API server, fast retries, a fake key."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from caxton.llm.anthropic import AnthropicProvider
from caxton.llm.base import FORBID_ENV, Message, ModelRequest, ToolSpec
from caxton.llm.http import RetryPolicy
from caxton.llm.openai import OpenAIProvider
from tests.llm.fake_servers import FakeServer

KEY = "sk-test-0123456789abcdef-SECRET"
KEY_ENV = "CAXTON_FAKE_KEY"
FAST = RetryPolicy(attempts=3, base_delay=0.01, max_delay=0.02, connect_timeout=2.0)

WEATHER = ToolSpec(
    "get_weather",
    "The weather in a city.",
    {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
)


def ask(text: str = "Say hello.", **kw: Any) -> ModelRequest:
    return ModelRequest((Message("system", "Be brief."), Message("user", text)), **kw)


@pytest.fixture
def live(monkeypatch: pytest.MonkeyPatch) -> None:
    """Real requests allowed (to the loopback fake server only: tests/conftest.py guards the
    network), with a key in the environment."""
    monkeypatch.delenv(FORBID_ENV, raising=False)
    monkeypatch.setenv(KEY_ENV, KEY)


@pytest.fixture
def server(live: None) -> Iterator[FakeServer]:
    fake = FakeServer().start()
    yield fake
    fake.stop()


@pytest.fixture
def sleeps() -> list[float]:
    """Waits the providers asked for, recorded instead of slept."""
    return []


def openai_at(server: FakeServer, sleeps: list[float] | None = None, **kw: Any) -> OpenAIProvider:
    name = kw.pop("name", "fake-openai")
    options: dict[str, Any] = {
        "base_url": f"{server.url}/v1",
        "model": "gpt-4o",
        "api_key_env": KEY_ENV,
        "retry": FAST,
        "timeout": 5.0,
    }
    if sleeps is not None:
        options["sleep"] = sleeps.append
    options.update(kw)
    return OpenAIProvider(name, **options)


def anthropic_at(
    server: FakeServer, sleeps: list[float] | None = None, **kw: Any
) -> AnthropicProvider:
    options: dict[str, Any] = {
        "base_url": server.url,
        "model": "claude-sonnet-4-5",
        "api_key_env": KEY_ENV,
        "retry": FAST,
        "timeout": 5.0,
    }
    if sleeps is not None:
        options["sleep"] = sleeps.append
    options.update(kw)
    return AnthropicProvider("fake-anthropic", **options)
