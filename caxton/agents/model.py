"""The agent configuration model: one TOML file per agent, validated once into these objects."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from caxton.workspace.schema import field
from caxton.workspace.values import Duration

NAME_PATTERN = r"[a-z][a-z0-9-]{1,62}[a-z0-9]"
NAME_HINT = "use 3-64 lowercase letters, digits and dashes, starting with a letter"
CAPABILITY_PATTERN = r"[a-z][a-z0-9]*(-[a-z0-9]+)*"
PARAM_PATTERN = r"[a-z_][a-z0-9_]*"
SEMVER_PATTERN = r"\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?"

# Variables every prompt can use; `[parameters]` adds its own names.
RUNTIME_VARIABLES = ("request", "context", "agent_name")

ParamValue = str | int | float | bool | list[str | int | float | bool]


@dataclass(frozen=True, slots=True)
class LlmSettings:
    """Which model answers, and how."""

    provider: str | None = field(
        None,
        doc="provider name: built-in (openai, anthropic, ollama, test, replay) or one "
        "declared in caxton.toml [llm.providers]; default: the workspace's default_provider",
        examples=["openai"],
    )
    fallback: list[str] = field(
        factory=list, doc="providers tried in order when the main one fails", unique=True
    )
    model: str | None = field(
        None, doc="model name; default: the provider's model", min_len=1, examples=["gpt-4o-mini"]
    )
    max_tokens: int = field(1024, doc="most tokens one answer may use", ge=1, le=200_000)
    temperature: float = field(0.2, doc="sampling temperature", ge=0, le=2)


@dataclass(frozen=True, slots=True)
class Limits:
    """Per-request limits; reaching one stops the request cleanly with its reason."""

    max_turns: int = field(8, doc="LLM round trips per request", ge=1, le=100)
    max_tool_calls: int = field(16, doc="tool calls per request", ge=0, le=1000)
    timeout: Duration = field(
        Duration(60.0, "60s"), doc="wall time per request (1s to 1h)", ge=1, le=3600
    )
    max_cost_usd: float = field(0.05, doc="budget per request in US dollars", ge=0, le=100)


@dataclass(frozen=True, slots=True)
class MemorySettings:
    """What the agent remembers and recalls."""

    enabled: bool = field(False, doc="recall relevant memories into {{context}}")
    scope: Literal["agent", "workspace", "global"] = field(
        "agent", doc="whose memories: this agent's, the workspace's, or everyone's"
    )
    auto_store: bool = field(False, doc="store each successful interaction")
    search_limit: int = field(10, doc="most memories recalled per request", ge=1, le=100)
    min_similarity: float = field(
        0.5, doc="least similarity for a memory to be recalled", ge=0, le=1
    )


@dataclass(frozen=True, slots=True)
class AgentConfig:
    """A Caxton agent: what it can do, which tools it may call, how it thinks and remembers."""

    name: str = field(
        doc="unique agent name in the workspace",
        pattern=NAME_PATTERN,
        pattern_hint=NAME_HINT,
        examples=["data-analyzer"],
    )
    description: str = field(
        doc="what the agent does; the router reads it",
        min_len=1,
        max_len=500,
        examples=["Analyzes CSV data and reports statistics."],
    )
    capabilities: list[str] = field(
        doc="what the agent can do, used for routing",
        min_len=1,
        max_len=20,
        unique=True,
        pattern=CAPABILITY_PATTERN,
        pattern_hint='use kebab-case, e.g. "data-analysis"',
        examples=[["data-analysis", "report-generation"]],
    )
    system_prompt: str = field(
        doc="the model's instructions", min_len=1, examples=["You are a data analysis expert."]
    )
    version: str = field(
        "0.1.0",
        doc="semantic version of this agent",
        pattern=SEMVER_PATTERN,
        pattern_hint='use a semantic version like "1.0.0"',
    )
    tools: list[str] = field(
        factory=list,
        doc="tools the agent may call; nothing else is callable",
        unique=True,
        examples=[["csv_parser", "stats"]],
    )
    user_prompt_template: str = field(
        "{{request}}",
        doc="the user message: {{request}}, {{context}}, {{agent_name}}, {{parameter}}",
        min_len=1,
    )
    documentation: str = field("", doc="Markdown documentation for people")
    examples: list[str] = field(
        factory=list,
        doc="example requests this agent should take; the router learns from them",
        max_len=50,
        unique=True,
        examples=[["average order value per region in sales.csv"]],
    )
    llm: LlmSettings = field(LlmSettings(), doc="model settings")
    limits: Limits = field(Limits(), doc="per-request limits")
    memory: MemorySettings = field(MemorySettings(), doc="memory settings")
    parameters: dict[str, ParamValue] = field(
        factory=dict,
        doc="free-form values usable as {{name}} in prompts",
        key_pattern=PARAM_PATTERN,
        pattern_hint="parameter names are lowercase letters, digits and `_`, starting with a "
        "letter or `_`",
    )


# Keys written at the top of an agent file (not tables): a table holding one of these was
# almost certainly meant to end before it.
TOP_LEVEL_KEYS = (
    "examples",
    "name",
    "version",
    "description",
    "capabilities",
    "tools",
    "system_prompt",
    "user_prompt_template",
    "documentation",
)


def agent_json_schema() -> dict[str, Any]:
    """The JSON Schema of an agent file, with built-in tool and provider names for completion."""
    from caxton.llm.catalog import BUILTIN_PROVIDERS
    from caxton.tools.catalog import BUILTIN_TOOLS
    from caxton.workspace.schema import json_schema

    schema = json_schema(AgentConfig, title="Caxton agent")
    props = schema["properties"]
    props["tools"]["items"] = {
        "anyOf": [
            {"enum": [t.name for t in BUILTIN_TOOLS], "description": "a built-in tool"},
            {"type": "string", "description": "a workspace tool or an MCP server's tool"},
        ]
    }
    llm = props["llm"]["properties"]
    known = {
        "anyOf": [
            {"enum": [p.name for p in BUILTIN_PROVIDERS]},
            {"type": "string", "description": "a provider from caxton.toml"},
        ]
    }
    llm["provider"] = {**llm["provider"], **known}
    llm["fallback"]["items"] = known
    return schema
