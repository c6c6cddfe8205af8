"""The workspace file `caxton.toml`: its name, LLM providers, routing, remotes and MCP servers."""

from __future__ import annotations

from dataclasses import dataclass

from caxton.agents.model import NAME_HINT, NAME_PATTERN
from caxton.llm.catalog import ProviderKind
from caxton.workspace.schema import field
from caxton.workspace.values import Duration

KEY_NAME_PATTERN = r"[a-z][a-z0-9_-]{0,62}"
KEY_NAME_HINT = "use lowercase letters, digits, `-` and `_`, starting with a letter"
ENV_VAR_PATTERN = r"[A-Za-z_][A-Za-z0-9_]*"
MODEL_NAME_PATTERN = r"[A-Za-z0-9][A-Za-z0-9._:/@+-]{0,199}"
HOST_PATTERN = r"(\*\.)?[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*(:\d{1,5})?"


@dataclass(frozen=True, slots=True)
class WorkspaceSection:
    """Identity of the workspace."""

    name: str = field(
        doc="workspace name, used in server URLs",
        pattern=NAME_PATTERN,
        pattern_hint=NAME_HINT,
        examples=["my-agents"],
    )
    description: str = field("", doc="what this workspace is for")


@dataclass(frozen=True, slots=True)
class ProviderConfig:
    """An LLM endpoint agents can name in `[llm] provider`."""

    kind: ProviderKind = field(
        doc="API dialect: openai (any compatible server), anthropic, test or replay",
        examples=["openai"],
    )
    base_url: str | None = field(
        None,
        doc="API base URL",
        pattern=r"https?://\S+",
        pattern_hint="use an http:// or https:// URL",
        examples=["http://localhost:11434/v1"],
    )
    model: str | None = field(None, doc="default model for agents using this provider", min_len=1)
    api_key_env: str | None = field(
        None,
        doc="name of the environment variable holding the API key (never the key itself)",
        pattern=ENV_VAR_PATTERN,
        pattern_hint="give the variable's name, e.g. OPENAI_API_KEY",
    )
    timeout: Duration = field(
        Duration(60.0, "60s"), doc="read timeout per request (1s to 10m)", ge=1, le=600
    )
    cassette: str | None = field(
        None,
        doc="replay: the cassette file, relative to the workspace",
        min_len=1,
        examples=["cassettes/session.jsonl"],
    )


@dataclass(frozen=True, slots=True)
class ModelPrice:
    """What a model costs, in US dollars per million tokens."""

    input: float = field(
        doc="USD per million input (prompt) tokens", ge=0, le=10000, examples=[2.5]
    )
    output: float = field(
        doc="USD per million output (completion) tokens", ge=0, le=10000, examples=[10.0]
    )


@dataclass(frozen=True, slots=True)
class LlmDefaults:
    """LLM settings shared by the workspace's agents."""

    default_provider: str = field(
        "test", doc="provider for agents that name none", examples=["openai"]
    )
    providers: dict[str, ProviderConfig] = field(
        factory=dict,
        doc="extra providers by name",
        key_pattern=KEY_NAME_PATTERN,
        pattern_hint=KEY_NAME_HINT,
    )
    prices: dict[str, ModelPrice] = field(
        factory=dict,
        doc="model prices by model name, overriding the built-in table",
        key_pattern=MODEL_NAME_PATTERN,
        pattern_hint='use the model\'s name as the API knows it, e.g. [llm.prices."gpt-4o"]',
    )


@dataclass(frozen=True, slots=True)
class RemoteConfig:
    """A `caxton serve` this workspace deploys to."""

    url: str = field(
        doc="server URL",
        pattern=r"https?://\S+",
        pattern_hint="use an http:// or https:// URL",
        examples=["https://caxton.example.com"],
    )


@dataclass(frozen=True, slots=True)
class McpServerConfig:
    """An external MCP server: trusted, outside the sandbox, opt-in."""

    tools: list[str] = field(
        doc="tool names this server provides that agents may use",
        min_len=1,
        unique=True,
        examples=[["search_issues"]],
    )
    command: list[str] = field(factory=list, doc="stdio server: the command and its arguments")
    url: str | None = field(
        None,
        doc="streamable HTTP server URL",
        pattern=r"https?://\S+",
        pattern_hint="use an http:// or https:// URL",
    )
    env: list[str] = field(
        factory=list,
        doc="environment variables passed to a stdio server",
        pattern=ENV_VAR_PATTERN,
        pattern_hint="give variable names",
    )
    timeout: Duration = field(
        Duration(30.0, "30s"), doc="timeout per call (100ms to 10m)", ge=0.1, le=600
    )


@dataclass(frozen=True, slots=True)
class ToolGrant:
    """What the workspace lets one WASM tool reach, on top of its own tool.toml."""

    http_hosts: list[str] = field(
        factory=list,
        doc="hosts the tool may reach through the HTTP host function: exact or *.domain",
        pattern=HOST_PATTERN,
        unique=True,
        pattern_hint='a host name like "api.example.com" or "*.example.com", no scheme',
        examples=[["api.example.com"]],
    )


@dataclass(frozen=True, slots=True)
class RoutingConfig:
    """How requests that name no agent are routed."""

    fallback: str | None = field(
        None,
        doc="agent that takes a request no agent fits (none: such a request is refused)",
        pattern=NAME_PATTERN,
        pattern_hint=NAME_HINT,
        examples=["assistant"],
    )


@dataclass(frozen=True, slots=True)
class WorkspaceConfig:
    """The contents of `caxton.toml`."""

    workspace: WorkspaceSection = field(doc="workspace identity")
    llm: LlmDefaults = field(LlmDefaults(), doc="LLM providers")
    routing: RoutingConfig = field(RoutingConfig(), doc="routing of requests that name no agent")
    remotes: dict[str, RemoteConfig] = field(
        factory=dict,
        doc="deploy targets by name",
        key_pattern=KEY_NAME_PATTERN,
        pattern_hint=KEY_NAME_HINT,
    )
    mcp_servers: dict[str, McpServerConfig] = field(
        factory=dict,
        doc="external MCP servers by name",
        key_pattern=KEY_NAME_PATTERN,
        pattern_hint=KEY_NAME_HINT,
    )
    tools: dict[str, ToolGrant] = field(
        factory=dict,
        doc="grants to WASM tools by tool name, e.g. [tools.http_fetch] http_hosts",
        key_pattern=r"[a-z][a-z0-9_]{1,63}",
        pattern_hint="use the tool's name, e.g. http_fetch",
    )
