"""Schema-valid arguments for a tool's JSON Schema: what the `test` model sends each tool.

Deterministic (same schema and text, same arguments) and cheap per call: a schema is planned
once into a value with slots where the user's text goes (content fields) or a name made from
it (names and ids), and each call only fills the slots.
Every candidate value is checked here against the schema (a small checker for the keywords tool
schemas use; the jsonschema package is too slow to import and run per call), so a schema outside
the subset costs an optional property or a fallback value, not an invalid argument where a
valid one was found. Schemas are treated as immutable: the plan is cached per schema object.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import math
import re
import threading
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

_MAX_DEPTH = 32  # nesting and $ref hops before a schema counts as unsatisfiable
_MAX_CANDIDATES = 200  # candidates tried per value before giving up on it
_CACHE_SIZE = 1024

_CONTENT_WORDS = frozenset(
    "text query queries request input content contents prompt message messages question "
    "questions body data task instruction instructions q search topic goal observation "
    "observations note notes comment statement sentence sentences description".split()
)
_NAME_WORDS = frozenset(
    "name names title label entity entities id ids identifier slug tag tags".split()
)
_URL_WORDS = frozenset("url uri link href endpoint website homepage".split())
_EMAIL_WORDS = frozenset("email mail".split())
_DIR_WORDS = frozenset("dir dirs directory folder".split())
_PATH_WORDS = frozenset("path file filename filepath".split())
_SLUG_WORDS = 5  # a name made from the text: its first words...
_SLUG_CHARS = 48  # ...up to this long

_URL = "https://example.com/"
_FORMATS = {
    "date": "2024-01-01",
    "date-time": "2024-01-01T00:00:00Z",
    "time": "00:00:00Z",
    "duration": "P1D",
    "email": "user@example.com",
    "idn-email": "user@example.com",
    "hostname": "example.com",
    "idn-hostname": "example.com",
    "ipv4": "127.0.0.1",
    "ipv6": "::1",
    "uri": _URL,
    "url": _URL,
    "iri": _URL,
    "uri-reference": _URL,
    "iri-reference": _URL,
    "uri-template": _URL + "{id}",
    "uuid": "00000000-0000-4000-8000-000000000000",
    "regex": ".*",
    "json-pointer": "/",
    "relative-json-pointer": "0",
}
# keywords under which the user's text could turn a valid value invalid (it might match the
# excluded branch, equal a sibling, ...): inside them, strings keep their planned value
_SLOT_UNSAFE = ("not", "if", "oneOf", "contains", "dependentSchemas", "unevaluatedProperties")


class _NoValue(Exception):
    """Nothing this module tries satisfies the schemas."""


_WORD = re.compile(r"[^\W_]+(?:['\u2019][^\W_]+)*")  # letters and digits; "week's" is one


def slug(text: str) -> str:
    """A name made from `text`: its first few words, lowercased and joined by hyphens
    ("What were last week's sales?" -> "what-were-last-weeks-sales"); "" without words."""
    found = itertools.islice(_WORD.finditer(unicodedata.normalize("NFC", text)), _SLUG_WORDS)
    words = [re.sub("['\u2019]", "", m.group()).casefold() for m in found]
    out = words[0][:_SLUG_CHARS] if words else ""
    for word in words[1:_SLUG_WORDS]:
        if len(out) + 1 + len(word) > _SLUG_CHARS:
            break
        out += "-" + word
    return out


class _Given:
    """What one call fills the slots with: the text, and the name made from it (on demand:
    most tools have no name field)."""

    __slots__ = ("_name", "text")

    def __init__(self, text: str) -> None:
        self.text = text
        self._name: str | None = None

    @property
    def name(self) -> str:
        if self._name is None:
            self._name = slug(self.text)
        return self._name


@dataclass(frozen=True, slots=True)
class _Slot:
    """A string that carries the user's text (`named`: the name made from it) when it fits
    the constraints, else `fallback`."""

    fallback: str
    min_length: int
    max_length: int | None
    patterns: tuple[re.Pattern[str], ...]
    named: bool = False

    def fill(self, given: _Given) -> str:
        text = given.name if self.named else given.text
        if self.max_length is not None and len(text) > self.max_length:
            cut = text[: self.max_length]
            if self.named and text[self.max_length] != "-" and "-" in cut:
                cut = cut[: cut.rindex("-")]  # whole words, when one fits
            text = cut.rstrip("-") if self.named else cut
        if len(text) < self.min_length or (self.named and not text):
            return self.fallback
        for pattern in self.patterns:
            if pattern.search(text) is None:
                return self.fallback
        return text


Build = Callable[[_Given], Any]  # the call's text -> a fresh copy of a planned value


@dataclass(frozen=True, slots=True)
class _Plan:
    schema: Any  # kept alive so its id() cannot be reused while cached
    build: Build


_plans: dict[int, _Plan] = {}
_plans_lock = threading.Lock()


def arguments_for(schema: dict[str, Any], *, text: str) -> dict[str, Any]:
    """A JSON object valid against `schema`, with `text` in fields that carry the user's content
    and a name made from it (`slug(text)`) in fields that hold a name or an id.

    Required properties are always filled; optional ones when cheap (a default, a const, an
    enum, examples, or a content field). Never raises: a schema nothing here satisfies gives
    `{}` (the tool then says what it misses). A fresh object each call.
    """
    plan = _plans.get(id(schema))
    if plan is None or plan.schema is not schema:
        plan = _plan(schema)
        with _plans_lock:
            if len(_plans) >= _CACHE_SIZE:
                _plans.pop(next(iter(_plans)))
            _plans[id(schema)] = plan
    out: dict[str, Any] = plan.build(_Given(text))
    return out


def _plan(schema: Any) -> _Plan:
    try:
        value = _gen([schema, {"type": "object"}], None, _Ctx(schema, slots=True), 0, 0)
    except Exception:  # any schema at all, from any MCP server: never fail the caller
        value = {}
    if not isinstance(value, dict):
        value = {}
    return _Plan(schema, _builder(value) or (lambda _: value))


def _builder(value: Any) -> Build | None:
    """How to make `value` for a text, or None when it is a constant that can be shared.

    A container is copied from a template and only its slots and nested containers are
    rebuilt: a copy keeps the keys in order, and assigning an existing key keeps its place.
    """
    if isinstance(value, _Slot):
        return value.fill
    if isinstance(value, dict):
        template = dict(value)
        keyed = [(k, b) for k, v in value.items() if (b := _builder(v)) is not None]

        def build_dict(given: _Given) -> dict[str, Any]:
            out = template.copy()
            for key, build in keyed:
                out[key] = build(given)
            return out

        return build_dict
    if isinstance(value, list):
        items = list(value)
        placed = [(i, b) for i, v in enumerate(value) if (b := _builder(v)) is not None]

        def build_list(given: _Given) -> list[Any]:
            out = items.copy()
            for i, build in placed:
                out[i] = build(given)
            return out

        return build_list
    return None


def _materialize(value: Any) -> Any:
    """The value as planned, slots holding their fallback: what the checker sees."""
    if isinstance(value, _Slot):
        return value.fallback
    if isinstance(value, dict):
        return {k: _materialize(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_materialize(v) for v in value]
    return value


# -- names ------------------------------------------------------------------------------------


def _words(name: str | None) -> list[str]:
    if not name:
        return []
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", name)
    return [w for w in re.split(r"[^0-9a-zA-Z]+", spaced.lower()) if w]


def _is_content(name: str | None) -> bool:
    return any(w in _CONTENT_WORDS for w in _words(name))


def _special(name: str | None) -> str | None:
    """A plausible value for a field whose name says what it holds. Paths are fixed, never
    made from the request: a tool that writes must not leave a file per request, nor write
    over a file the request names."""
    words = _words(name)
    if any(w in _URL_WORDS for w in words):
        return _URL
    if any(w in _EMAIL_WORDS for w in words):
        return "user@example.com"
    if any(w in _DIR_WORDS for w in words):
        return "."  # the tool's own root folder, which exists
    if any(w in _PATH_WORDS for w in words):
        return "example.txt"
    return None


def _is_name(name: str | None) -> bool:
    """Does the field hold a name or an id (and not a URL, an address or a path)?"""
    return any(w in _NAME_WORDS for w in _words(name)) and _special(name) is None


# -- generation -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Ctx:
    root: Any  # where "#/$defs/..." points into
    slots: bool  # may strings here carry the user's text


def _resolve(root: Any, ref: str) -> Any:
    if ref == "#":
        return root
    if not ref.startswith("#/"):
        return None  # remote and $id-based references are outside the subset
    node = root
    for part in ref[2:].split("/"):
        part = part.replace("~1", "/").replace("~0", "~")
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return None
    return node


def _expand(schemas: list[Any], root: Any) -> list[dict[str, Any]]:
    """The conjunction as plain dicts: `true` dropped, `$ref` and `allOf` followed."""
    out: list[dict[str, Any]] = []
    seen: set[int] = set()

    def add(schema: Any, hops: int) -> None:
        if hops > _MAX_DEPTH:
            raise _NoValue
        if schema is False:
            raise _NoValue
        if not isinstance(schema, dict) or id(schema) in seen:
            return
        seen.add(id(schema))
        out.append(schema)
        ref = schema.get("$ref")
        if isinstance(ref, str):
            target = _resolve(root, ref)
            if target is None:
                raise _NoValue
            add(target, hops + 1)
        all_of = schema.get("allOf")
        if isinstance(all_of, list):
            for sub in all_of:
                add(sub, hops + 1)

    for schema in schemas:
        add(schema, 0)
    return out


def _gen(schemas: list[Any], name: str | None, ctx: _Ctx, depth: int, variant: int) -> Any:
    """The `variant`-th value (0 is the preferred one) that satisfies every schema listed."""
    return _solve(_expand(schemas, ctx.root), (), name, ctx, depth, variant)


def _solve(
    conj: list[dict[str, Any]],
    guards: tuple[dict[str, Any], ...],  # chosen anyOf/oneOf: the value must still pass them
    name: str | None,
    ctx: _Ctx,
    depth: int,
    variant: int,
) -> Any:
    if depth > _MAX_DEPTH:
        raise _NoValue
    if ctx.slots and any(k in s for s in conj for k in _SLOT_UNSAFE):
        ctx = _Ctx(ctx.root, slots=False)
    for i, schema in enumerate(conj):
        for key in ("anyOf", "oneOf"):
            branches = schema.get(key)
            if not isinstance(branches, list):
                continue
            # $ref and allOf are already expanded into `conj`
            rest = {k: v for k, v in schema.items() if k not in (key, "$ref", "allOf")}
            others = [*conj[:i], rest, *conj[i + 1 :]]
            for branch in branches:
                try:
                    extra = _expand([branch], ctx.root)
                    return _solve(
                        [*others, *extra], (*guards, schema), name, ctx, depth + 1, variant
                    )
                except _NoValue:
                    continue
            raise _NoValue
    seen: set[str] = set()
    found = 0
    for tried, candidate in enumerate(_candidates(conj, name, ctx, depth, variant)):
        if tried >= _MAX_CANDIDATES:
            break
        plain = _materialize(candidate)
        key = _key(plain)
        if key in seen or not all(_check(s, plain, ctx.root) for s in (*conj, *guards)):
            continue
        seen.add(key)
        if found == variant:
            return candidate
        found += 1
    raise _NoValue


def _key(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=repr)


def _meet(kind: str, listed: list[str]) -> str | None:
    if kind in listed:
        return kind
    if kind in ("number", "integer") and ("number" in listed or "integer" in listed):
        return "integer"
    return None


def _types(conj: list[dict[str, Any]], name: str | None) -> list[str]:
    """The JSON types a value may have, most meaningful first."""
    allowed: list[str] | None = None
    for schema in conj:
        t = schema.get("type")
        if t is None:
            continue
        listed = [t] if isinstance(t, str) else [x for x in t if isinstance(x, str)]
        if allowed is None:
            allowed = listed
        else:
            allowed = [m for x in allowed if (m := _meet(x, listed)) is not None]
    if allowed is None:
        keys = {k for s in conj for k in s}
        inferred = []
        if keys & {"properties", "required", "additionalProperties", "patternProperties"}:
            inferred.append("object")
        if keys & {"items", "prefixItems", "minItems", "maxItems", "uniqueItems"}:
            inferred.append("array")
        if keys & {"minLength", "maxLength", "pattern", "format"}:
            inferred.append("string")
        if keys & {"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf"}:
            inferred.append("number")
        rest = ["null", "string", "integer", "number", "boolean", "object", "array"]
        allowed = inferred + rest
    if _is_content(name) and "string" in allowed:
        allowed = ["string", *allowed]
    return list(dict.fromkeys(allowed))


def _candidates(
    conj: list[dict[str, Any]], name: str | None, ctx: _Ctx, depth: int, variant: int
) -> Iterator[Any]:
    consts = [s["const"] for s in conj if "const" in s]
    if consts:
        yield consts[0]
        return
    enums = [s["enum"] for s in conj if isinstance(s.get("enum"), list)]
    if enums:
        yield from enums[0]
        return
    types = _types(conj, name)
    if (
        ctx.slots
        and variant == 0
        and types
        and types[0] == "string"
        and _is_content(name)
        and not any("format" in s for s in conj)
    ):
        slot = _slot(conj, name, ctx.root)
        if slot is not None:
            yield slot
    for schema in conj:
        if "default" in schema:
            yield schema["default"]
    for schema in conj:
        examples = schema.get("examples")
        if isinstance(examples, list):
            yield from examples
    if (
        ctx.slots
        and variant == 0
        and "string" in types
        and _is_name(name)
        and not any("format" in s for s in conj)
    ):
        slot = _slot(conj, name, ctx.root, named=True)
        if slot is not None:
            yield slot
    for t in types:
        if t == "string":
            yield from _strings(conj, name, variant)
        elif t in ("integer", "number"):
            yield from _numbers(conj, integer=t == "integer")
        elif t == "boolean":
            yield from (False, True)
        elif t == "null":
            yield None
        elif t == "object":
            yield from _objects(conj, name, ctx, depth, variant)
        elif t == "array":
            yield from _arrays(conj, name, ctx, depth, variant)


def _string_limits(conj: list[dict[str, Any]]) -> tuple[int, int | None, list[str]]:
    low, high, patterns = 0, None, []
    for schema in conj:
        if isinstance(schema.get("minLength"), int):
            low = max(low, schema["minLength"])
        if isinstance(schema.get("maxLength"), int):
            high = schema["maxLength"] if high is None else min(high, schema["maxLength"])
        if isinstance(schema.get("pattern"), str):
            patterns.append(schema["pattern"])
    return low, high, patterns


def _slot(
    conj: list[dict[str, Any]], name: str | None, root: Any, *, named: bool = False
) -> _Slot | None:
    low, high, patterns = _string_limits(conj)
    try:
        compiled = tuple(re.compile(p) for p in patterns)
    except re.error:
        return None
    for tried, fallback in enumerate(_strings(conj, name, 0)):
        if tried >= _MAX_CANDIDATES:
            break
        if all(_check(s, fallback, root) for s in conj):
            return _Slot(fallback, low, high, compiled, named)
    return None


def _strings(conj: list[dict[str, Any]], name: str | None, variant: int) -> Iterator[str]:
    low, high, patterns = _string_limits(conj)
    bases: list[str] = []
    for schema in conj:
        fmt = schema.get("format")
        if isinstance(fmt, str) and fmt in _FORMATS:
            bases.append(_FORMATS[fmt])
    special = _special(name)
    if special is not None:
        bases.append(special)
    if name:
        bases.append(name)
    bases.append("example")
    bases.extend(e for p in patterns if (e := _regex_example(p)) is not None)
    bases.extend(("", "a", "0"))
    for base in bases:
        yield _fit(base, low, high)
    stem = name or "example"
    for i in range(1, variant + _MAX_CANDIDATES):
        yield _fit(f"{stem}{i}", low, high)
        for p in patterns:
            example = _regex_example(p, repeat=i)
            if example is not None:
                yield _fit(example, low, high)


def _fit(value: str, low: int, high: int | None) -> str:
    if len(value) < low:
        value += "x" * (low - len(value))
    if high is not None and len(value) > high:
        value = value[:high]
    return value


def _numbers(conj: list[dict[str, Any]], *, integer: bool) -> Iterator[int | float]:
    def numbers(key: str) -> list[float]:
        return [
            s[key]
            for s in conj
            if isinstance(s.get(key), int | float) and not isinstance(s[key], bool)
        ]

    lows = numbers("minimum") + numbers("exclusiveMinimum")
    highs = numbers("maximum") + numbers("exclusiveMaximum")
    low = max(lows) if lows else None
    high = min(highs) if highs else None
    steps = [m for m in numbers("multipleOf") if m > 0]
    step: float = steps[0] if steps else 1
    yield from (1, 0)
    anchors = [(a, d) for a, d in ((low, 1), (high, -1)) if a is not None and math.isfinite(a)]
    if not integer and not steps:
        if low is not None and high is not None:
            yield (low + high) / 2
        for anchor, direction in anchors:
            yield from (anchor, anchor + direction * 0.5, anchor + direction * 1e-6)
    for anchor, direction in anchors or [(0.0, 1)]:
        try:
            k = math.ceil(anchor / step) if direction > 0 else math.floor(anchor / step)
        except (OverflowError, ValueError):
            continue
        for i in range(48):
            value = (k + direction * i) * step
            if not math.isfinite(value):
                break
            if isinstance(value, float) and value.is_integer() and (integer or not steps):
                yield int(value)
            yield value
            if isinstance(value, float) and round(value, 9) != value:
                yield round(value, 9)
    yield from range(2, 2 + _MAX_CANDIDATES)


def _schemas_for(conj: list[dict[str, Any]], key: str) -> list[Any] | None:
    """What the value of property `key` must satisfy; None when no schema allows the key."""
    out: list[Any] = []
    for schema in conj:
        matched = False
        props = schema.get("properties")
        if isinstance(props, dict) and key in props:
            out.append(props[key])
            matched = True
        patterns = schema.get("patternProperties")
        if isinstance(patterns, dict):
            for pattern, sub in patterns.items():
                if _search(pattern, key):
                    out.append(sub)
                    matched = True
        if not matched and "additionalProperties" in schema:
            extra = schema["additionalProperties"]
            if extra is False:
                return None
            out.append(extra)
    return out


def _cheap(subs: list[Any], key: str, root: Any) -> bool:
    """Worth filling when optional: the schema or the name says what a good value is."""
    try:
        conj = _expand(subs, root)
    except _NoValue:
        return False
    if any(k in s for s in conj for k in ("default", "const", "enum", "examples")):
        return True
    stringly = any(s.get("type") == "string" for s in conj)
    return stringly and _is_content(key)


def _objects(
    conj: list[dict[str, Any]], name: str | None, ctx: _Ctx, depth: int, variant: int
) -> Iterator[dict[str, Any]]:
    names: dict[str, None] = {}
    required: dict[str, None] = {}
    low, high = 0, None
    for schema in conj:
        if isinstance(schema.get("properties"), dict):
            names.update(dict.fromkeys(schema["properties"]))
        if isinstance(schema.get("required"), list):
            required.update(dict.fromkeys(r for r in schema["required"] if isinstance(r, str)))
        if isinstance(schema.get("minProperties"), int):
            low = max(low, schema["minProperties"])
        if isinstance(schema.get("maxProperties"), int):
            m = schema["maxProperties"]
            high = m if high is None else min(high, m)
    if high is not None and len(required) > high:
        return
    out: dict[str, Any] = {}
    pending = variant

    def add(key: str, subs: list[Any]) -> None:
        nonlocal pending
        out[key] = _gen(subs, key, ctx, depth + 1, pending)
        pending = 0

    order = list(names) + [r for r in required if r not in names]
    try:
        for key in order:
            subs = _schemas_for(conj, key)
            if key in required:
                if subs is None:
                    return
                add(key, subs)
            elif subs is not None and _cheap(subs, key, ctx.root):
                if high is not None and len(out) + len(required) - _count(out, required) >= high:
                    continue
                with contextlib.suppress(_NoValue):
                    add(key, subs)
        if not required and (high is None or len(out) < high):
            # a tool whose every input is optional usually needs one: the first, then
            for key in names:
                subs = _schemas_for(conj, key)
                if key not in out and subs is not None and not _cheap(subs, key, ctx.root):
                    try:
                        add(key, subs)
                        break
                    except _NoValue:
                        continue
        _add_dependents(conj, out, add)
    except _NoValue:
        return
    for key in [*names, *(f"key{i}" for i in range(1, low + 1))]:
        if len(out) >= low:
            break
        subs = _schemas_for(conj, key)
        if key not in out and subs is not None:
            try:
                add(key, subs)
            except _NoValue:
                continue
    yield out


def _count(out: dict[str, Any], required: dict[str, None]) -> int:
    return sum(1 for r in required if r in out)


def _add_dependents(conj: list[dict[str, Any]], out: dict[str, Any], add: Any) -> None:
    for schema in conj:
        deps = schema.get("dependentRequired")
        if not isinstance(deps, dict):
            continue
        for key, needed in deps.items():
            if key in out and isinstance(needed, list):
                for other in needed:
                    subs = _schemas_for(conj, other) if isinstance(other, str) else None
                    if other not in out and subs is not None:
                        add(other, subs)


def _arrays(
    conj: list[dict[str, Any]], name: str | None, ctx: _Ctx, depth: int, variant: int
) -> Iterator[list[Any]]:
    low, high, unique = 0, None, False
    shapes: list[tuple[list[Any], Any]] = []  # per schema: prefixItems, then items
    for schema in conj:
        if isinstance(schema.get("minItems"), int):
            low = max(low, schema["minItems"])
        if isinstance(schema.get("maxItems"), int):
            m = schema["maxItems"]
            high = m if high is None else min(high, m)
        unique = unique or schema.get("uniqueItems") is True
        prefix = schema.get("prefixItems")
        items = schema.get("items", True)
        if isinstance(items, list):  # the pre-2020 tuple form
            prefix, items = items, True
        if isinstance(prefix, list) or "items" in schema:
            shapes.append((prefix if isinstance(prefix, list) else [], items))
    if high is not None and low > high:
        return

    def build(count: int) -> list[Any]:
        # distinct items cannot all carry the same text: only a lone item may
        item_ctx = _Ctx(ctx.root, slots=ctx.slots and (not unique or count == 1))
        out = []
        for i in range(count):
            subs = [p[i] if i < len(p) else it for p, it in shapes]
            wanted = (i if unique else 0) + (variant if i == 0 else 0)
            out.append(_gen(subs, name, item_ctx, depth + 1, wanted))
        return out

    counts = [max(low, 1), low] if high is None or high >= 1 else [low]
    for count in dict.fromkeys(counts):
        try:
            yield build(count)
        except _NoValue:
            continue


# -- regular expressions ----------------------------------------------------------------------


def _search(pattern: str, value: str) -> bool:
    try:
        return re.search(pattern, value) is not None
    except re.error:
        return False


def _regex_example(pattern: str, repeat: int = 0) -> str | None:
    """A string the pattern matches, built from its parse tree (`repeat` more per repetition)."""
    try:
        from re import _parser  # type: ignore[attr-defined,unused-ignore]

        tree = _parser.parse(pattern)
        out: list[str] = []
        _emit(tree, out, {}, repeat)
    except Exception:  # the parser is private API: any surprise means "no example"
        return None
    example = "".join(out)
    return example if _search(pattern, example) else None


_CATEGORY_CHARS = {
    "CATEGORY_DIGIT": "0",
    "CATEGORY_NOT_DIGIT": "a",
    "CATEGORY_SPACE": " ",
    "CATEGORY_NOT_SPACE": "a",
    "CATEGORY_WORD": "a",
    "CATEGORY_NOT_WORD": "-",
}
_CATEGORY_TESTS: dict[str, Callable[[str], bool]] = {
    "CATEGORY_DIGIT": str.isdigit,
    "CATEGORY_NOT_DIGIT": lambda c: not c.isdigit(),
    "CATEGORY_SPACE": str.isspace,
    "CATEGORY_NOT_SPACE": lambda c: not c.isspace(),
    "CATEGORY_WORD": lambda c: c.isalnum() or c == "_",
    "CATEGORY_NOT_WORD": lambda c: not (c.isalnum() or c == "_"),
}


def _in_set(char: str, items: list[tuple[Any, Any]]) -> bool:
    for op, av in items:
        kind = getattr(op, "name", "")
        if (
            (kind == "LITERAL" and chr(av) == char)
            or (kind == "RANGE" and av[0] <= ord(char) <= av[1])
            or (kind == "CATEGORY" and _CATEGORY_TESTS[av.name](char))
        ):
            return True
    return False


def _emit(items: Any, out: list[str], groups: dict[int, str], repeat: int) -> None:
    for op, av in items:
        kind = getattr(op, "name", "")
        if kind == "LITERAL":
            out.append(chr(av))
        elif kind == "NOT_LITERAL":
            out.append("b" if chr(av) == "a" else "a")
        elif kind == "ANY":
            out.append("a")
        elif kind == "CATEGORY":
            out.append(_CATEGORY_CHARS[av.name])
        elif kind == "IN":
            out.append(_pick(av))
        elif kind in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"):
            low, high, sub = av
            times = low + repeat
            if isinstance(high, int) and high < times:
                times = high
            for _ in range(times):
                _emit(sub, out, groups, repeat)
        elif kind == "SUBPATTERN":
            group, _, _, sub = av
            start = len(out)
            _emit(sub, out, groups, repeat)
            if group is not None:
                groups[group] = "".join(out[start:])
        elif kind == "ATOMIC_GROUP":
            _emit(av, out, groups, repeat)
        elif kind == "BRANCH":
            _emit(av[1][0], out, groups, repeat)
        elif kind == "GROUPREF":
            out.append(groups.get(av, ""))
        elif kind in ("AT", "ASSERT", "ASSERT_NOT"):
            continue  # anchors take no characters; lookarounds are checked on the result
        else:
            raise ValueError(kind)


def _pick(items: list[tuple[Any, Any]]) -> str:
    if items and getattr(items[0][0], "name", "") == "NEGATE":
        rest = items[1:]
        for char in "aZ0_ -!x~":
            if not _in_set(char, rest):
                return char
        raise ValueError("negated set")
    op, av = items[0]
    kind = getattr(op, "name", "")
    if kind == "LITERAL":
        return chr(av)
    if kind == "RANGE":
        return chr(av[0])
    if kind == "CATEGORY":
        return _CATEGORY_CHARS[av.name]
    raise ValueError(kind)


# -- checking ---------------------------------------------------------------------------------


def _is_type(value: Any, name: str) -> bool:
    if name == "string":
        return isinstance(value, str)
    if name == "object":
        return isinstance(value, dict)
    if name == "array":
        return isinstance(value, list)
    if name == "null":
        return value is None
    if name == "boolean":
        return isinstance(value, bool)
    if isinstance(value, bool):
        return False
    if name == "integer":
        return isinstance(value, int) or (isinstance(value, float) and value.is_integer())
    if name == "number":
        return isinstance(value, int | float)
    return False


def _equal(a: Any, b: Any) -> bool:
    """JSON equality: `1 == 1.0`, but `true` is not `1`."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_equal(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_equal(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and bool(a == b)


