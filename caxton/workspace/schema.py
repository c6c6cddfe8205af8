"""One declarative model, two uses: validating parsed TOML into typed objects, and JSON Schema.

Config classes are frozen dataclasses; each field's `metadata` (built with `spec()`) carries its
documentation and constraints. `Checker.build()` turns a parsed TOML table into an instance,
collecting every issue with the key path it belongs to; `json_schema()` describes the same rules
for editors. There is no second source of truth to drift.
"""

from __future__ import annotations

import dataclasses
import re
import types
import typing
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any, Literal, TypeVar, cast

from caxton.workspace.locate import KeyPath

T = TypeVar("T")

REQUIRED: Any = dataclasses.MISSING


def spec(
    doc: str,
    *,
    ge: float | None = None,
    le: float | None = None,
    min_len: int | None = None,
    max_len: int | None = None,
    pattern: str | None = None,
    pattern_hint: str | None = None,
    unique: bool = False,
    key_pattern: str | None = None,
    examples: list[Any] | None = None,
) -> dict[str, Any]:
    """Field metadata: documentation plus the constraints the checker enforces."""
    return {
        "doc": doc,
        "ge": ge,
        "le": le,
        "min_len": min_len,
        "max_len": max_len,
        "pattern": re.compile(pattern) if pattern else None,
        "pattern_hint": pattern_hint,
        "unique": unique,
        "key_pattern": re.compile(key_pattern) if key_pattern else None,
        "examples": examples,
    }


def field(default: Any = REQUIRED, *, factory: Callable[[], Any] | None = None, **meta: Any) -> Any:
    """A dataclass field with `spec()` metadata; no default means the key is required."""
    if factory is not None:
        return dataclasses.field(default_factory=factory, metadata=spec(**meta))
    return dataclasses.field(default=default, metadata=spec(**meta))


class TomlScalar:
    """Base of value types written as TOML strings (durations, sizes): the checker calls `parse`."""

    @classmethod
    def parse(cls, raw: Any) -> Any:
        """An instance from the parsed TOML value, or ValueError with a message for the user."""
        raise NotImplementedError

    @classmethod
    def json_schema(cls) -> dict[str, Any]:
        raise NotImplementedError

    def magnitude(self) -> float:
        """The number that `ge`/`le` bounds compare against (seconds for a duration)."""
        raise NotImplementedError

    @classmethod
    def unit_name(cls) -> str:
        raise NotImplementedError


@dataclass(frozen=True, slots=True)
class Issue:
    """A problem found while checking, not yet located in a file."""

    keypath: KeyPath
    message: str
    hint: str | None = None
    code: str = "invalid"
    at: Literal["key", "value"] = "value"
    severity: Literal["error", "warning"] = "error"


def toml_kind(value: object) -> str:
    """The TOML name of a parsed value's type, for messages."""
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a float"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "a table"
    return "a date/time"


def dotted(path: KeyPath) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out


def did_you_mean(word: str, choices: typing.Iterable[str], otherwise: str | None) -> str | None:
    """A hint naming the closest choice to a mistyped `word`, else `otherwise`."""
    close = suggest(word, choices)
    return f"did you mean {close!r}?" if close else otherwise


def suggest(word: str, choices: typing.Iterable[str]) -> str | None:
    """The closest of `choices` to a mistyped `word`, for "did you mean" hints."""
    import difflib  # only on the error path

    matches = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return matches[0] if matches else None


@dataclass(frozen=True, slots=True)
class _Field:
    name: str
    type: Any
    meta: Mapping[str, Any]
    required: bool
    default: Any


@cache
def _fields(cls: Any) -> tuple[_Field, ...]:
    hints = typing.get_type_hints(cls)
    out = []
    for f in dataclasses.fields(cls):
        required = f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        default = f.default if f.default is not dataclasses.MISSING else None
        out.append(_Field(f.name, hints[f.name], f.metadata or spec(""), required, default))
    return tuple(out)


