"""`caxton.toml`'s `[routing]` table: parsed into the typed config, every mistake located."""

from __future__ import annotations

import re
from pathlib import Path

import tomlkit
from hypothesis import given, settings
from hypothesis import strategies as st

from caxton.agents.model import NAME_PATTERN
from caxton.workspace.loader import check_workspace_config
from caxton.workspace.tomlfile import TomlFile, parse_toml

PATH = Path("caxton.toml")
names = st.from_regex(NAME_PATTERN, fullmatch=True)
not_names = st.text(max_size=30).filter(lambda s: not re.fullmatch(NAME_PATTERN, s))
extra_keys = st.from_regex(r"[a-z][a-z0-9_]{0,10}", fullmatch=True).filter(
    lambda k: k != "fallback"
)


def parsed(text: str) -> TomlFile:
    loaded = parse_toml(PATH, text)
    assert isinstance(loaded, TomlFile), loaded
    return loaded


def document(routing: dict[str, object] | None) -> str:
    doc = tomlkit.document()
    doc["workspace"] = {"name": "my-ws"}
    if routing is not None:
        doc["routing"] = routing
    doc["llm"] = {"default_provider": "test"}
    return tomlkit.dumps(doc)


def line_of(text: str, start: str) -> int:
    return next(n for n, line in enumerate(text.splitlines(), 1) if line.startswith(start))


def test_no_routing_table_means_no_fallback() -> None:
    config, problems = check_workspace_config(parsed(document(None)))
    assert problems == [] and config is not None
    assert config.routing.fallback is None


@settings(max_examples=60, deadline=None)
@given(names)
def test_any_agent_name_is_a_fallback(name: str) -> None:
    config, problems = check_workspace_config(parsed(document({"fallback": name})))
    assert problems == [] and config is not None
    assert config.routing.fallback == name


@settings(max_examples=60, deadline=None)
@given(not_names | st.integers() | st.booleans() | st.lists(names, max_size=2))
def test_anything_else_is_one_problem_at_the_value(value: object) -> None:
    text = document({"fallback": value})
    config, problems = check_workspace_config(parsed(text))
    assert len(problems) == 1, problems
    assert problems[0].code in ("bad-format", "wrong-type", "empty")
    assert (problems[0].line, problems[0].col) == (
        line_of(text, "fallback"),
        len("fallback = ") + 1,
    )
    assert config is not None and config.routing.fallback is None  # the rest still loads


@settings(max_examples=60, deadline=None)
@given(extra_keys, st.integers() | st.text(max_size=10))
def test_unknown_keys_in_routing_are_located(key: str, value: object) -> None:
    text = document({"fallback": "assistant", key: value})
    _, problems = check_workspace_config(parsed(text))
    assert [p.code for p in problems] == ["unknown-key"]
    assert f"unknown key {key!r} in [routing]" in problems[0].message
    assert (problems[0].line, problems[0].col) == (line_of(text, f"{key} ="), 1)
