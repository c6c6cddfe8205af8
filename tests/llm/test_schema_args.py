"""Arguments for a tool's schema: always valid (checked by jsonschema), deterministic, and
carrying the user's text where the schema has room for it."""

from __future__ import annotations

import copy
import json
import re
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from caxton.llm.schema_args import arguments_for, slug
from caxton.tools.catalog import BUILTIN_TOOLS
from caxton.tools.registry import ToolInfo, available_tools

Schema = dict[str, Any]
TEXT = "summarise last week's sales"


def valid(schema: Schema, value: Any) -> bool:
    checker = Draft202012Validator.FORMAT_CHECKER
    return bool(Draft202012Validator(schema, format_checker=checker).is_valid(value))


def args(schema: Schema, text: str = TEXT) -> dict[str, Any]:
    out = arguments_for(schema, text=text)
    assert valid(schema, out), out
    return out


def obj(required: list[str] | None = None, **properties: Any) -> Schema:
    return {"type": "object", "properties": properties, "required": required or []}


# -- generated schemas ------------------------------------------------------------------------

NAMES = [
    "text", "query", "userMessage", "body", "data", "url", "homepage_url", "email", "path",
    "name", "count", "flag", "items", "a", "b", "value", "user_id", "tags", "output_dir",
]  # fmt: skip
# (pattern, a string it matches): lengths are drawn around the witness, so each is satisfiable
PATTERNS = [
    (r"^[a-z]+$", "abc"),
    (r"^\d{3}-\d{4}$", "555-1234"),
    (r"^https?://", "http://"),
    (r"[A-Z]", "A"),
    (r"^(foo|bar)$", "foo"),
    (r"^[^\s@]+@[^\s@]+$", "a@b"),
    (r"^x*$", ""),
    (r"^[a-f0-9]{8}$", "deadbeef"),
    (r"^(ab)+c?$", "ab"),
    (r"^\w+\s\w+$", "a b"),
]
FORMATS = ["date", "date-time", "time", "email", "uri", "uuid", "ipv4", "ipv6", "hostname"]
json_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-50, 50), st.text(max_size=5), st.floats(-9, 9, width=16)
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner),
    max_leaves=5,
)


@st.composite
def strings(draw: st.DrawFn) -> Schema:
    schema: Schema = {"type": "string"}
    if draw(st.booleans()):
        schema["format"] = draw(st.sampled_from(FORMATS))
        return schema
    witness = "example"
    if draw(st.booleans()):
        schema["pattern"], witness = draw(st.sampled_from(PATTERNS))
    if draw(st.booleans()):
        schema["minLength"] = draw(st.integers(0, len(witness)))
    if draw(st.booleans()):
        schema["maxLength"] = draw(st.integers(len(witness), len(witness) + 12))
    if draw(st.booleans()):
        schema["default"] = draw(st.sampled_from([witness, witness + "!" * 20, 3]))
    return schema


@st.composite
def numbers(draw: st.DrawFn) -> Schema:
    integer = draw(st.booleans())
    schema: Schema = {"type": "integer" if integer else "number"}
    step = draw(st.sampled_from([None, 1, 2, 3, 7, 0.5] if integer else [None, 1, 5, 0.5, 0.25]))
    k = draw(st.integers(-10_000, 10_000))
    if step is None:
        witness: float = k if integer else k / 8
    else:
        witness = k * step * (2 if integer and isinstance(step, float) else 1)
        schema["multipleOf"] = step
    for key, sign in (("minimum", -1), ("maximum", 1)):
        if draw(st.booleans()):
            schema[key] = witness + sign * draw(st.integers(0, 20))
    for key, sign in (("exclusiveMinimum", -1), ("exclusiveMaximum", 1)):
        if draw(st.booleans()):
            schema[key] = witness + sign * draw(st.sampled_from([0.125, 1, 3, 1000]))
    if draw(st.booleans()):
        schema["default"] = draw(st.sampled_from([witness, witness + 0.375, "1"]))
    return schema


leaves = st.one_of(
    strings(),
    numbers(),
    st.just({"type": "boolean"}),
    st.just({"type": "null"}),
    st.just({}),
    st.just({"description": "anything"}),
    st.lists(json_scalars, min_size=1, max_size=4, unique_by=json.dumps).map(
        lambda values: {"enum": values}
    ),
    json_values.map(lambda value: {"const": value}),
    strings().map(lambda s: {**s, "type": ["string", "null"]}),
    st.sampled_from([["integer", "string"], ["null", "boolean"], ["array", "object"]]).map(
        lambda types: {"type": types}
    ),
)