def _optional_inner(tp: Any) -> Any:
    if isinstance(tp, types.UnionType) or typing.get_origin(tp) is typing.Union:
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(args) == 1:
            return args[0]
    return tp


_KINDS: dict[Any, tuple[str, Any]] = {}


def _kind(tp: Any) -> tuple[str, Any]:
    """How to check values of type `tp`, worked out once per type (validation is a hot path)."""
    found = _KINDS.get(tp)
    if found is not None:
        return found
    inner = _optional_inner(tp)
    origin = typing.get_origin(inner)
    kind: tuple[str, Any]
    if isinstance(inner, type) and issubclass(inner, TomlScalar):
        kind = ("parsed", inner)
    elif dataclasses.is_dataclass(inner) and isinstance(inner, type):
        kind = ("table", inner)
    elif origin is Literal:
        kind = ("literal", typing.get_args(inner))
    elif isinstance(inner, types.UnionType):
        kind = ("union", typing.get_args(inner))
    elif origin is list:
        kind = ("list", typing.get_args(inner)[0])
    elif origin is dict:
        kind = ("dict", typing.get_args(inner)[1])
    elif inner is typing.Any or inner is object:
        kind = ("any", None)
    else:
        kind = ("scalar", inner)
    _KINDS[tp] = kind
    return kind


_KIND_NAMES = {str: "a string", int: "an integer", float: "a number", bool: "a boolean"}


