"""Property tests for the agent parser: valid configs round-trip; mutations point at their line."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import tomlkit
from hypothesis import given, settings
from hypothesis import strategies as st

from caxton.agents.check import AgentContext, check_agent
from caxton.agents.model import TOP_LEVEL_KEYS
from caxton.agents.serialize import config_to_dict
from caxton.llm.catalog import BUILTIN_PROVIDER_NAMES
from caxton.tools.catalog import BUILTIN_TOOL_NAMES
from caxton.workspace.tomlfile import TomlFile, parse_toml

PATH = Path("agents/prop.toml")

prose = st.text(
    st.characters(codec="utf-8", exclude_categories=["Cs", "Cc"]) | st.sampled_from("\n\t\"'\\{}"),
    min_size=1,
    max_size=80,
).filter(lambda s: s.strip() != "" and "{{" not in s and "}}" not in s)
param_names = st.from_regex(r"[a-z_][a-z0-9_]{0,10}", fullmatch=True).filter(
    lambda k: k not in TOP_LEVEL_KEYS
)
param_values = st.one_of(
    st.text(max_size=20),
    st.integers(-1000, 1000),
    st.booleans(),
    st.floats(-1e6, 1e6, allow_nan=False),
    st.lists(st.integers(0, 9), max_size=3),
)


@st.composite
def agents(draw: st.DrawFn) -> dict[str, Any]:
    params = draw(st.dictionaries(param_names, param_values, max_size=4))
    variables = ["request", "context", "agent_name", *params]
    prompt = draw(prose) + "".join(
        f" {{{{{v}}}}}" for v in draw(st.lists(st.sampled_from(variables), max_size=3))
    )
    doc: dict[str, Any] = {
        "name": draw(st.from_regex(r"[a-z][a-z0-9-]{1,20}[a-z0-9]", fullmatch=True)),
        "version": draw(st.sampled_from(["0.1.0", "1.2.3", "2.0.0-rc.1"])),
        "description": draw(prose.filter(lambda s: len(s) <= 500)),
        "capabilities": draw(
            st.lists(
                st.from_regex(r"[a-z][a-z0-9]{0,8}(-[a-z0-9]{1,6}){0,2}", fullmatch=True),
                min_size=1,
                max_size=5,
                unique=True,
            )
        ),
        "tools": draw(
            st.lists(st.sampled_from(sorted(BUILTIN_TOOL_NAMES)), unique=True, max_size=5)
        ),
        "system_prompt": prompt,
        "user_prompt_template": "{{request}} " + draw(prose),
        "llm": {
            "provider": draw(st.sampled_from(sorted(BUILTIN_PROVIDER_NAMES))),
            "max_tokens": draw(st.integers(1, 200_000)),
            "temperature": draw(st.floats(0, 2, allow_nan=False)),
        },
        "limits": {
            "max_turns": draw(st.integers(1, 100)),
            "max_tool_calls": draw(st.integers(0, 1000)),
            "timeout": draw(st.sampled_from(["1s", "60s", "5m", "1h", "1500ms"])),
            "max_cost_usd": draw(st.floats(0, 100, allow_nan=False)),
        },
        "memory": {
            "enabled": draw(st.booleans()),
            "scope": draw(st.sampled_from(["agent", "workspace", "global"])),
            "auto_store": draw(st.booleans()),
            "search_limit": draw(st.integers(1, 100)),
            "min_similarity": draw(st.floats(0, 1, allow_nan=False)),
        },
    }
    if params:
        doc["parameters"] = params
    return doc


def parsed(text: str) -> TomlFile:
    loaded = parse_toml(PATH, text)
    assert isinstance(loaded, TomlFile), loaded
    return loaded


def without_none(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: without_none(v) for k, v in value.items() if v is not None}
    return value


def subset(expected: Any, actual: Any) -> bool:
    if isinstance(expected, dict):
        return all(k in actual and subset(v, actual[k]) for k, v in expected.items())
    return bool(expected == actual)


@settings(max_examples=120, deadline=None)
@given(agents())
def test_valid_configs_round_trip(doc: dict[str, Any]) -> None:
    text = tomlkit.dumps(doc)
    config, problems = check_agent(parsed(text), AgentContext())
    assert problems == []
    assert config is not None
    assert subset(doc, config_to_dict(config))
    again, _ = check_agent(
        parsed(tomlkit.dumps(without_none(config_to_dict(config)))), AgentContext()
    )
    assert again == config


# A wrong type on a key with fixed choices or a parsed value is reported as such.
EXPECTED_CODES = {
    "unknown-key": {"unknown-key"},
    "wrong-type": {"wrong-type", "bad-choice", "bad-value"},
}
MUTATIONS: dict[str, Any] = {
    "unknown-key": lambda key, value: (key + "x", value),
    "wrong-type": lambda key, value: (key, [value] if not isinstance(value, list) else {"a": 1}),
}


@settings(max_examples=120, deadline=None)
@given(agents(), st.data())
def test_mutations_are_reported_on_the_line_they_happen(
    doc: dict[str, Any], data: st.DataObject
) -> None:
    scalar_paths: list[tuple[str, ...]] = [
        (k,) for k, v in doc.items() if not isinstance(v, dict) and k != "tools"
    ]
    scalar_paths += [(table, k) for table in ("llm", "limits", "memory") for k in doc[table]]
    path = data.draw(st.sampled_from(scalar_paths))
    kind = data.draw(st.sampled_from(sorted(MUTATIONS)))
    holder = doc if len(path) == 1 else doc[path[0]]
    key = path[-1]
    new_key, new_value = MUTATIONS[kind](key, holder.pop(key))
    holder[new_key] = new_value
    text = tomlkit.dumps(doc)
    _, problems = check_agent(parsed(text), AgentContext())
    lines = text.splitlines()
    mine = [p for p in problems if p.code in EXPECTED_CODES[kind]]
    assert mine, problems
    for problem in mine:
        line = lines[problem.line - 1]
        assert new_key in line, (
            problem,
            line,
        )