@st.composite
def objects(draw: st.DrawFn, children: st.SearchStrategy[Schema]) -> Schema:
    props = draw(st.dictionaries(st.sampled_from(NAMES), children, max_size=4))
    schema: Schema = {"type": "object", "properties": props}
    required = draw(st.lists(st.sampled_from(NAMES), max_size=3, unique=True))
    closed = draw(st.booleans())
    if closed:
        schema["additionalProperties"] = False
        required = [r for r in required if r in props]
    schema["required"] = required
    if draw(st.booleans()):
        schema["minProperties"] = draw(st.integers(0, len(set(props) | set(required))))
    if draw(st.booleans()):
        low = max(schema.get("minProperties", 0), len(required))
        schema["maxProperties"] = draw(st.integers(low, low + 3))
    return schema


@st.composite
def arrays(draw: st.DrawFn, children: st.SearchStrategy[Schema]) -> Schema:
    schema: Schema = {"type": "array", "items": draw(children)}
    low = draw(st.integers(0, 3))
    if low:
        schema["minItems"] = low
    if draw(st.booleans()):
        schema["maxItems"] = draw(st.integers(low, low + 3))
    if low <= 1 and draw(st.booleans()):
        schema["uniqueItems"] = True
    if draw(st.booleans()):
        schema["prefixItems"] = [draw(children)]
    return schema


# oneOf branches from distinct type families, so a value matches exactly one of them
FAMILIES: list[st.SearchStrategy[Schema]] = [
    strings(),
    numbers(),
    st.just({"type": "boolean"}),
    st.just({"type": "null"}),
    st.just({"type": "array"}),
    st.just({"type": "object", "properties": {"kind": {"const": "x"}}, "required": ["kind"]}),
]


@st.composite
def one_of(draw: st.DrawFn) -> Schema:
    picked = draw(st.lists(st.sampled_from(range(len(FAMILIES))), min_size=1, max_size=3))
    return {"oneOf": [draw(FAMILIES[i]) for i in dict.fromkeys(picked)]}


@st.composite
def all_of(draw: st.DrawFn, children: st.SearchStrategy[Schema]) -> Schema:
    if draw(st.booleans()):
        low = draw(st.integers(-5, 5))
        high = low + draw(st.integers(0, 3))
        return {"allOf": [{"type": "integer", "minimum": low}, {"maximum": high}]}
    names = draw(st.lists(st.sampled_from(NAMES), min_size=2, max_size=4, unique=True))
    half = len(names) // 2
    parts = [
        {"properties": {n: draw(children) for n in group}, "required": group[:1]}
        for group in (names[:half], names[half:])
    ]
    return {"type": "object", "allOf": parts}


schemas = st.recursive(
    leaves,
    lambda children: st.one_of(
        objects(children),
        arrays(children),
        st.lists(children, min_size=1, max_size=3).map(lambda branches: {"anyOf": branches}),
        one_of(),
        all_of(children),
    ),
    max_leaves=8,
)


@st.composite
def tool_schemas(draw: st.DrawFn) -> Schema:
    """A tool's input schema: an object, some of its properties moved to `$defs`."""
    top = draw(objects(schemas))
    defs = {}
    for i, name in enumerate(list(top["properties"])):
        if draw(st.booleans()):
            defs[f"d{i}"] = top["properties"][name]
            top["properties"][name] = {"$ref": f"#/$defs/d{i}"}
    if defs:
        top["$defs"] = defs
    return top


@settings(max_examples=250, deadline=None)
@given(tool_schemas(), st.text(max_size=40))
def test_generated_schemas_get_valid_arguments(schema: Schema, text: str) -> None:
    out = arguments_for(schema, text=text)
    assert valid(schema, out), (schema, out)
    json.dumps(out, allow_nan=False)  # plain JSON, ready to send


@settings(max_examples=80, deadline=None)
@given(tool_schemas(), st.text(max_size=20))
def test_same_schema_and_text_give_the_same_arguments(schema: Schema, text: str) -> None:
    first = arguments_for(schema, text=text)
    assert arguments_for(copy.deepcopy(schema), text=text) == first  # planned afresh
    assert arguments_for(schema, text=text) == first  # from the cache


keywords = st.sampled_from(
    "type properties required items prefixItems anyOf oneOf allOf not $ref enum const "
    "minimum maximum multipleOf minLength maxLength pattern minItems maxItems uniqueItems "
    "additionalProperties patternProperties format default $defs if then".split()
)
garbage = st.recursive(
    json_values,
    lambda inner: (
        st.dictionaries(keywords | st.text(max_size=3), inner, max_size=4)
        | st.lists(inner, max_size=3)
    ),
    max_leaves=12,
)


@settings(max_examples=200, deadline=None)
@given(garbage, st.text(max_size=10))
def test_any_json_at_all_gives_an_object_and_never_raises(schema: Any, text: str) -> None:
    assert isinstance(arguments_for(schema, text=text), dict)