class Checker:
    """Builds typed config objects from parsed TOML, collecting every issue on the way."""

    def __init__(self, misplaced: Mapping[str, KeyPath] | None = None) -> None:
        self.issues: list[Issue] = []
        # Keys that belong at the top level but were found inside a table: name -> table path.
        self.misplaced = dict(misplaced or {})

    def add(self, keypath: KeyPath, message: str, hint: str | None = None, **kw: Any) -> None:
        self.issues.append(Issue(keypath, message, hint, **kw))

    def build(self, cls: type[T], data: Mapping[str, Any], path: KeyPath = ()) -> T | None:
        """An instance of `cls` from `data`, or None when a required value is missing or bad."""
        fields = _fields(cast(Hashable, cls))
        names = {f.name for f in fields}
        for key in data:
            if key not in names and not (path and key in self.misplaced):
                self._unknown_key(path, key, names)
        kwargs: dict[str, Any] = {}
        complete = True
        for f in fields:
            if f.name not in data:
                if f.required:
                    complete = False
                    if f.name not in self.misplaced:
                        self._missing(path, f)
                continue
            before = len(self.issues)
            value = self.convert(f.type, data[f.name], (*path, f.name), f.meta)
            if len(self.issues) == before:
                kwargs[f.name] = value
            elif f.required:
                complete = False
        return cls(**kwargs) if complete else None

    def _unknown_key(self, path: KeyPath, key: str, names: set[str]) -> None:
        where = f"in [{dotted(path)}]" if path else "at the top level"
        close = suggest(key, names)
        hint = (
            f"did you mean `{close}`?"
            if close
            else "valid keys here: " + ", ".join(f"`{n}`" for n in sorted(names))
        )
        self.add((*path, key), f"unknown key {key!r} {where}", hint, code="unknown-key", at="key")

    def _missing(self, path: KeyPath, f: _Field) -> None:
        where = f"[{dotted(path)}]" if path else "the top level"
        example = f.meta.get("examples")
        sample = f" = {_toml_literal(example[0])}" if example else " = ..."
        self.add(
            path,
            f"missing required key {f.name!r} in {where}",
            f"add `{f.name}{sample}` ({f.meta.get('doc', '')})".replace(" ()", ""),
            code="missing-key",
            at="key",
        )

    def convert(self, tp: Any, value: Any, path: KeyPath, meta: Mapping[str, Any]) -> Any:
        kind, arg = _kind(tp)
        if kind == "scalar":
            return self._scalar(arg, value, path, meta)
        if kind == "parsed":
            return self._parsed(arg, value, path, meta)
        if kind == "table":
            if not isinstance(value, dict):
                return self._wrong_type(path, "a table", value)
            return self.build(arg, value, path)
        if kind == "literal":
            if value not in arg:
                self._bad_choice(path, [str(c) for c in arg], value)
                return None
            return value
        if kind == "union":
            return self._union(arg, value, path)
        if kind == "list":
            return self._list(arg, value, path, meta)
        if kind == "dict":
            return self._table(arg, value, path, meta)
        return value  # "any"

    def _parsed(
        self, tp: type[TomlScalar], value: Any, path: KeyPath, meta: Mapping[str, Any]
    ) -> Any:
        try:
            parsed = tp.parse(value)
        except ValueError as exc:
            self.add(path, f"{dotted(path)}: {exc}", _scalar_hint(tp), code="bad-value")
            return None
        ge, le = meta.get("ge"), meta.get("le")
        size = parsed.magnitude()
        if (ge is not None and size < ge) or (le is not None and size > le):
            self.add(
                path,
                f"{dotted(path)} is {value}, out of range",
                f"use a value {_range(ge, le)} ({tp.unit_name()})",
                code="out-of-range",
            )
            return None
        return parsed

    def _bad_choice(self, path: KeyPath, choices: list[str], value: Any) -> None:
        otherwise = "one of: " + ", ".join(repr(c) for c in choices)
        hint = did_you_mean(value, choices, otherwise) if isinstance(value, str) else otherwise
        self.add(
            path,
            f"{dotted(path)} must be one of {', '.join(map(repr, choices))}, not {value!r}",
            hint,
            code="bad-choice",
        )

    def _union(self, arms: tuple[Any, ...], value: Any, path: KeyPath) -> Any:
        for arm in arms:
            trial = Checker()
            converted = trial.convert(arm, value, path, spec(""))
            if not trial.issues:
                return converted
        kinds = ", ".join(_type_schema_name(arm) for arm in arms)
        self.add(
            path,
            f"{dotted(path)} must be one of: {kinds}; not {toml_kind(value)}",
            code="wrong-type",
        )
        return None

    def _scalar(self, tp: Any, value: Any, path: KeyPath, meta: Mapping[str, Any]) -> Any:
        ok = (
            (tp is bool and isinstance(value, bool))
            or (tp is str and isinstance(value, str))
            or (tp is int and isinstance(value, int) and not isinstance(value, bool))
            or (tp is float and isinstance(value, int | float) and not isinstance(value, bool))
        )
        if not ok:
            return self._wrong_type(path, _KIND_NAMES.get(tp, str(tp)), value)
        if tp is float:
            value = float(value)
        if isinstance(value, int | float) and not isinstance(value, bool):
            ge, le = meta.get("ge"), meta.get("le")
            if (ge is not None and value < ge) or (le is not None and value > le):
                self.add(
                    path,
                    f"{dotted(path)} is {value}, out of range",
                    f"use a value {_range(ge, le)}",
                    code="out-of-range",
                )
                return None
        if isinstance(value, str):
            self._check_text(value, path, meta)
        return value

    def _check_text(self, value: str, path: KeyPath, meta: Mapping[str, Any]) -> None:
        min_len, max_len, pattern = meta.get("min_len"), meta.get("max_len"), meta.get("pattern")
        if min_len and len(value.strip()) < min_len:
            name = dotted(path)
            self.add(path, f"{name} is empty", "give it a value, or remove it", code="empty")
        elif max_len is not None and len(value) > max_len:
            self.add(
                path,
                f"{dotted(path)} is {len(value)} characters long; the limit is {max_len}",
                "shorten it",
                code="too-long",
            )
        elif pattern is not None and not pattern.fullmatch(value):
            self.add(
                path,
                f"{dotted(path)} {value!r} is not valid",
                meta.get("pattern_hint") or f"it must match {pattern.pattern}",
                code="bad-format",
            )

    def _list(self, item_tp: Any, value: Any, path: KeyPath, meta: Mapping[str, Any]) -> Any:
        name = dotted(path)  # cheap: lists are few
        if not isinstance(value, list):
            if isinstance(value, str):
                self.add(
                    path,
                    f"{name} must be an array, not a string",
                    f'wrap it in brackets: {path[-1]} = ["{value}"]',
                    code="wrong-type",
                )
                return None
            return self._wrong_type(path, "an array", value)
        min_len, max_len = meta.get("min_len"), meta.get("max_len")
        if min_len and len(value) < min_len:
            self.add(
                path,
                f"{name} is empty" if not value else f"{name} needs at least {min_len} entries",
                _examples_hint(path, meta),
                code="empty",
            )
            return None
        if max_len is not None and len(value) > max_len:
            self.add(
                path,
                f"{name} has {len(value)} entries; the limit is {max_len}",
                "remove some entries",
                code="too-long",
            )
            return None
        if (
            item_tp is str
            and all(isinstance(item, str) and item.strip() for item in value)
            and (meta.get("pattern") is None or all(meta["pattern"].fullmatch(i) for i in value))
            and (not meta.get("unique") or len(set(value)) == len(value))
        ):
            return list(value)  # the common case, checked in one pass
        item_meta = {**meta, "min_len": 1, "max_len": None}  # no empty strings in lists
        before = len(self.issues)
        out = [self.convert(item_tp, item, (*path, i), item_meta) for i, item in enumerate(value)]
        if meta.get("unique"):
            seen: set[str] = set()
            for i, item in enumerate(value):
                if isinstance(item, str) and item in seen:
                    self.add(
                        (*path, i),
                        f"{name} lists {item!r} twice",
                        "remove the duplicate",
                        code="duplicate",
                    )
                if isinstance(item, str):
                    seen.add(item)
        return out if len(self.issues) == before else None

    def _table(self, item_tp: Any, value: Any, path: KeyPath, meta: Mapping[str, Any]) -> Any:
        if not isinstance(value, dict):
            return self._wrong_type(path, "a table", value)
        key_pattern = meta.get("key_pattern")
        before = len(self.issues)
        out = {}
        for key, item in value.items():
            if len(path) == 1 and key in self.misplaced:
                continue
            if key_pattern is not None and not key_pattern.fullmatch(key):
                self.add(
                    (*path, key),
                    f"name {key!r} in [{dotted(path)}] is not valid",
                    meta.get("pattern_hint") or f"names must match {key_pattern.pattern}",
                    code="bad-name",
                    at="key",
                )
                continue
            out[key] = self.convert(item_tp, item, (*path, key), spec(""))
        return out if len(self.issues) == before else None

    def _wrong_type(self, path: KeyPath, expected: str, value: Any) -> None:
        name = dotted(path)
        got = toml_kind(value)
        hint = None
        key = path[-1] if path and isinstance(path[-1], str) else name
        if isinstance(value, str) and expected in ("an integer", "a number", "a boolean"):
            bare = value.strip().lower()
            as_bool = expected == "a boolean" and bare in ("true", "false")
            if as_bool or re.fullmatch(r"[-+]?\d+(\.\d+)?", bare):
                hint = f"write it without quotes: {key} = {bare}"
        if expected == "a table" and not isinstance(value, dict):
            hint = f"write it as a table: [{dotted(path)}] on its own line, then its keys"
        self.add(path, f"{name} must be {expected}, not {got}", hint, code="wrong-type")


