"""The built-in `schema_validate`: JSON Schema checks in the sandbox, agreeing with `jsonschema`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from caxton.errors import ExitCode
from caxton.tools.registry import ToolArgumentsError, call, find_tool
from caxton.tools.sandbox import Sandbox
from tests.conftest import Cli


@pytest.fixture(scope="module")
def sandbox() -> Sandbox:
    return Sandbox()


def run(sandbox: Sandbox, **arguments: Any) -> tuple[str, bool]:
    result = call(find_tool(None, "schema_validate"), arguments, None, sandbox)
    return result.text(), result.is_error


def check(sandbox: Sandbox, schema: Any, instance: Any, **more: Any) -> dict[str, Any]:
    """The answer for a schema and a value, both given as JSON values."""
    text, failed = run(sandbox, schema=schema, instance=instance, **more)
    assert not failed, text
    answer: dict[str, Any] = json.loads(text)
    assert answer["valid"] == (answer["errors"] == [])
    return answer


def errors(sandbox: Sandbox, schema: Any, instance: Any) -> list[tuple[str, str]]:
    """(path, keyword) of each error."""
    return [(e["path"], e["keyword"]) for e in check(sandbox, schema, instance)["errors"]]


def refused(sandbox: Sandbox, **arguments: Any) -> str:
    """The message of an error result."""
    text, failed = run(sandbox, **arguments)
    assert failed, text
    return text


def test_a_valid_document_is_an_answer_not_an_error(sandbox: Sandbox) -> None:
    schema = {"type": "object", "properties": {"id": {"type": "integer"}}, "required": ["id"]}
    assert check(sandbox, schema, {"id": 7}) == {"valid": True, "errors": []}
    answer = check(sandbox, schema, {"id": "7"})
    assert answer == {
        "valid": False,
        "errors": [
            {
                "path": "/id",
                "keyword": "type",
                "message": "expected integer, got string",
                "schema_path": "/properties/id/type",
            }
        ],
    }


def test_types(sandbox: Sandbox) -> None:
    assert errors(sandbox, {"type": "integer"}, 1.0) == []  # no fractional part: an integer
    assert errors(sandbox, {"type": "integer"}, 1.5) == [("", "type")]
    assert errors(sandbox, {"type": "number"}, True) == [("", "type")]
    assert errors(sandbox, {"type": ["string", "null"]}, None) == []
    answer = check(sandbox, {"type": ["string", "null", "array"]}, 3)
    assert answer["errors"][0]["message"] == "expected string, null or array, got integer"
    assert errors(sandbox, {"type": "object"}, []) == [("", "type")]


def test_enum_and_const_compare_json_values(sandbox: Sandbox) -> None:
    assert errors(sandbox, {"enum": [1, "x", None]}, 1.0) == []
    assert errors(sandbox, {"enum": [1, "x", None]}, True) == [("", "enum")]
    assert errors(sandbox, {"const": {"a": [1, {"b": None}]}}, {"a": [1.0, {"b": None}]}) == []
    assert errors(sandbox, {"const": {"a": 1, "b": 2}}, {"b": 2, "a": 1}) == []
    assert errors(sandbox, {"const": {"a": 1}}, {"a": 1, "b": 2}) == [("", "const")]
    assert errors(sandbox, {"const": False}, 0) == [("", "const")]
    message = check(sandbox, {"enum": ["red", "green"]}, "blue")["errors"][0]["message"]
    assert message == 'must be one of ["red","green"]'


def test_numbers(sandbox: Sandbox) -> None:
    bounds = {"minimum": 1, "maximum": 10, "exclusiveMaximum": 10}
    assert errors(sandbox, bounds, 1) == []
    assert errors(sandbox, bounds, 0.5) == [("", "minimum")]
    assert errors(sandbox, bounds, 10) == [("", "exclusiveMaximum")]
    assert errors(sandbox, bounds, 11) == [("", "maximum"), ("", "exclusiveMaximum")]
    assert errors(sandbox, {"exclusiveMinimum": 0}, 0) == [("", "exclusiveMinimum")]
    assert check(sandbox, {"minimum": 2.5}, 1)["errors"][0]["message"] == "must be >= 2.5 (got 1)"
    assert errors(sandbox, {"multipleOf": 3}, 9) == []
    assert errors(sandbox, {"multipleOf": 3}, 10) == [("", "multipleOf")]
    assert errors(sandbox, {"multipleOf": 0.01}, 19.99) == []  # decimal, despite binary floats
    assert errors(sandbox, {"multipleOf": 0.01}, 19.995) == [("", "multipleOf")]
    assert errors(sandbox, {"minimum": 5}, "text") == []  # numeric keywords ignore non-numbers


def test_string_lengths_count_characters(sandbox: Sandbox) -> None:
    assert errors(sandbox, {"minLength": 3, "maxLength": 3}, "é😀a") == []  # 7 bytes, 3 characters
    assert errors(sandbox, {"maxLength": 2}, "é😀a") == [("", "maxLength")]
    assert errors(sandbox, {"minLength": 2}, "😀") == [("", "minLength")]
    message = check(sandbox, {"minLength": 2}, "😀")["errors"][0]["message"]
    assert message == "must have at least 2 characters (has 1)"
    message = check(sandbox, {"minLength": 1}, "")["errors"][0]["message"]
    assert message == "must have at least 1 character (has 0)"


@pytest.mark.parametrize(
    ("pattern", "matching", "other"),
    [
        (r"^\d{4}-\d{2}-\d{2}$", "2024-01-31", "2024-1-31"),
        (r"^(?:ab)+$", "abab", "aba"),
        (r"^[\w.-]+@[^\s@]+\.[a-z]{2,}$", "a.b-c@x.org", "a b@x.org"),
        (r"^a.*?b$", "axxb", "axx"),
        (r"^\u00e9\.$", "é.", "e."),
        (r"^.{2}$", "é😀", "é😀x"),  # characters, not bytes
        (r"^[^\d\s]+$", "abc", "a1"),
        (r"^[a\-z]+$", "a-z", "b"),
        (r"\/x", "a/x", "ax"),
        (r"^\w+$", "abc_1", "é"),  # \w is ASCII only, as in ECMA-262
        ("colou?r", "the colour", "colo"),  # not anchored: a search
    ],
)
def test_patterns_are_ecma_262(sandbox: Sandbox, pattern: str, matching: str, other: str) -> None:
    assert errors(sandbox, {"pattern": pattern}, matching) == []
    assert errors(sandbox, {"pattern": pattern}, other) == [("", "pattern")]


def test_arrays(sandbox: Sandbox) -> None:
    assert errors(sandbox, {"items": {"type": "integer"}}, [1, "a", 2, None]) == [
        ("/1", "type"),
        ("/3", "type"),
    ]
    tuple_ = {"prefixItems": [{"type": "string"}, {"type": "integer"}], "items": False}
    assert errors(sandbox, tuple_, ["a", 1]) == []
    assert errors(sandbox, tuple_, ["a"]) == []
    assert errors(sandbox, tuple_, [1, 1, 1]) == [("/0", "type"), ("", "items")]
    draft7 = {"items": [{"type": "string"}], "additionalItems": {"type": "boolean"}}
    assert errors(sandbox, draft7, ["a", True, 3]) == [("/2", "type")]
    assert errors(sandbox, {"minItems": 2, "maxItems": 3}, [1]) == [("", "minItems")]
    assert errors(sandbox, {"minItems": 2, "maxItems": 3}, [1, 2, 3, 4]) == [("", "maxItems")]


def test_unique_items(sandbox: Sandbox) -> None:
    unique = {"uniqueItems": True}
    assert errors(sandbox, unique, [1, True, "1", [1], {"a": 1}, None, False, 0]) == []
    answer = check(sandbox, unique, [{"a": 1, "b": [2]}, 3, {"b": [2.0], "a": 1}])
    assert answer["errors"][0]["message"] == "items 0 and 2 are equal; items must be unique"
    assert errors(sandbox, unique, [*range(5000), 4999.0]) == [("", "uniqueItems")]


def test_contains(sandbox: Sandbox) -> None:
    assert errors(sandbox, {"contains": {"type": "string"}}, [1, "a"]) == []
    assert errors(sandbox, {"contains": {"type": "string"}}, [1, 2]) == [("", "contains")]
    assert errors(sandbox, {"contains": {"type": "string"}}, []) == [("", "contains")]
    counted = {"contains": {"type": "string"}, "minContains": 2, "maxContains": 3}
    assert errors(sandbox, counted, ["a", 1]) == [("", "minContains")]
    assert errors(sandbox, counted, ["a", "b", "c", "d"]) == [("", "maxContains")]
    message = check(sandbox, counted, ["a", "b", "c", "d", "e"])["errors"][0]["message"]
    assert message == "must contain at most 3 items matching `contains` (has at least 4)"
    assert errors(sandbox, {"contains": False, "minContains": 0}, [1]) == []


def test_objects(sandbox: Sandbox) -> None:
    schema = {
        "properties": {"name": {"type": "string"}},
        "patternProperties": {"^x-": {"type": "integer"}},
        "additionalProperties": False,
        "required": ["name", "id"],
    }
    assert errors(sandbox, schema, {"name": "n", "id": 1, "x-a": 1}) == [
        ("/id", "additionalProperties")
    ]
    assert errors(sandbox, schema, {"name": 1, "x-a": "s", "z": 0}) == [
        ("/name", "type"),
        ("/x-a", "type"),
        ("/z", "additionalProperties"),
        ("", "required"),
    ]
    typed_rest = {"properties": {"a": True}, "additionalProperties": {"type": "integer"}}
    assert errors(sandbox, typed_rest, {"a": "x", "b": "y"}) == [("/b", "type")]
    counts = {"minProperties": 1, "maxProperties": 2}
    assert errors(sandbox, counts, {}) == [("", "minProperties")]
    assert errors(sandbox, counts, {"a": 1, "b": 2, "c": 3}) == [("", "maxProperties")]
    names = {"propertyNames": {"pattern": "^[a-z]+$"}}
    answer = check(sandbox, names, {"ok": 1, "Bad": 2})
    assert [(e["path"], e["keyword"]) for e in answer["errors"]] == [
        ("", "propertyNames"),
        ("", "pattern"),
    ]
    assert '"Bad"' in answer["errors"][0]["message"]
    required = check(sandbox, {"required": ["a", "b"]}, {"a": 1})["errors"]
    assert required[0]["message"] == 'missing required property "b"'


def test_dependencies(sandbox: Sandbox) -> None:
    schema = {
        "dependentRequired": {"card": ["billing"]},
        "dependentSchemas": {"vat": {"required": ["country"]}},
    }
    assert errors(sandbox, schema, {"name": 1}) == []
    assert errors(sandbox, schema, {"card": 1, "vat": 2}) == [
        ("", "dependentRequired"),
        ("", "required"),
    ]
    draft7 = {"dependencies": {"card": ["billing"], "vat": {"required": ["country"]}}}
    assert errors(sandbox, draft7, {"card": 1, "vat": 2}) == [
        ("", "dependencies"),
        ("", "required"),
    ]


def test_combinators(sandbox: Sandbox) -> None:
    both = {"allOf": [{"type": "integer"}, {"minimum": 3}]}
    assert errors(sandbox, both, 2) == [("", "minimum")]
    assert errors(sandbox, both, "x") == [("", "type")]
    nullable = {"anyOf": [{"type": "string", "minLength": 3}, {"type": "null"}]}
    assert errors(sandbox, nullable, None) == []
    # none matches, and only the string branch is for strings: its reason follows
    assert errors(sandbox, nullable, "ab") == [("", "anyOf"), ("", "minLength")]
    assert errors(sandbox, nullable, 5) == [("", "anyOf")]
    one = {"oneOf": [{"type": "integer"}, {"minimum": 0}]}
    assert errors(sandbox, one, -1) == []
    assert errors(sandbox, one, 1.5) == []
    assert errors(sandbox, one, -1.5) == [("", "oneOf")]
    message = check(sandbox, one, 1)["errors"][0]["message"]
    assert message == "matches more than one schema in oneOf (0 and 1); exactly one must match"
    assert errors(sandbox, {"not": {"type": "null"}}, None) == [("", "not")]
    conditional = {
        "if": {"properties": {"kind": {"const": "card"}}},
        "then": {"required": ["number"]},
        "else": {"required": ["iban"]},
    }
    assert errors(sandbox, conditional, {"kind": "card", "number": "1"}) == []
    assert errors(sandbox, conditional, {"kind": "card"}) == [("", "required")]
    assert check(sandbox, conditional, {"kind": "bank"})["errors"][0]["schema_path"] == (
        "/else/required"
    )


def test_boolean_schemas(sandbox: Sandbox) -> None:
    assert errors(sandbox, True, {"anything": [1]}) == []
    assert errors(sandbox, False, None) == [("", "false")]
    assert errors(sandbox, {"properties": {"a": False}}, {"a": 1, "b": 2}) == [("/a", "false")]


def test_refs(sandbox: Sandbox) -> None:
    schema = {
        "$id": "https://example.com/order.json",
        "$defs": {"money": {"type": "number", "minimum": 0}, "a/b~c": {"type": "string"}},
        "definitions": {"sku": {"pattern": "^[A-Z]{3}-\\d+$"}},
        "properties": {
            "total": {"$ref": "#/$defs/money"},
            "sku": {"$ref": "#/definitions/sku"},
            "note": {"$ref": "#/$defs/a~1b~0c"},
            "tax": {"$ref": "https://example.com/order.json#/$defs/money"},
            "lines": {"type": "array", "items": {"$ref": "#/properties/total"}},
            "copy": {"$ref": "#/%24defs/money"},
        },
    }
    good = {"total": 3, "sku": "ABC-12", "note": "n", "tax": 0, "lines": [1, 2], "copy": 1}
    assert errors(sandbox, schema, good) == []
    bad = {"total": -1, "sku": "abc", "note": 1, "tax": "0", "lines": [1, -2], "copy": -1}
    answer = check(sandbox, schema, bad)
    assert [(e["path"], e["schema_path"]) for e in answer["errors"]] == [
        ("/total", "/$defs/money/minimum"),
        ("/sku", "/definitions/sku/pattern"),
        ("/note", "/$defs/a~1b~0c/type"),
        ("/tax", "/$defs/money/type"),
        ("/lines/1", "/$defs/money/minimum"),
        ("/copy", "/$defs/money/minimum"),
    ]
    # a $ref beside other keywords: both apply (2020-12)
    assert errors(sandbox, {**schema, "$ref": "#/$defs/money", "maximum": 5}, 7) == [
        ("", "maximum")
    ]
    # the same $ref twice on one value, one after the other, is not a loop
    twice = {"$defs": {"d": {}}, "$ref": "#/$defs/d", "allOf": [{"$ref": "#/$defs/d"}]}
    assert errors(sandbox, twice, None) == []


def test_recursive_refs_on_deep_data(sandbox: Sandbox) -> None:
    tree = {
        "$defs": {
            "node": {
                "type": "object",
                "properties": {
                    "value": {"type": "integer"},
                    "children": {"type": "array", "items": {"$ref": "#/$defs/node"}},
                    "next": {"anyOf": [{"type": "null"}, {"$ref": "#/$defs/node"}]},
                },
                "additionalProperties": False,
            }
        },
        "$ref": "#/$defs/node",
    }
    deep: dict[str, Any] = {"value": 0, "next": None}
    for i in range(1, 250):
        deep = {"value": i, "children": [{"value": -i}], "next": deep} if i % 2 else {"next": deep}
    assert errors(sandbox, tree, deep) == []
    broken: dict[str, Any] = {"value": "bottom"}
    for _ in range(120):
        broken = {"children": [broken]}
    answer = check(sandbox, tree, broken)
    assert answer["errors"][0]["path"] == "/children/0" * 120 + "/value"
    assert answer["errors"][0]["schema_path"] == "/$defs/node/properties/value/type"


def test_ref_loops_and_runaway_depth_are_error_results(sandbox: Sandbox) -> None:
    assert "loop" in refused(sandbox, schema={"$ref": "#"}, instance=1)
    loop = {"$defs": {"a": {"allOf": [{"$ref": "#/$defs/b"}]}, "b": {"$ref": "#/$defs/a"}}}
    assert "loop" in refused(sandbox, schema={**loop, "$ref": "#/$defs/a"}, instance={})
    chain: dict[str, Any] = {
        f"d{i}": {"allOf": [{"$ref": f"#/$defs/d{i + 1}"}]} for i in range(3000)
    }
    chain["d3000"] = {"type": "integer"}
    message = refused(sandbox, schema={"$defs": chain, "$ref": "#/$defs/d0"}, instance=1)
    assert "nests more than 1024 subschemas deep" in message


def test_deep_instances_are_refused_not_crashed_on(sandbox: Sandbox) -> None:
    assert check(sandbox, {}, json.loads("[" * 256 + "]" * 256))["valid"]
    message = refused(sandbox, schema={}, instance_json="[" * 257 + "]" * 257)
    assert message == (
        "`instance_json` nests deeper than 256 levels; schema_validate checks documents up to "
        "256 levels deep"
    )
    assert "deeper than 256" in refused(sandbox, schema={}, instance_json="[" * 100_000)
    assert "deeper than 256" in refused(sandbox, schema_json='{"not":' * 300 + "{}" + "}" * 300)
    deep: Any = 1
    for _ in range(300):
        deep = {"a": deep}
    assert "`instance` nests deeper than 256" in refused(sandbox, schema={}, instance=deep)


def test_error_paths_are_json_pointers(sandbox: Sandbox) -> None:
    schema = {"additionalProperties": {"items": {"type": "string"}}}
    answer = check(sandbox, schema, {"a/b": ["x", 1], "~c": [2], "é": [None]})
    assert [e["path"] for e in answer["errors"]] == ["/a~1b/1", "/~0c/0", "/é/0"]


def test_max_errors(sandbox: Sandbox) -> None:
    schema = {"items": {"type": "integer"}}
    many = ["x"] * 50
    answer = check(sandbox, schema, many)
    assert len(answer["errors"]) == 20 and answer["truncated"] is True
    answer = check(sandbox, schema, many, max_errors=3)
    assert [e["path"] for e in answer["errors"]] == ["/0", "/1", "/2"] and answer["truncated"]
    answer = check(sandbox, schema, ["x"] * 3, max_errors=3)
    assert len(answer["errors"]) == 3 and "truncated" not in answer


def test_json_given_as_text(sandbox: Sandbox) -> None:
    schema_json = '\ufeff{"type": "array", "items": {"type": "string"}}\n'  # with a BOM
    text, failed = run(sandbox, schema_json=schema_json, instance_json='["a", "b\\n", "\\u00e9"]')
    assert not failed and json.loads(text)["valid"]
    text, failed = run(sandbox, schema={"type": "string"}, instance_json='"é"')
    assert not failed and json.loads(text)["valid"]
    text, failed = run(sandbox, schema={"type": "string"}, instance="[1]")  # a string value
    assert not failed and json.loads(text)["valid"]


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (
            {"schema": {}, "instance_json": '{"a": 1,\n "b": }'},
            "`instance_json` is not JSON: expected a JSON value (line 2, column 7)",
        ),
        (
            {"schema_json": "{'type': 'string'}", "instance": 1},
            "`schema_json` is not JSON: expected a property name in double quotes "
            "(line 1, column 2)",
        ),
        ({"schema": {}, "instance_json": ""}, "`instance_json` is not JSON: it is empty"),
        ({"schema": {}, "instance_json": "[1] [2]"}, "unexpected text after the JSON value"),
        ({"schema": {}, "instance_json": "[NaN]"}, "expected a JSON value"),
        ({"schema": {}, "instance_json": "[1,]"}, "expected a JSON value"),
        ({"schema": {}, "instance_json": '"\\x"'}, "invalid escape in a string"),
        ({"schema": {}, "instance_json": '"abc'}, "a string is not closed"),
        ({"schema": {}, "instance_json": "01"}, "unexpected text after the JSON value"),
        ({"schema": {}}, "`instance` (the value itself) or `instance_json`"),
        ({"instance": 1}, "`schema` (the schema itself) or `schema_json`"),
        ({"schema": {}, "instance": 1, "instance_json": "1"}, "not both"),
    ],
)
def test_text_that_is_not_json(sandbox: Sandbox, arguments: dict[str, Any], message: str) -> None:
    assert message in refused(sandbox, **arguments)


@pytest.mark.parametrize(
    ("schema", "message"),
    [
        ({"type": 5}, "invalid schema at /type: `type` must be a type name"),
        ({"type": ["string", "text"]}, "invalid schema at /type"),
        ({"properties": {"a": {"minimum": "3"}}}, "at /properties/a/minimum: `minimum` must be"),
        ({"items": {"minItems": -1}}, "at /items/minItems: `minItems` must be a non-negative"),
        ({"required": "a"}, "`required` must be an array of strings"),
        ({"anyOf": []}, "`anyOf` must be a non-empty array of schemas"),
        ({"allOf": [1]}, "at /allOf/0: an item of `allOf` must be a schema"),
        ({"not": "x"}, "`not` must be a schema"),
        ({"multipleOf": 0}, "`multipleOf` must be a number greater than 0"),
        ({"exclusiveMinimum": True}, "draft-04's boolean form is not supported"),
        ({"pattern": "(a"}, 'the pattern "(a" is not a regular expression'),
        ({"pattern": "(?=a)b"}, "lookahead, lookbehind and inline flags"),
        ({"pattern": "(a)\\1"}, "backreferences"),
        ({"patternProperties": {"[": {}}}, "at /patternProperties/[: the pattern"),
        ({"$ref": "other.json#/a"}, "only references inside this schema"),
        ({"$ref": "#anchor"}, "anchors are not supported"),
        ({"$ref": "#/$defs/missing"}, "points at nothing"),
        ({"$defs": {"a": {"type": 1}}}, "invalid schema at /$defs/a/type"),
        (3, "a schema must be an object or a boolean"),
    ],
)
def test_invalid_schemas_are_error_results(sandbox: Sandbox, schema: Any, message: str) -> None:
    assert message in refused(sandbox, schema_json=json.dumps(schema), instance=1)


def test_a_schema_passed_as_a_string_is_refused_before_the_call(sandbox: Sandbox) -> None:
    with pytest.raises(ToolArgumentsError, match="schema"):
        run(sandbox, schema='{"type": "string"}', instance="x")


def test_annotations_and_unsupported_keywords(sandbox: Sandbox) -> None:
    schema = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "t",
        "format": "email",  # accepted, not asserted: the specification's default
        "x-vendor": {"type": 5},
        "properties": {"a": {"unevaluatedProperties": False}},
    }
    answer = check(sandbox, schema, "not an email")
    assert answer == {
        "valid": True,
        "errors": [],
        "unsupported": ["/properties/a/unevaluatedProperties"],
    }


def test_the_cli_runs_it(workspace: Path, cli: Cli) -> None:
    arguments = {"schema": {"required": ["id"]}, "instance": {"name": "x"}}
    result = cli("tool", "test", "schema_validate", "--call", json.dumps(arguments))
    assert result.code == 0, result.err  # an invalid document is still an answer
    assert json.loads(result.out)["errors"][0]["message"] == 'missing required property "id"'
    assert " fuel, " in result.err
    arguments = {"schema": {"type": 5}, "instance": 1}
    result = cli("tool", "test", "schema_validate", "--call", json.dumps(arguments))
    assert result.code == ExitCode.TOOL_FAILED and "invalid schema at /type" in result.out


# ---- agreement with the `jsonschema` package on generated schemas and values ----

KEYS = ["a", "b", "c"]
# no newline: Python's `$` also matches before a final newline, ECMA-262's does not
TEXT = st.text(alphabet="ab1 é😀_-", max_size=4)
# integers and quarters: exact in binary, so multipleOf needs no rounding allowance
NUMBERS = st.one_of(st.integers(-5, 5), st.integers(-20, 20).map(lambda n: n / 4))
VALUES = st.recursive(
    st.one_of(st.none(), st.booleans(), NUMBERS, TEXT),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.sampled_from(KEYS), inner, max_size=3)
    ),
    max_leaves=8,
)
TYPES = ["null", "boolean", "object", "array", "number", "string", "integer"]
# patterns that mean the same in ECMA-262, Python's re and POSIX after translation
PATTERNS = ["^a", "b$", "^[a-c]+$", r"\d", "^.{2}$", "^(?:ab)+$", "a|1", "[^a]", "^[_a-z]*$", "😀"]
COUNTS = st.integers(0, 3)


def leaf_keywords(refs: bool) -> st.SearchStrategy[dict[str, Any]]:
    bound = st.sampled_from(["minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"])
    size = st.sampled_from(
        ["minLength", "maxLength", "minItems", "maxItems", "minProperties", "maxProperties"]
    )
    names = st.lists(st.sampled_from(KEYS), max_size=2, unique=True)
    options = [
        st.builds(
            lambda t: {"type": t},
            st.sampled_from(TYPES) | st.lists(st.sampled_from(TYPES), min_size=1, max_size=3),
        ),
        st.builds(lambda v: {"enum": v}, st.lists(VALUES, min_size=1, max_size=3)),
        st.builds(lambda v: {"const": v}, VALUES),
        st.builds(lambda k, n: {k: n}, bound, NUMBERS),
        st.builds(lambda n: {"multipleOf": n}, st.sampled_from([1, 2, 3, 0.5, 0.25])),
        st.builds(lambda k, n: {k: n}, size, COUNTS),
        st.builds(lambda p: {"pattern": p}, st.sampled_from(PATTERNS)),
        st.just({"uniqueItems": True}),
        st.builds(lambda r: {"required": r}, names),
        st.builds(
            lambda d: {"dependentRequired": d},
            st.dictionaries(st.sampled_from(KEYS), names, max_size=2),
        ),
        st.just({"format": "email"}),
    ]
    if refs:
        options.append(st.just({"$ref": "#/$defs/d"}))
    return st.one_of(options)


def applicators(sub: st.SearchStrategy[Any]) -> st.SearchStrategy[dict[str, Any]]:
    schemas = st.lists(sub, min_size=1, max_size=3)
    by_key = st.dictionaries(st.sampled_from(KEYS), sub, max_size=2)
    return st.one_of(
        st.builds(lambda s: {"items": s}, sub),
        st.builds(lambda p, s: {"prefixItems": p, "items": s}, schemas, sub),
        st.builds(
            lambda s, extra: {"contains": s, **extra},
            sub,
            st.sampled_from([{}, {"minContains": 0}, {"minContains": 2}, {"maxContains": 1}]),
        ),
        st.builds(lambda p: {"properties": p}, by_key),
        st.builds(lambda s: {"additionalProperties": s}, sub),
        st.builds(
            lambda p: {"patternProperties": p},
            st.dictionaries(st.sampled_from(["^a", "b|c"]), sub, max_size=2),
        ),
        st.builds(lambda s: {"propertyNames": s}, sub),
        st.builds(lambda d: {"dependentSchemas": d}, by_key),
        st.builds(lambda k, ss: {k: ss}, st.sampled_from(["allOf", "anyOf", "oneOf"]), schemas),
        st.builds(lambda s: {"not": s}, sub),
        st.builds(
            lambda c, t, e: {"if": c, **t, **e},
            sub,
            st.one_of(st.just({}), sub.map(lambda s: {"then": s})),
            st.one_of(st.just({}), sub.map(lambda s: {"else": s})),
        ),
    )


def merged(parts: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for part in parts:
        out.update(part)
    return out


def schemas(refs: bool) -> st.SearchStrategy[Any]:
    leaves = st.one_of(st.booleans(), st.lists(leaf_keywords(refs), max_size=2).map(merged))
    return st.recursive(
        leaves,
        lambda sub: st.lists(st.one_of(leaf_keywords(refs), applicators(sub)), max_size=3).map(
            merged
        ),
        max_leaves=6,
    )


# `$defs/d` holds no $ref: no cycles, which jsonschema would recurse on forever
DOCUMENTS = st.builds(
    lambda d, s: {"$defs": {"d": d}, "allOf": [s]}, schemas(refs=False), schemas(refs=True)
)


@settings(max_examples=50, deadline=None)
@given(schema=DOCUMENTS, instance=VALUES)
def test_agrees_with_jsonschema(sandbox: Sandbox, schema: Any, instance: Any) -> None:
    expected = jsonschema.Draft202012Validator(schema).is_valid(instance)
    answer = check(sandbox, schema, instance)
    assert answer["valid"] == expected, answer["errors"]