def _multiple(value: int | float, step: int | float) -> bool:
    if isinstance(step, float):
        quotient = value / step
        try:
            return int(quotient) == quotient
        except (OverflowError, ValueError):
            return False
    return not value % step


def _check(schema: Any, value: Any, root: Any, depth: int = 0) -> bool:
    """Does `value` satisfy `schema`, for the keywords tool schemas use (Draft 2020-12)."""
    if schema is True:
        return True
    if schema is False or depth > _MAX_DEPTH:
        return False
    if not isinstance(schema, dict):
        return True
    s = schema
    if isinstance(s.get("$ref"), str):
        target = _resolve(root, s["$ref"]) if root is not None else None
        if target is None or not _check(target, value, root, depth + 1):
            return False
    t = s.get("type")
    if t is not None:
        listed = [t] if isinstance(t, str) else t
        if not any(_is_type(value, x) for x in listed if isinstance(x, str)):
            return False
    if "const" in s and not _equal(value, s["const"]):
        return False
    if isinstance(s.get("enum"), list) and not any(_equal(value, e) for e in s["enum"]):
        return False
    d = depth + 1
    if isinstance(s.get("allOf"), list) and not all(_check(x, value, root, d) for x in s["allOf"]):
        return False
    if isinstance(s.get("anyOf"), list) and not any(_check(x, value, root, d) for x in s["anyOf"]):
        return False
    one_of = s.get("oneOf")
    if isinstance(one_of, list) and sum(_check(x, value, root, d) for x in one_of) != 1:
        return False
    if "not" in s and _check(s["not"], value, root, d):
        return False
    if "if" in s:
        branch = "then" if _check(s["if"], value, root, d) else "else"
        if branch in s and not _check(s[branch], value, root, d):
            return False
    if isinstance(value, str):
        return _check_string(s, value)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return _check_number(s, value)
    if isinstance(value, dict):
        return _check_object(s, value, root, d)
    if isinstance(value, list):
        return _check_array(s, value, root, d)
    return True


