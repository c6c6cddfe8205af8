"""Providers known without configuration, and the kinds a configured provider can be."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

ProviderKind = Literal["openai", "anthropic", "test", "replay"]


@dataclass(frozen=True, slots=True)
class BuiltinProvider:
    name: str
    kind: ProviderKind
    base_url: str | None
    api_key_env: str | None
    description: str


BUILTIN_PROVIDERS: tuple[BuiltinProvider, ...] = (
    BuiltinProvider(
        "openai", "openai", "https://api.openai.com/v1", "OPENAI_API_KEY", "OpenAI chat completions"
    ),
    BuiltinProvider(
        "anthropic",
        "anthropic",
        "https://api.anthropic.com",
        "ANTHROPIC_API_KEY",
        "Anthropic Messages",
    ),
    BuiltinProvider(
        "ollama",
        "openai",
        "http://localhost:11434/v1",
        None,
        "a local Ollama server (OpenAI-compatible)",
    ),
    BuiltinProvider(
        "test",
        "test",
        None,
        None,
        "deterministic test model: calls each allowed tool, answers from results",
    ),
    BuiltinProvider("replay", "replay", None, None, "deterministic replay of a recorded session"),
)

BUILTIN_PROVIDER_NAMES: frozenset[str] = frozenset(p.name for p in BUILTIN_PROVIDERS)
