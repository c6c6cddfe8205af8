"""Checking one agent file: its schema, then the names it refers to (tools, providers, prompts)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from caxton.agents.model import RUNTIME_VARIABLES, TOP_LEVEL_KEYS, AgentConfig
from caxton.errors import Problem
from caxton.llm.catalog import BUILTIN_PROVIDER_NAMES
from caxton.tools.catalog import BUILTIN_TOOL_NAMES
from caxton.workspace.locate import KeyPath
from caxton.workspace.schema import Checker, did_you_mean, suggest
from caxton.workspace.tomlfile import TomlFile

PLACEHOLDER = re.compile(r"\{\{\s*([^{}]*?)\s*\}\}")
PROMPT_KEYS = ("system_prompt", "user_prompt_template")


@dataclass(frozen=True, slots=True)
class AgentContext:
    """What an agent file may refer to: the names its workspace makes available."""

    tools: frozenset[str] = BUILTIN_TOOL_NAMES
    providers: frozenset[str] = BUILTIN_PROVIDER_NAMES


def check_agent(tf: TomlFile, ctx: AgentContext) -> tuple[AgentConfig | None, list[Problem]]:
    data = tf.data
    misplaced: dict[str, KeyPath] = {}
    for table_name, table in data.items():
        if isinstance(table, dict):
            for key in table:
                if key in TOP_LEVEL_KEYS and key not in data and key not in misplaced:
                    misplaced[key] = (table_name,)
    checker = Checker(misplaced)
    config = checker.build(AgentConfig, data)
    problems = [
        tf.problem(i.keypath, i.message, i.hint, at=i.at, code=i.code, severity=i.severity)
        for i in checker.issues
    ]
    for key, table in misplaced.items():
        header_line, _ = tf.index.key_pos(table)
        problems.append(
            tf.problem(
                (*table, key),
                f"{key!r} is inside the [{table[0]}] table: it comes after the "
                f"`[{table[0]}]` header on line {header_line}",
                f"move `{key} = ...` above line {header_line}: in TOML every key after a [table] "
                "header belongs to that table, so top-level keys must come first",
                at="key",
                code="misplaced-key",
            )
        )
    problems += _check_references(tf, ctx)
    problems.sort(key=lambda p: (p.line, p.col))
    return config, problems


def _strings(value: object) -> list[tuple[int, str]]:
    """The string items of a parsed array, with their indexes (other items were reported)."""
    if not isinstance(value, list):
        return []
    return [(i, item) for i, item in enumerate(value) if isinstance(item, str)]


def _check_references(tf: TomlFile, ctx: AgentContext) -> list[Problem]:
    """Names that point elsewhere: tools, providers, prompt variables.

    Read from the raw data, not the built config, so these are reported even when an unrelated
    key is broken: `validate` shows every problem at once.
    """
    data = tf.data
    problems: list[Problem] = []
    for i, tool in _strings(data.get("tools")):
        if tool not in ctx.tools:
            hint = did_you_mean(
                tool,
                ctx.tools,
                "use a built-in tool (`caxton schema agent` lists them), a workspace tool in "
                "`tools/<name>/tool.toml`, or one declared under [mcp_servers] in caxton.toml",
            )
            problems.append(
                tf.problem(("tools", i), f"unknown tool {tool!r}", hint, code="unknown-tool")
            )
    llm: dict[str, Any] = data["llm"] if isinstance(data.get("llm"), dict) else {}
    named: list[tuple[KeyPath, str]] = [
        (("llm", "fallback", i), name) for i, name in _strings(llm.get("fallback"))
    ]
    if isinstance(llm.get("provider"), str):
        named.insert(0, (("llm", "provider"), llm["provider"]))
    for keypath, provider in named:
        if provider not in ctx.providers:
            hint = did_you_mean(
                provider,
                ctx.providers,
                "known providers: "
                + ", ".join(sorted(ctx.providers))
                + "; declare others under [llm.providers.NAME] in caxton.toml",
            )
            problems.append(
                tf.problem(
                    keypath, f"unknown LLM provider {provider!r}", hint, code="unknown-provider"
                )
            )
    params: dict[str, Any] = data["parameters"] if isinstance(data.get("parameters"), dict) else {}
    allowed = (*RUNTIME_VARIABLES, *(k for k in params if k not in TOP_LEVEL_KEYS))
    for key in PROMPT_KEYS:
        text = data.get(key)
        if not isinstance(text, str):
            continue
        for match in PLACEHOLDER.finditer(text):
            var = match[1]
            if var in allowed:
                continue
            close = suggest(var, allowed)
            hint = (
                f"did you mean {{{{{close}}}}}?"
                if close
                else (
                    "available: "
                    + ", ".join(f"{{{{{v}}}}}" for v in allowed)
                    + f"; to add {var!r}, define it under [parameters]"
                )
            )
            problems.append(
                tf.problem(
                    (key,),
                    f"unknown variable {match[0]} in {key}",
                    hint,
                    needle=match[0],
                    code="unknown-variable",
                )
            )
    template = data.get("user_prompt_template")
    if isinstance(template, str) and not any(
        m[1] == "request" for m in PLACEHOLDER.finditer(template)
    ):
        problems.append(
            tf.problem(
                ("user_prompt_template",),
                "user_prompt_template never uses {{request}}: the user's request will not reach "
                "the model",
                "add {{request}} where the request belongs",
                code="request-unused",
                severity="warning",
            )
        )
    return problems
