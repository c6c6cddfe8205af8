"""Reading configuration files safely: size, encoding and syntax errors become located problems."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tomli  # the compiled build of the parser behind tomllib: same grammar, ~3x faster

from caxton.errors import Problem
from caxton.workspace.locate import KeyIndex, KeyPath, find_duplicate_key
from caxton.workspace.parsecache import ParseCache

MAX_CONFIG_BYTES = 1024 * 1024

_TOML_POS = re.compile(r"\s*\(at line (\d+), column (\d+)\)\s*$")
_TOML_END = re.compile(r"\s*\(at end of document\)\s*$")

# What tomllib says, and what a person should do about it.
_SYNTAX_HINTS = (
    ("Cannot overwrite a value", "this key or table is defined twice: keep one of them"),
    ("key ", "keep one of the two definitions"),
    ("Cannot declare", "this table is defined twice: merge the two `[table]` sections"),
    ("Invalid value", 'strings need quotes (key = "text"); booleans are true/false in lowercase'),
    ("Expected '=' after a key", 'each line needs `key = value`; quote keys with spaces ("a b")'),
    ("Invalid initial character for a key", "keys are letters, digits, `_` and `-`; quote others"),
    ("Unclosed array", "close the array with `]`; items are separated by commas"),
    ("Unclosed inline table", "close the inline table with `}` on the same line"),
    ("Unterminated string", "close the string with the same quote it opened with"),
    ("Illegal character", "remove the control character, or escape it inside a string"),
    ("Expected newline or end of document", "put each `key = value` on its own line"),
)


@dataclass(slots=True)
class TomlFile:
    """A parsed TOML file that can locate any of its keys for an error message."""

    path: Path
    text: str
    data: dict[str, Any]
    _index: KeyIndex | None = field(default=None, repr=False)

    @property
    def index(self) -> KeyIndex:
        if self._index is None:
            self._index = KeyIndex(self.text)
        return self._index

    def problem(
        self,
        keypath: KeyPath,
        message: str,
        hint: str | None = None,
        *,
        at: str = "value",
        code: str = "invalid",
        severity: str = "error",
        needle: str | None = None,
    ) -> Problem:
        if needle is not None:
            line, col = self.index.pos_in_value(keypath, needle)
        elif at == "key":
            line, col = self.index.key_pos(keypath)
        else:
            line, col = self.index.value_pos(keypath)
        return Problem(self.path, line, col, message, hint, code, severity)


def read_config_text(path: Path, *, what: str = "configuration file") -> str | Problem:
    """The file's text, or a problem saying why it cannot be used as a TOML file."""
    try:
        if path.is_dir():
            return Problem(
                path,
                1,
                1,
                f"{what} {path.name!r} is a directory, not a file",
                f"rename or remove the directory `{path}`",
                code="not-a-file",
            )
        size = path.stat().st_size
        if size > MAX_CONFIG_BYTES:
            return Problem(
                path,
                1,
                1,
                f"{what} is {size / 1024 / 1024:.1f} MiB; the limit is "
                f"{MAX_CONFIG_BYTES // 1024 // 1024} MiB",
                "is this the right file? Put large data in files that tools read, not in config",
                code="too-large",
            )
        raw = path.read_bytes()
    except FileNotFoundError:
        return Problem(path, 1, 1, f"{what} does not exist", None, code="not-found")
    except PermissionError:
        return Problem(
            path,
            1,
            1,
            f"{what} cannot be read: permission denied",
            f"check its permissions, e.g. `chmod u+r {path}`",
            code="unreadable",
        )
    except OSError as exc:
        return Problem(
            path, 1, 1, f"{what} cannot be read: {exc.strerror or exc}", None, code="unreadable"
        )
    return decode_config_bytes(path, raw, what=what)


def decode_config_bytes(
    path: Path, raw: bytes, *, what: str = "configuration file"
) -> str | Problem:
    nul = raw.find(b"\0")
    if nul >= 0:
        line, col = _byte_pos(raw, nul)
        return Problem(
            path,
            line,
            col,
            f"{what} is binary, not TOML text (NUL byte)",
            "point Caxton at a UTF-8 TOML file",
            code="binary",
        )
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line, col = _byte_pos(raw, exc.start)
        return Problem(
            path,
            line,
            col,
            f"{what} is not valid UTF-8 (byte 0x{raw[exc.start]:02x})",
            "save the file as UTF-8",
            code="encoding",
        )
    return text.removeprefix("\ufeff")


def parse_toml(path: Path, text: str) -> TomlFile | Problem:
    try:
        data = tomli.loads(text)
    except tomli.TOMLDecodeError as exc:
        return _syntax_problem(path, text, str(exc))
    return TomlFile(path, text, data)


def load_toml(
    path: Path, *, what: str = "configuration file", cache: ParseCache | None = None
) -> TomlFile | Problem:
    text = read_config_text(path, what=what)
    if isinstance(text, Problem):
        return text
    if cache is not None:
        data = cache.get(path, text)
        if data is not None:
            return TomlFile(path, text, data)
    parsed = parse_toml(path, text)
    if cache is not None and isinstance(parsed, TomlFile):
        cache.put(path, text, parsed.data)
    return parsed


def _syntax_problem(path: Path, text: str, message: str) -> Problem:
    line, col = 1, 1
    match = _TOML_POS.search(message)
    if match:
        line, col = int(match[1]), int(match[2])
        message = message[: match.start()]
    elif _TOML_END.search(message):
        lines = text.splitlines() or [""]
        line, col = len(lines), len(lines[-1]) + 1
        message = _TOML_END.sub("", message)
    if message.startswith("Cannot overwrite a value"):
        duplicate = find_duplicate_key(text)
        if duplicate is not None:
            name, offset = duplicate
            line, col = KeyIndex.offset_to_line_col(text, offset)
            message = f"key {name!r} is defined twice"
    hint = next((h for prefix, h in _SYNTAX_HINTS if message.startswith(prefix)), None)
    return Problem(
        path,
        line,
        col,
        f"TOML syntax error: {message}",
        hint or "fix the TOML syntax at this position",
        code="syntax",
    )


def _byte_pos(raw: bytes, offset: int) -> tuple[int, int]:
    before = raw[:offset]
    line = before.count(b"\n") + 1
    last = before.rfind(b"\n")
    col = len(before[last + 1 :].decode("utf-8", errors="replace")) + 1
    return line, col