def _anchored(pattern: str) -> str:
    """JSON Schema patterns search; the checker matches whole values."""
    return f"^(?:{pattern})$"


def _type_schema_name(tp: Any) -> str:
    if typing.get_origin(tp) is list:
        return "an array"
    return _KIND_NAMES.get(tp, getattr(tp, "__name__", str(tp)))


def _range(ge: float | None, le: float | None) -> str:
    if ge is not None and le is not None:
        return f"from {ge:g} to {le:g}"
    return f">= {ge:g}" if ge is not None else f"<= {le:g}"


def _examples_hint(path: KeyPath, meta: Mapping[str, Any]) -> str | None:
    examples = meta.get("examples")
    if not examples:
        return None
    return f"for example: {path[-1]} = {_toml_literal(examples[0])}"


def _scalar_hint(tp: type[TomlScalar]) -> str | None:
    examples = tp.json_schema().get("examples")
    return "write it like " + ", ".join(f'"{e}"' for e in examples) if examples else None


def _toml_literal(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, list):
        return "[" + ", ".join(_toml_literal(v) for v in value) + "]"
    return str(value)


def json_schema(cls: type, *, title: str | None = None) -> dict[str, Any]:
    """A JSON Schema (draft 2020-12) describing exactly what `Checker.build(cls, ...)` accepts."""
    schema = _object_schema(cls)
    schema = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        **({"title": title} if title else {}),
        **schema,
    }
    return schema