def _check_string(s: dict[str, Any], value: str) -> bool:
    if isinstance(s.get("minLength"), int) and len(value) < s["minLength"]:
        return False
    if isinstance(s.get("maxLength"), int) and len(value) > s["maxLength"]:
        return False
    return not (isinstance(s.get("pattern"), str) and not _search(s["pattern"], value))


def _check_number(s: dict[str, Any], value: float) -> bool:
    if not math.isfinite(value):
        return False

    def bound(key: str) -> float | None:
        b = s.get(key)
        return b if isinstance(b, int | float) and not isinstance(b, bool) else None

    low, high = bound("minimum"), bound("maximum")
    xlow, xhigh, step = bound("exclusiveMinimum"), bound("exclusiveMaximum"), bound("multipleOf")
    return not (
        (low is not None and value < low)
        or (high is not None and value > high)
        or (xlow is not None and value <= xlow)
        or (xhigh is not None and value >= xhigh)
        or (step is not None and step > 0 and not _multiple(value, step))
    )


def _check_object(s: dict[str, Any], value: dict[str, Any], root: Any, d: int) -> bool:
    required = s.get("required")
    if isinstance(required, list) and any(r not in value for r in required):
        return False
    if isinstance(s.get("minProperties"), int) and len(value) < s["minProperties"]:
        return False
    if isinstance(s.get("maxProperties"), int) and len(value) > s["maxProperties"]:
        return False
    props = s.get("properties")
    props = props if isinstance(props, dict) else {}
    patterns = s.get("patternProperties")
    patterns = patterns if isinstance(patterns, dict) else {}
    names = s.get("propertyNames")
    for key, item in value.items():
        matched = False
        if key in props:
            matched = True
            if not _check(props[key], item, root, d):
                return False
        for pattern, sub in patterns.items():
            if _search(pattern, key):
                matched = True
                if not _check(sub, item, root, d):
                    return False
        if (
            not matched
            and "additionalProperties" in s
            and not _check(s["additionalProperties"], item, root, d)
        ):
            return False
        if names is not None and not _check(names, key, root, d):
            return False
    deps = s.get("dependentRequired")
    if isinstance(deps, dict):
        for key, needed in deps.items():
            if key in value and isinstance(needed, list) and any(n not in value for n in needed):
                return False
    dep_schemas = s.get("dependentSchemas")
    if isinstance(dep_schemas, dict):
        for key, sub in dep_schemas.items():
            if key in value and not _check(sub, value, root, d):
                return False
    return True


def _check_array(s: dict[str, Any], value: list[Any], root: Any, d: int) -> bool:
    if isinstance(s.get("minItems"), int) and len(value) < s["minItems"]:
        return False
    if isinstance(s.get("maxItems"), int) and len(value) > s["maxItems"]:
        return False
    prefix = s.get("prefixItems")
    prefix = prefix if isinstance(prefix, list) else []
    for item, sub in zip(value, prefix, strict=False):
        if not _check(sub, item, root, d):
            return False
    if "items" in s and not all(_check(s["items"], x, root, d) for x in value[len(prefix) :]):
        return False
    if s.get("uniqueItems") is True:
        for i, a in enumerate(value):
            if any(_equal(a, b) for b in value[i + 1 :]):
                return False
    if "contains" in s:
        hits = sum(_check(s["contains"], x, root, d) for x in value)
        low = s.get("minContains", 1)
        high = s.get("maxContains")
        if (isinstance(low, int) and hits < low) or (isinstance(high, int) and hits > high):
            return False
    return True
