"""Editing config files in place without losing the user's comments or layout (tomlkit)."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import tomlkit
from tomlkit.items import Table

from caxton.agents.check import AgentContext, check_agent
from caxton.errors import ConfigError, Problem, UsageError
from caxton.workspace.files import write_all
from caxton.workspace.tomlfile import load_toml, parse_toml


def parse_cli_value(raw: str) -> Any:
    """A TOML value from the command line: `0.3`, `true`, `["a", "b"]`; anything else is text."""
    try:
        return tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        return raw


def set_value(text: str, dotted_key: str, value: Any) -> str:
    """`text` with `dotted_key` set to `value`; comments, order and spacing are kept."""
    parts = dotted_key.split(".")
    if not all(parts):
        raise UsageError(f"{dotted_key!r} is not a key path", "write it like `llm.temperature`")
    doc = tomlkit.parse(text)
    node: Any = doc
    for i, part in enumerate(parts[:-1]):
        if part not in node:
            node[part] = tomlkit.table()
        node = node[part]
        if not isinstance(node, Table | dict):
            where = ".".join(parts[: i + 1])
            raise UsageError(f"{where!r} is a value, not a table", f"set `{where}` itself")
    node[parts[-1]] = value
    return tomlkit.dumps(doc)


def set_agent_value(path: Path, dotted_key: str, raw_value: str, context: AgentContext) -> str:
    """Set one key in an agent file unless that adds a problem; otherwise change nothing."""
    loaded = load_toml(path, what="agent file")
    if isinstance(loaded, Problem):
        raise ConfigError([loaded], f"cannot edit `{path.name}`: {loaded.message}")
    new_text = set_value(loaded.text, dotted_key, parse_cli_value(raw_value))
    parsed = parse_toml(path, new_text)
    if isinstance(parsed, Problem):
        raise ConfigError([parsed])
    before = {(p.code, p.message) for p in check_agent(loaded, context)[1]}
    _, problems = check_agent(parsed, context)
    errors = [p for p in problems if p.severity == "error" and (p.code, p.message) not in before]
    if errors:
        raise ConfigError(
            errors,
            f"setting `{dotted_key}` would make `{path.name}` invalid; the file was not changed",
        )
    write_all({path: new_text}, force=True)
    return new_text
