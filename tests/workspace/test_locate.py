"""The key locator finds every key and value that tomllib parsed, exactly where it is."""

from __future__ import annotations

import tomllib
from typing import Any

import tomlkit
from hypothesis import given, settings
from hypothesis import strategies as st

from caxton.workspace.locate import KeyIndex, KeyPath, find_duplicate_key

keys = st.one_of(
    st.from_regex(r"[a-z][a-z0-9_-]{0,8}", fullmatch=True),
    st.text(st.characters(codec="utf-8", exclude_categories=["Cs", "Cc"]), min_size=1, max_size=8),
)
scalars = st.one_of(
    st.integers(-(10**9), 10**9),
    st.floats(allow_nan=False, allow_infinity=False),
    st.booleans(),
    st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=30),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(keys, inner, max_size=4),
    ),
    max_leaves=12,
)
documents = st.dictionaries(keys, values, max_size=6)


def leaves(value: Any, path: KeyPath = ()) -> list[tuple[KeyPath, Any]]:
    if isinstance(value, dict):
        out: list[tuple[KeyPath, Any]] = []
        for key, item in value.items():
            out += leaves(item, (*path, key))
        return out
    if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        out = []
        for i, item in enumerate(value):
            out += leaves(item, (*path, i))
        return out
    return [(path, value)]


@settings(max_examples=150, deadline=None)
@given(documents, st.booleans())
def test_every_value_is_found_where_it_is(doc: dict[str, Any], multiline: bool) -> None:
    text = tomlkit.dumps(doc)
    if multiline:  # the same document with arrays spread over lines, where that stays valid
        spread = text.replace(", ", ",\n    ")
        try:
            tomllib.loads(spread)
            text = spread
        except tomllib.TOMLDecodeError:
            pass  # a comma inside an inline table or a string
    data = tomllib.loads(text)
    index = KeyIndex(text)
    for path, value in leaves(data):
        if not path:
            continue
        span = index.spans[path]
        raw = text[span.value : span.end]
        assert tomllib.loads(f"v = {raw}")["v"] == value, (path, raw)


def test_positions_are_one_based_lines_and_columns() -> None:
    text = 'a = 1\n\n[t]\n  b = "x" # note\n[[arr]]\nc = [1,\n  2]\n[[arr]]\nc = { d = 4 }\n'
    index = KeyIndex(text)
    assert index.key_pos(("a",)) == (1, 1)
    assert index.key_pos(("t",)) == (3, 1)
    assert index.key_pos(("t", "b")) == (4, 3)
    assert index.value_pos(("t", "b")) == (4, 7)
    assert index.value_pos(("arr", 0, "c", 1)) == (7, 3)
    assert index.value_pos(("arr", 1, "c", "d")) == (9, 11)
    assert index.value_pos(("t", "missing")) == (3, 1), "a missing key points at its table"


def test_multiline_strings_with_quotes_and_escapes() -> None:
    text = 's = """a "quoted" \\""" x\n {{v}}"""\nn = 2\nl = \'\'\'it\'s\'\'\'\n'
    index = KeyIndex(text)
    assert index.pos_in_value(("s",), "{{v}}") == (2, 2)
    assert index.key_pos(("n",)) == (3, 1)
    assert index.value_pos(("l",)) == (4, 5)


def test_duplicate_keys_are_found() -> None:
    assert find_duplicate_key("a = 1\n[t]\nb = 1\nb = 2\n") == ("t.b", 16)
    assert find_duplicate_key("a = 1\n") is None