def _object_schema(cls: type) -> dict[str, Any]:
    props: dict[str, Any] = {}
    required = []
    for f in _fields(cls):
        prop = _type_schema(f.type, f.meta)
        if f.meta.get("doc"):
            prop["description"] = f.meta["doc"]
        if not f.required and f.default is not None:
            default = f.default
            if isinstance(default, TomlScalar):
                prop["default"] = str(default)
            elif not dataclasses.is_dataclass(default):
                prop["default"] = default
        if f.meta.get("examples"):
            prop["examples"] = f.meta["examples"]
        props[f.name] = prop
        if f.required:
            required.append(f.name)
    out: dict[str, Any] = {"type": "object", "properties": props, "additionalProperties": False}
    if required:
        out["required"] = required
    if cls.__doc__:
        out["description"] = cls.__doc__.strip().splitlines()[0]
    return out


def _type_schema(tp: Any, meta: Mapping[str, Any]) -> dict[str, Any]:
    tp = _optional_inner(tp)
    origin = typing.get_origin(tp)
    if isinstance(tp, types.UnionType):
        return {"anyOf": [_type_schema(arm, spec("")) for arm in typing.get_args(tp)]}
    if isinstance(tp, type) and issubclass(tp, TomlScalar):
        return dict(tp.json_schema())
    if dataclasses.is_dataclass(tp) and isinstance(tp, type):
        return _object_schema(tp)
    if origin is Literal:
        return {"enum": list(typing.get_args(tp))}
    if origin is list:
        item_meta = {
            **meta,
            "min_len": 1,
            "max_len": None,
            "doc": None,
            "examples": None,
        }
        out: dict[str, Any] = {
            "type": "array",
            "items": _type_schema(typing.get_args(tp)[0], item_meta),
        }
        if meta.get("min_len"):
            out["minItems"] = meta["min_len"]
        if meta.get("max_len") is not None:
            out["maxItems"] = meta["max_len"]
        if meta.get("unique"):
            out["uniqueItems"] = True
        return out
    if origin is dict:
        out = {
            "type": "object",
            "additionalProperties": _type_schema(typing.get_args(tp)[1], spec("")),
        }
        if meta.get("key_pattern") is not None:
            out["propertyNames"] = {"pattern": _anchored(meta["key_pattern"].pattern)}
        return out
    if isinstance(tp, type) and issubclass(tp, TomlScalar):
        return dict(tp.json_schema())
    if tp is typing.Any or tp is object:
        return {}
    out = {"type": {str: "string", int: "integer", float: "number", bool: "boolean"}[tp]}
    if meta.get("ge") is not None:
        out["minimum"] = meta["ge"]
    if meta.get("le") is not None:
        out["maximum"] = meta["le"]
    if tp is str:
        if meta.get("min_len"):
            out["minLength"] = meta["min_len"]
        if meta.get("max_len") is not None:
            out["maxLength"] = meta["max_len"]
        if meta.get("pattern") is not None:
            out["pattern"] = _anchored(meta["pattern"].pattern)
    return out
