"""The one list of built-in tool names: what agents may put in `tools` with no extra setup."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True, slots=True)
class BuiltinTool:
    name: str
    kind: Literal["wasm", "memory", "messaging"]
    description: str


BUILTIN_TOOLS: tuple[BuiltinTool, ...] = (
    BuiltinTool("csv_parser", "wasm", "Parse CSV text into rows and typed columns."),
    BuiltinTool("stats", "wasm", "Describe numbers: summary, percentiles, correlation."),
    BuiltinTool("json_query", "wasm", "Query and reshape JSON with a path expression."),
    BuiltinTool("text", "wasm", "Regex extraction, word counts and simple diffs."),
    BuiltinTool("chart", "wasm", "ASCII and SVG bar and line charts."),
    BuiltinTool("schema_validate", "wasm", "Validate JSON against a JSON Schema."),
    BuiltinTool("http_fetch", "wasm", "HTTP requests to an allowlist of hosts."),
    BuiltinTool("file_read", "wasm", "Read files under the workspace data directory."),
    BuiltinTool("file_write", "wasm", "Write files under the workspace data directory."),
    BuiltinTool("memory_search", "memory", "Search the agent's memory (vector + keyword)."),
    BuiltinTool("memory_store", "memory", "Store entities and observations in memory."),
    BuiltinTool("memory_relate", "memory", "Create relations between remembered entities."),
    BuiltinTool("memory_open", "memory", "Open remembered entities with their relations."),
    BuiltinTool("delegate", "messaging", "Send a request to the best agent for a capability."),
    BuiltinTool("inform", "messaging", "Broadcast information to agents with a capability."),
    BuiltinTool("contract_net", "messaging", "Call for proposals, pick one, have it execute."),
)

BUILTIN_TOOL_NAMES: frozenset[str] = frozenset(t.name for t in BUILTIN_TOOLS)
