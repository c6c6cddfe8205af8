"""The one list of built-in tool names: what agents may put in `tools` with no extra setup."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal


@dataclass(frozen=True, slots=True)
class BuiltinTool:
    name: str
    kind: Literal["wasm", "memory", "messaging"]
    description: str
    input_schema: dict[str, Any] = field(default_factory=lambda: {"type": "object"})


def _object(required: list[str], **properties: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "required": required,
        "properties": properties,
        "additionalProperties": False,
    }


_TEXT = {"type": "string", "minLength": 1}
_NAMES = {"type": "array", "items": _TEXT, "minItems": 1, "maxItems": 50}


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
    BuiltinTool(
        "memory_search",
        "memory",
        "Search the agent's memory (vector + keyword).",
        _object(
            ["query"],
            query={**_TEXT, "description": "what to look for"},
            limit={"type": "integer", "minimum": 1, "maximum": 50, "default": 10},
        ),
    ),
    BuiltinTool(
        "memory_store",
        "memory",
        "Store entities and observations in memory.",
        _object(
            ["name", "observations"],
            name={**_TEXT, "description": "the entity, e.g. a person, project or endpoint"},
            type={**_TEXT, "description": "its kind, e.g. person", "default": "note"},
            observations={
                "type": "array",
                "items": _TEXT,
                "minItems": 1,
                "maxItems": 50,
                "description": "facts about it, one sentence each",
            },
        ),
    ),
    BuiltinTool(
        "memory_relate",
        "memory",
        "Create relations between remembered entities.",
        _object(
            ["from", "to", "type"],
            **{"from": _TEXT},
            to=_TEXT,
            type={**_TEXT, "description": "the relation, e.g. works_on"},
            strength={"type": "number", "minimum": 0, "maximum": 1, "default": 1},
        ),
    ),
    BuiltinTool(
        "memory_open",
        "memory",
        "Open remembered entities with their relations.",
        _object(["names"], names=_NAMES),
    ),
    BuiltinTool(
        "delegate",
        "messaging",
        "Send a request to the best agent for a capability.",
        _object(
            ["capability", "request"],
            capability={**_TEXT, "description": "what the other agent must be able to do"},
            request={**_TEXT, "description": "the request, complete on its own"},
        ),
    ),
    BuiltinTool(
        "inform",
        "messaging",
        "Broadcast information to agents with a capability.",
        _object(["capability", "content"], capability=_TEXT, content=_TEXT),
    ),
    BuiltinTool(
        "contract_net",
        "messaging",
        "Call for proposals, pick one, have it execute.",
        _object(
            ["capability", "task"],
            capability=_TEXT,
            task={**_TEXT, "description": "the task the winner carries out"},
            max_bidders={"type": "integer", "minimum": 1, "maximum": 10, "default": 3},
        ),
    ),
)

BUILTIN_TOOL_NAMES: frozenset[str] = frozenset(t.name for t in BUILTIN_TOOLS)
