"""Providers by name, keys from the environment, the forbid switch, the fallback chain."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from caxton.llm.anthropic import AnthropicProvider
from caxton.llm.base import (
    FORBID_ENV,
    LlmError,
    ModelRequest,
    ModelResponse,
    OnText,
    ProviderConfigError,
    RealRequestsForbidden,
)
from caxton.llm.openai import OpenAIProvider
from caxton.llm.providers import complete_with_fallback, provider_for, provider_settings
from caxton.llm.replay import ReplayProvider
from caxton.llm.testmodel import TestModel
from caxton.workspace.config import WorkspaceConfig
from caxton.workspace.schema import Checker
from tests.llm.conftest import KEY_ENV, ask, openai_at
from tests.llm.fake_servers import FakeServer, Reply, openai_completion, openai_stream


def config(toml: str) -> WorkspaceConfig:
    checker = Checker()
    built = checker.build(WorkspaceConfig, tomllib.loads('[workspace]\nname = "my-ws"\n' + toml))
    assert checker.issues == [] and built is not None
    return built


# ----- resolution -----------------------------------------------------------------------------


def test_builtin_providers() -> None:
    openai = provider_for("openai", None, None)
    assert isinstance(openai, OpenAIProvider)
    assert (openai.base_url, openai.api_key_env) == ("https://api.openai.com/v1", "OPENAI_API_KEY")
    assert openai.default_model == "gpt-4o-mini" and not openai.local
    anthropic = provider_for("anthropic", None, None)
    assert isinstance(anthropic, AnthropicProvider)
    assert anthropic.api_key_env == "ANTHROPIC_API_KEY"
    ollama = provider_for("ollama", None, None)
    assert isinstance(ollama, OpenAIProvider)
    assert (ollama.base_url, ollama.api_key_env, ollama.local) == (
        "http://localhost:11434/v1",
        None,
        True,
    )
    test = provider_for("test", None, None)
    assert isinstance(test, TestModel) and test.deterministic and test.name == "test"


def test_configured_providers() -> None:
    workspace = config(
        """
[llm.providers.local]
kind = "openai"
base_url = "http://localhost:8000/v1"
model = "Qwen/Qwen2.5-7B-Instruct"
timeout = "2m"

[llm.providers.openrouter]
kind = "openai"
base_url = "https://openrouter.ai/api/v1"
api_key_env = "OPENROUTER_API_KEY"
model = "anthropic/claude-3.5-sonnet"

[llm.providers.openai]
kind = "openai"
model = "gpt-4.1"

[llm.providers.claude]
kind = "anthropic"