# -- the real tools ---------------------------------------------------------------------------


TOOLS = {t.name: t for t in available_tools(None)}


@pytest.mark.parametrize("tool", TOOLS.values(), ids=list(TOOLS))
def test_every_builtin_tool_gets_valid_arguments(tool: ToolInfo) -> None:
    out = args(tool.input_schema)
    assert set(out) >= set(tool.input_schema.get("required", []))


def test_host_tool_schemas_are_the_catalog_ones() -> None:
    host = [t for t in BUILTIN_TOOLS if t.kind in ("memory", "messaging")]
    assert {t.name for t in host} >= {"memory_search", "memory_store", "delegate", "inform"}
    for tool in host:
        args(tool.input_schema)


@pytest.mark.parametrize(
    ("tool", "field"),
    [
        ("memory_search", "query"),
        ("delegate", "request"),
        ("inform", "content"),
        ("contract_net", "task"),
        ("csv_parser", "text"),
        ("text", "text"),
        ("file_write", "content"),
        ("json_query", "data"),
    ],
)
def test_the_users_text_goes_where_content_goes(tool: str, field: str) -> None:
    assert args(TOOLS[tool].input_schema)[field] == TEXT


def test_plausible_values_by_name_default_and_enum() -> None:
    assert args(TOOLS["http_fetch"].input_schema) == {
        "url": "https://example.com/",
        "method": "GET",
    }
    assert args(TOOLS["memory_search"].input_schema)["limit"] == 10  # its default
    assert args(TOOLS["memory_store"].input_schema) == {
        "name": "summarise-last-weeks-sales",  # a name made from the text
        "type": "note",  # its default
        "observations": [TEXT],
    }
    assert args(TOOLS["memory_open"].input_schema) == {"names": ["summarise-last-weeks-sales"]}
    assert args(TOOLS["text"].input_schema)["op"] == "words"  # the first of the enum
    assert args(TOOLS["file_write"].input_schema)["path"] == "example.txt"


@pytest.mark.parametrize(
    ("text", "made"),
    [
        (TEXT, "summarise-last-weeks-sales"),
        ("What were last week’s sales, by region and product?", "what-were-last-weeks-sales"),
        ("  Ünïcode   STAYS: été 2024!", "ünïcode-stays-été-2024"),
        ("snake_case and CamelCase", "snake-case-and-camelcase"),
        ("cafe\u0301 au lait", "caf\u00e9-au-lait"),  # decomposed: one word all the same
        ("a" * 60 + " b", "a" * 48),
        ("one two three four five six", "one-two-three-four-five"),
        (
            "internationalisation localisation globalisation b",
            "internationalisation-localisation-globalisation",
        ),
        ("?!", ""),
        ("", ""),
    ],
)
def test_a_name_is_made_from_the_first_words(text: str, made: str) -> None:
    assert slug(text) == made


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200))
def test_a_made_name_is_short_words_joined_by_hyphens(text: str) -> None:
    made = slug(text)
    assert len(made) <= 48 and made == slug(text)
    assert made == "" or re.fullmatch(r"[^\W_]+(-[^\W_]+)*", made), made


def test_names_and_ids_get_a_name_made_from_the_text() -> None:
    schema = obj(
        ["name", "user_id", "entityId", "tags", "title", "n_id", "short_name", "code_id", "uid"],
        name={"type": "string"},
        user_id={"type": "string", "minLength": 1},
        entityId={},  # untyped: a string is allowed
        tags={"type": "array", "items": {"type": "string"}, "minItems": 1},
        title={"type": "string", "maxLength": 12},
        n_id={"type": "integer"},
        short_name={"type": "string", "maxLength": 2},
        code_id={"type": "string", "pattern": "^[0-9]+$"},
        uid={"type": "string", "format": "uuid"},
    )
    made = "summarise-last-weeks-sales"
    assert args(schema) == {
        "name": made,
        "user_id": made,
        "entityId": made,
        "tags": [made],
        "title": "summarise",  # cut to 12, without a hyphen at the end
        "n_id": 1,
        "short_name": "su",
        "code_id": "0",  # the made name breaks the pattern: the pattern's example
        "uid": "00000000-0000-4000-8000-000000000000",  # a format wins
    }
    assert args(schema, "¿?")["name"] == "name"  # no words to make a name of


def test_paths_stay_fixed_and_folders_are_the_tools_own() -> None:
    """A file-writing tool must not leave a file per request, nor write over a file the
    request names."""
    schema = obj(["path", "file_name", "output_dir", "folder"], **{
        k: {"type": "string"} for k in ("path", "file_name", "output_dir", "folder")
    })  # fmt: skip
    out = args(schema, "rewrite data/sales.csv")
    assert out == {"path": "example.txt", "file_name": "example.txt", "output_dir": ".",
                   "folder": "."}  # fmt: skip


