"""Providers by name (built-in or `[llm.providers.NAME]`), and the fallback chain.

A name resolves to settings in one place: `[llm.providers.NAME]` wins over a built-in of the
same name, and what it leaves unset comes from its kind's official endpoint. The API key is
read from its environment variable when a request is made, never stored.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from caxton.llm.base import (
    LlmError,
    ModelRequest,
    ModelResponse,
    OnText,
    Provider,
    ProviderConfigError,
)
from caxton.llm.catalog import BUILTIN_PROVIDERS, ProviderKind

if TYPE_CHECKING:
    from caxton.llm.http import RemoteProvider
    from caxton.workspace.config import WorkspaceConfig

# Per remote kind: the official endpoint, its key's usual variable and a default model.
OFFICIAL = {
    "openai": ("https://api.openai.com/v1", "OPENAI_API_KEY", "gpt-4o-mini"),
    "anthropic": ("https://api.anthropic.com", "ANTHROPIC_API_KEY", "claude-sonnet-4-5"),
}


@dataclass(frozen=True, slots=True)
class ProviderSettings:
    """Everything needed to build a provider, resolved from the catalog and `caxton.toml`."""

    name: str
    kind: ProviderKind
    base_url: str | None = None
    api_key_env: str | None = None
    model: str | None = None  # the configured default; None: `default_model`
    default_model: str | None = None  # the official endpoint's default, if any
    timeout: float = 60.0
    cassette: str | None = None


def provider_settings(name: str, config: WorkspaceConfig | None) -> ProviderSettings:
    """The settings of provider `name`, or ProviderConfigError when there is no such name."""
    configured = config.llm.providers.get(name) if config is not None else None
    builtin = next((b for b in BUILTIN_PROVIDERS if b.name == name), None)
    if configured is None:
        if builtin is None:
            known = sorted({b.name for b in BUILTIN_PROVIDERS} | set(_configured(config)))
            raise ProviderConfigError(
                f"unknown LLM provider {name!r}",
                "known providers: "
                + ", ".join(known)
                + "; declare others under [llm.providers.NAME] in caxton.toml",
            )
        kind = builtin.kind
        base_url = builtin.base_url
        explicit_key = builtin.api_key_env
        model = None
        timeout = 60.0
        cassette = None
    else:
        kind = configured.kind
        inherited = builtin if builtin is not None and builtin.kind == kind else None
        base_url = configured.base_url or (inherited.base_url if inherited else None)
        explicit_key = configured.api_key_env
        model = configured.model
        timeout = configured.timeout.seconds
        cassette = configured.cassette
    if kind not in OFFICIAL:
        return ProviderSettings(name, kind, model=model, timeout=timeout, cassette=cassette)
    official_url, official_key, official_model = OFFICIAL[kind]
    base_url = base_url or official_url
    official = _host(base_url) == _host(official_url)
    return ProviderSettings(
        name,
        kind,
        base_url=base_url,
        api_key_env=explicit_key or (official_key if official else None),
        model=model,
        default_model=official_model if official else None,
        timeout=timeout,
        cassette=cassette,
    )


def provider_for(name: str, root: Path | None, config: WorkspaceConfig | None) -> Provider:
    """The provider called `name` in this workspace (`root` locates replay cassettes).

    Nothing is checked against the network or the environment here: a missing key or the
    forbid switch surface when the provider is asked, so a chain can still fall back."""
    settings = provider_settings(name, config)
    if settings.kind == "test":
        return _test_model(name)
    if settings.kind == "replay":
        return _replay(settings, root)
    assert settings.base_url is not None  # remote kinds always have one
    remote: type[RemoteProvider]
    if settings.kind == "anthropic":
        from caxton.llm.anthropic import AnthropicProvider

        remote = AnthropicProvider
    else:
        from caxton.llm.openai import OpenAIProvider

        remote = OpenAIProvider
    return remote(
        name,
        base_url=settings.base_url,
        model=settings.model,
        default_model=settings.default_model,
        api_key_env=settings.api_key_env,
        timeout=settings.timeout,
        prices=config.llm.prices if config is not None else None,
    )


def complete_with_fallback(
    providers: list[Provider],
    request: ModelRequest,
    *,
    on_text: OnText | None = None,
    deadline: float | None = None,
) -> ModelResponse:
    """Ask each provider in turn until one answers.

    Any `LlmError` moves on to the next provider, configuration errors included (a missing
    key, the forbid switch): a chain exists to keep answering, and every failure is kept in
    the answer's `extra["fallback_errors"]` (`[{"provider", "error", "kind"}]`). Two things
    stop the chain: text already streamed to the caller (a second answer would follow half of
    the first), and the end of the list, which raises the main provider's error class and
    hint with every provider's message. `request.model` is meant for the main provider;
    fallbacks are asked for their own configured or default model."""
    if not providers:
        raise ProviderConfigError("no LLM provider to ask", "name one in the agent's [llm]")
    failures: list[tuple[Provider, LlmError]] = []
    streamed = False

    def relay(text: str) -> None:
        nonlocal streamed
        streamed = True
        assert on_text is not None
        on_text(text)

    for index, provider in enumerate(providers):
        asked = request if index == 0 else dataclasses.replace(request, model=None)
        try:
            response = provider.complete(
                asked, on_text=relay if on_text is not None else None, deadline=deadline
            )
        except LlmError as exc:
            failures.append((provider, exc))
            if streamed:
                raise
            continue
        if failures:
            errors = [
                {"provider": p.name, "error": e.message, "kind": type(e).__name__}
                for p, e in failures
            ]
            response = dataclasses.replace(
                response, extra={**response.extra, "fallback_errors": errors}
            )
        return response
    if len(failures) == 1:
        raise failures[0][1]
    first = failures[0][1]
    listed = "; ".join(f"{p.name!r}: {_strip_name(e.message, p.name)}" for p, e in failures)
    raise type(first)(f"no provider answered ({listed})", first.hint)


# ----- helpers ------------------------------------------------------------------------------


def _configured(config: WorkspaceConfig | None) -> list[str]:
    return list(config.llm.providers) if config is not None else []


def _host(url: str) -> str:
    return (urlsplit(url).hostname or "").lower()


def _strip_name(message: str, name: str) -> str:
    prefix = f"{name}: "
    return message[len(prefix) :] if message.startswith(prefix) else message


def _test_model(name: str) -> Provider:
    try:
        from caxton.llm.testmodel import TestModel
    except ImportError as exc:  # pragma: no cover - the module ships with the product
        raise ProviderConfigError(
            f"the deterministic `test` model is not available in this build ({exc})",
            "reinstall caxton",
        ) from None
    provider: Provider = TestModel(name)
    return provider


def _replay(settings: ProviderSettings, root: Path | None) -> Provider:
    if settings.cassette is None:
        raise ProviderConfigError(
            f"provider {settings.name!r} replays a recorded session but names no cassette",
            f'declare it in caxton.toml: [llm.providers.{settings.name}] kind = "replay", '
            'cassette = "cassettes/session.jsonl"; record one with `caxton run --record PATH`',
        )
    try:
        from caxton.llm.replay import ReplayProvider
    except ImportError as exc:  # pragma: no cover - the module ships with the product
        raise ProviderConfigError(
            f"the deterministic `replay` model is not available in this build ({exc})",
            "reinstall caxton",
        ) from None
    path = (root if root is not None else Path.cwd()) / settings.cassette
    provider: Provider = ReplayProvider(settings.name, path)
    return provider