[llm.providers.rerun]
kind = "replay"
cassette = "cassettes/session.jsonl"
"""
    )
    local = provider_settings("local", workspace)
    assert (local.api_key_env, local.model, local.default_model, local.timeout) == (
        None,
        "Qwen/Qwen2.5-7B-Instruct",
        None,
        120.0,
    )
    router = provider_settings("openrouter", workspace)
    assert (router.api_key_env, router.default_model) == ("OPENROUTER_API_KEY", None)
    # overriding a built-in keeps what it does not set
    openai = provider_settings("openai", workspace)
    assert (openai.base_url, openai.api_key_env, openai.model) == (
        "https://api.openai.com/v1",
        "OPENAI_API_KEY",
        "gpt-4.1",
    )
    claude = provider_settings("claude", workspace)
    assert (claude.base_url, claude.api_key_env) == (
        "https://api.anthropic.com",
        "ANTHROPIC_API_KEY",
    )
    rerun = provider_for("rerun", Path("/ws"), workspace)
    assert isinstance(rerun, ReplayProvider) and rerun.deterministic


def test_unknown_provider_names_the_known_ones() -> None:
    workspace = config(
        '[llm.providers.local]\nkind = "openai"\nbase_url = "http://localhost:1/v1"\n'
    )
    with pytest.raises(ProviderConfigError, match="unknown LLM provider 'gpt'") as caught:
        provider_for("gpt", None, workspace)
    assert caught.value.hint is not None
    assert "anthropic, local, ollama, openai, replay, test" in caught.value.hint


def test_replay_needs_a_cassette() -> None:
    with pytest.raises(ProviderConfigError, match="names no cassette") as caught:
        provider_for("replay", None, None)
    assert 'cassette = "cassettes/session.jsonl"' in (caught.value.hint or "")


# ----- keys, models, the forbid switch --------------------------------------------------------


def test_a_missing_key_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(FORBID_ENV)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(ProviderConfigError) as caught:
        provider_for("openai", None, None).complete(ask())  # before any network access
    error = caught.value
    assert error.message == (
        "no API key for provider 'openai': the environment variable OPENAI_API_KEY is not set"
    )
    assert error.hint is not None
    assert "`export OPENAI_API_KEY=...`" in error.hint and "`test` model" in error.hint


def test_the_key_is_read_when_asked(server: FakeServer, monkeypatch: pytest.MonkeyPatch) -> None:
    provider = openai_at(server)
    monkeypatch.setenv(KEY_ENV, "rotated-key")  # changed after the provider was built
    server.push(Reply(body=openai_completion("hi")))
    provider.complete(ask())
    assert server.requests[0].headers["authorization"] == "Bearer rotated-key"


def test_a_provider_without_a_model(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(FORBID_ENV)
    ollama = provider_for("ollama", None, None)
    with pytest.raises(ProviderConfigError, match="no model named for provider 'ollama'") as caught:
        ollama.complete(ask())
    assert "[llm.providers.ollama]" in (caught.value.hint or "")


def test_the_forbid_switch_stops_requests_before_the_network(
    server: FakeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(FORBID_ENV, "1")
    with pytest.raises(RealRequestsForbidden, match=f"{FORBID_ENV} is set") as caught:
        openai_at(server).complete(ask(), on_text=lambda _: None)
    assert server.requests == []
    assert "`test` or `replay`" in (caught.value.hint or "")


def test_the_forbid_switch_wins_over_a_missing_key(monkeypatch: pytest.MonkeyPatch) -> None:
    # the suite sets the switch and unsets the keys: the switch is the error to see
    with pytest.raises(RealRequestsForbidden):
        provider_for("anthropic", None, None).complete(ask())


# ----- fallback -------------------------------------------------------------------------------


def test_fallback_to_the_next_provider(server: FakeServer, sleeps: list[float]) -> None:
    second = FakeServer().start()
    try:
        server.push(
            Reply(500, {"error": {"message": "boom"}}),
            Reply(500, {"error": {"message": "boom"}}),
            Reply(500, {"error": {"message": "boom"}}),
        )
        second.push(Reply(body=openai_completion("from the backup", model="llama3.2")))
        main = openai_at(server, sleeps, name="main")
        backup = openai_at(second, name="backup", model="llama3.2")
        response = complete_with_fallback([main, backup], ask(model="gpt-4o"))
    finally:
        second.stop()
    assert (response.provider, response.message.content) == ("backup", "from the backup")
    (failed,) = response.extra["fallback_errors"]
    assert failed["provider"] == "main" and failed["kind"] == "LlmError"
    assert "HTTP 500: boom" in failed["error"] and "gave up after 3 attempts" in failed["error"]
    assert server.requests[0].body["model"] == "gpt-4o"
    assert second.requests[0].body["model"] == "llama3.2"  # the agent's model is for the main one


def test_no_fallback_once_text_was_streamed(server: FakeServer) -> None:
    second = FakeServer().start()
    try:
        server.push(Reply(events=openai_stream(["Hel", "lo"]), cut_after=3))
        pieces: list[str] = []
        with pytest.raises(LlmError, match="stream ended early"):
            complete_with_fallback(
                [openai_at(server), openai_at(second, name="backup")], ask(), on_text=pieces.append
            )
    finally:
        second.stop()
    assert pieces == ["Hel"] and second.requests == []


def test_when_every_provider_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(FORBID_ENV)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    chain = [provider_for("openai", None, None), provider_for("anthropic", None, None)]
    with pytest.raises(ProviderConfigError) as caught:
        complete_with_fallback(chain, ask())
    error = caught.value
    assert error.message.startswith("no provider answered ('openai': no API key")
    assert "'anthropic': no API key" in error.message
    assert "export OPENAI_API_KEY" in (error.hint or "")


def test_a_forbidden_provider_falls_back_to_the_test_model() -> None:
    response = complete_with_fallback([provider_for("openai", None, None), TestModel()], ask())
    assert response.deterministic and response.provider == "test"
    assert response.extra["fallback_errors"][0]["kind"] == "RealRequestsForbidden"


def test_a_single_provider_raises_its_own_error() -> None:
    with pytest.raises(RealRequestsForbidden, match="provider 'openai' was not called"):
        complete_with_fallback([provider_for("openai", None, None)], ask())


def test_errors_that_are_not_model_errors_propagate() -> None:
    class Broken:
        name = "broken"
        deterministic = True

        def complete(
            self,
            request: ModelRequest,
            *,
            on_text: OnText | None = None,
            deadline: float | None = None,
        ) -> ModelResponse:
            raise KeyError("a bug")

    with pytest.raises(KeyError):
        complete_with_fallback([Broken(), TestModel()], ask())
