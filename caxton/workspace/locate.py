"""Where each key and value sits in a TOML text, so errors can say `line:col`.

`tomllib` parses fast but forgets positions. Errors are rare, so instead of a slower
position-tracking parser on every load, this scanner runs only when a problem must be located.
It assumes the text already parsed with `tomllib` (it is never the judge of validity).
"""

from __future__ import annotations

import bisect
import contextlib
from dataclasses import dataclass

KeyPath = tuple[str | int, ...]

_BARE_KEY_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")
_SCALAR_END = frozenset(",]}\n\r#")


@dataclass(frozen=True, slots=True)
class Span:
    """Offsets of a key (or table header) and of its value; for tables both are the header."""

    key: int
    value: int
    end: int


class KeyIndex:
    """Maps key paths (table names, keys, array indexes) to offsets in the text."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.spans: dict[KeyPath, Span] = {}
        self._line_starts = [0]
        for i, ch in enumerate(text):
            if ch == "\n":
                self._line_starts.append(i + 1)
        _Scanner(text, self.spans).run()

    @staticmethod
    def offset_to_line_col(text: str, offset: int) -> tuple[int, int]:
        line_start = text.rfind("\n", 0, offset) + 1
        return text.count("\n", 0, offset) + 1, offset - line_start + 1

    def line_col(self, offset: int) -> tuple[int, int]:
        line = bisect.bisect_right(self._line_starts, offset) - 1
        return line + 1, offset - self._line_starts[line] + 1

    def find(self, path: KeyPath) -> Span | None:
        """The span of `path`, or of its nearest ancestor that has one."""
        for cut in range(len(path), 0, -1):
            span = self.spans.get(path[:cut])
            if span is not None:
                return span
        return None

    def key_pos(self, path: KeyPath) -> tuple[int, int]:
        span = self.find(path)
        return self.line_col(span.key) if span else (1, 1)

    def value_pos(self, path: KeyPath) -> tuple[int, int]:
        span = self.find(path)
        return self.line_col(span.value) if span else (1, 1)

    def pos_in_value(self, path: KeyPath, needle: str) -> tuple[int, int]:
        """Position of `needle` inside the raw text of the value at `path` (a placeholder, say)."""
        span = self.spans.get(path)
        if span is None:
            return self.value_pos(path)
        found = self.text.find(needle, span.value, span.end)
        return self.line_col(found if found >= 0 else span.value)


def find_duplicate_key(text: str) -> tuple[str, int] | None:
    """The dotted name and offset of the first key assigned twice (tomllib cannot say where)."""
    scanner = _Scanner(text, {})
    with contextlib.suppress(IndexError, ValueError):
        scanner.run()  # the text is invalid somewhere; what was scanned before that still counts
    if not scanner.duplicates:
        return None
    path, offset = scanner.duplicates[0]
    return ".".join(str(part) for part in path), offset


def _decode_basic_string(quoted: str) -> str:
    import tomllib  # only quoted keys with escapes get here; keep start-up light

    try:
        value: str = tomllib.loads("k = " + quoted)["k"]
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(str(exc)) from exc
    return value


class _Scanner:
    def __init__(self, text: str, out: dict[KeyPath, Span]) -> None:
        self.s = text
        self.n = len(text)
        self.i = 0
        self.out = out
        self.aot_index: dict[KeyPath, int] = {}
        self.assigned: set[KeyPath] = set()
        self.duplicates: list[tuple[KeyPath, int]] = []

    def run(self) -> None:
        table: KeyPath = ()
        while True:
            self._skip_blank(newlines=True)
            if self.i >= self.n:
                return
            start = self.i
            if self.s.startswith("[[", self.i):
                self.i += 2
                names = [name for name, _ in self._key()]
                parent = self._resolve(names[:-1])
                array_path = (*parent, names[-1])
                index = self.aot_index.get(array_path, -1) + 1
                self.aot_index[array_path] = index
                table = (*array_path, index)
                self.out.setdefault(array_path, Span(start, start, start))
                self._skip_line()
                self.out[table] = Span(start, start, self.i)
            elif self.s[self.i] == "[":
                self.i += 1
                table = self._resolve([name for name, _ in self._key()])
                self._skip_line()
                self.out.setdefault(table, Span(start, start, self.i))
            else:
                self._key_value(table)

    def _resolve(self, names: list[str]) -> KeyPath:
        path: KeyPath = ()
        for name in names:
            path = (*path, name)
            if path in self.aot_index:
                path = (*path, self.aot_index[path])
        return path

    def _key_value(self, base: KeyPath) -> None:
        parts = self._key()
        path = base
        for name, offset in parts:
            path = (*path, name)
            self.out.setdefault(path, Span(offset, offset, offset))
        if path in self.assigned:
            self.duplicates.append((path, parts[-1][1]))
        self.assigned.add(path)
        self._skip_blank(newlines=False)
        self.i += 1  # "="
        self._skip_blank(newlines=False)
        self._value(path, key_offset=parts[-1][1])

    def _value(self, path: KeyPath, key_offset: int) -> None:
        s, start = self.s, self.i
        if s.startswith('"""', start) or s.startswith("'''", start):
            self._multiline_string(s[start])
        elif s[start] == '"':
            self._basic_string()
        elif s[start] == "'":
            self.i = s.index("'", start + 1) + 1
        elif s[start] == "[":
            self.i += 1
            index = 0
            while True:
                self._skip_blank(newlines=True)
                if s[self.i] == "]":
                    self.i += 1
                    break
                self._value((*path, index), key_offset=self.i)
                index += 1
                self._skip_blank(newlines=True)
                if s[self.i] == ",":
                    self.i += 1
        elif s[start] == "{":
            self.i += 1
            while True:
                self._skip_blank(newlines=False)
                if s[self.i] == "}":
                    self.i += 1
                    break
                if s[self.i] == ",":
                    self.i += 1
                    continue
                self._key_value(path)
        else:
            while self.i < self.n and s[self.i] not in _SCALAR_END:
                self.i += 1
        self.out[path] = Span(key_offset, start, self.i)

    def _multiline_string(self, quote: str) -> None:
        s = self.s
        self.i += 3
        while self.i < self.n:
            ch = s[self.i]
            if ch == "\\" and quote == '"':
                self.i += 2
            elif ch == quote:
                run = 0
                while self.i + run < self.n and s[self.i + run] == quote:
                    run += 1
                self.i += run
                if run >= 3:
                    return
            else:
                self.i += 1

    def _basic_string(self) -> None:
        s = self.s
        self.i += 1
        while s[self.i] != '"':
            self.i += 2 if s[self.i] == "\\" else 1
        self.i += 1

    def _key(self) -> list[tuple[str, int]]:
        """A dotted key: each part with its offset."""
        parts: list[tuple[str, int]] = []
        s = self.s
        while True:
            self._skip_blank(newlines=False)
            start = self.i
            if s[start] == '"':
                self._basic_string()
                name = _decode_basic_string(s[start : self.i])
            elif s[start] == "'":
                self.i = s.index("'", start + 1) + 1
                name = s[start + 1 : self.i - 1]
            else:
                while self.i < self.n and s[self.i] in _BARE_KEY_CHARS:
                    self.i += 1
                name = s[start : self.i]
            parts.append((name, start))
            self._skip_blank(newlines=False)
            if self.i < self.n and s[self.i] == ".":
                self.i += 1
                continue
            return parts

    def _skip_blank(self, *, newlines: bool) -> None:
        s = self.s
        while self.i < self.n:
            ch = s[self.i]
            if ch in " \t" or (newlines and ch in "\r\n"):
                self.i += 1
            elif ch == "#":
                while self.i < self.n and s[self.i] != "\n":
                    self.i += 1
            else:
                return

    def _skip_line(self) -> None:
        end = self.s.find("\n", self.i)
        self.i = self.n if end < 0 else end + 1