def test_a_default_or_an_example_beats_a_made_name() -> None:
    schema = obj(
        ["name", "label"],
        name={"type": "string", "default": "main"},
        label={"type": "string", "examples": ["urgent"]},
    )
    assert args(schema) == {"name": "main", "label": "urgent"}


# -- the keywords, one by one -----------------------------------------------------------------


def test_text_that_does_not_fit_is_cut_or_replaced() -> None:
    short = obj(["query"], query={"type": "string", "maxLength": 5})
    assert args(short)["query"] == TEXT[:5]
    digits = obj(["query"], query={"type": "string", "pattern": r"^\d+$"})
    assert re.fullmatch(r"\d+", args(digits)["query"])
    long = obj(["query"], query={"type": "string", "minLength": 100})
    assert len(args(long, "hi")["query"]) >= 100


def test_formats_get_plausible_values() -> None:
    schema = obj(list(FORMATS), **{f: {"type": "string", "format": f} for f in FORMATS})
    out = args(schema)
    assert out["date"] == "2024-01-01" and out["email"] == "user@example.com"
    assert out["uri"].startswith("https://")


def test_patterns_are_matched() -> None:
    schema = obj(["code"], code={"type": "string", "pattern": r"^[A-Z]{3}-\d{4}(x|y)\1$"})
    assert re.search(r"^[A-Z]{3}-\d{4}(x|y)\1$", args(schema)["code"])


def test_numbers_respect_bounds_and_steps() -> None:
    schema = obj(
        ["a", "b", "c", "d"],
        a={"type": "integer", "minimum": 5},
        b={"type": "number", "exclusiveMinimum": 1, "exclusiveMaximum": 1.5},
        c={"type": "integer", "multipleOf": 7, "minimum": 100},
        d={"type": "number", "multipleOf": 0.25, "minimum": -3.1, "maximum": -3},
    )
    out = args(schema)
    assert out["a"] == 5 and out["c"] == 105 and out["d"] == -3.0


def test_unique_items_are_distinct() -> None:
    for items in ({"type": "string"}, {"type": "integer"}, {"enum": ["x", "y", "z"]}):
        schema = obj(["list"], list={"type": "array", "items": items, "minItems": 3})
        schema["properties"]["list"]["uniqueItems"] = True
        assert len(args(schema)["list"]) == 3


def test_one_of_takes_a_value_only_one_branch_accepts() -> None:
    schema = obj(["n"], n={"oneOf": [{"type": "integer"}, {"type": "number", "multipleOf": 0.5}]})
    args(schema)


def test_recursive_refs_terminate() -> None:
    tree = {
        "type": "object",
        "required": ["root"],
        "properties": {"root": {"$ref": "#/$defs/node"}},
        "$defs": {
            "node": {
                "type": "object",
                "required": ["label", "children"],
                "properties": {
                    "label": {"type": "string"},
                    "children": {"type": "array", "items": {"$ref": "#/$defs/node"}},
                },
            }
        },
    }
    args(tree)


def test_unsatisfiable_or_broken_schemas_give_an_empty_object() -> None:
    assert arguments_for(obj(["x"], x=False), text=TEXT) == {}
    assert arguments_for(obj(["x"], x={"$ref": "#/$defs/missing"}), text=TEXT) == {}
    assert arguments_for(obj(["x"], x={"type": "string", "pattern": "("}), text=TEXT) == {}
    assert arguments_for({"type": "string"}, text=TEXT) == {}


def test_optional_fields_are_left_out_unless_cheap() -> None:
    schema = obj(
        ["id"],
        id={"type": "integer"},
        title={"type": "string"},
        size={"type": "integer"},
        mode={"enum": ["fast", "slow"]},
        query={"type": "string"},
    )
    assert args(schema) == {"id": 1, "mode": "fast", "query": TEXT}


def test_when_all_is_optional_the_first_plain_field_is_filled_too() -> None:
    """`stats` needs `values` though nothing is required: a call with only defaults and enums
    would fail every time."""
    schema = obj([], op={"enum": ["describe"]}, values={"type": "array"}, x={"type": "array"})
    assert args(schema) == {"op": "describe", "values": [None]}
    assert args(TOOLS["stats"].input_schema) == {"op": "describe", "values": [1]}


def test_each_call_returns_a_fresh_object() -> None:
    schema = obj(["tags"], tags={"type": "array", "items": {"type": "string"}})
    first = arguments_for(schema, text=TEXT)
    first["tags"].append("mutated")
    assert arguments_for(schema, text=TEXT)["tags"] == ["summarise-last-weeks-sales"]
