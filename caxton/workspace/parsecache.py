"""A cache of parsed TOML files in `.caxton/cache/`, so `validate` re-parses only what changed.

Entries are keyed by the file's path and checked against a CRC-32 of its text (reading and
hashing 200 agent files costs a few ms; parsing them ~65 ms). Timestamps are not trusted: a
file rewritten within one clock tick would look unchanged. The cache is best effort: a corrupt
or unwritable cache is ignored, and data marshal cannot hold (TOML dates) is not cached.
`.caxton/cache/.gitignore` keeps it out of version control.
"""

from __future__ import annotations

import contextlib
import marshal
import os
import zlib
from pathlib import Path
from typing import Any

from caxton import __version__

CACHE_FILE = "toml-parse.marshal"
_FORMAT = 1


class ParseCache:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._entries: dict[str, tuple[int, Any]] | None = None
        self._dirty = False

    def _load(self) -> dict[str, tuple[int, Any]]:
        if self._entries is None:
            self._entries = {}
            with contextlib.suppress(OSError, EOFError, ValueError, TypeError):
                stored = marshal.loads((self.folder / CACHE_FILE).read_bytes())
                if stored.get("format") == _FORMAT and stored.get("version") == __version__:
                    self._entries = stored["entries"]
        return self._entries

    def get(self, path: Path, text: str) -> dict[str, Any] | None:
        entry = self._load().get(str(path.resolve()))
        if entry is None or entry[0] != zlib.crc32(text.encode()):
            return None
        data: dict[str, Any] = entry[1]
        return data

    def put(self, path: Path, text: str, data: dict[str, Any]) -> None:
        try:
            marshal.dumps(data)
        except ValueError:
            return  # dates and times: parse those files each time
        self._load()[str(path.resolve())] = (zlib.crc32(text.encode()), data)
        self._dirty = True

    def save(self, keep: set[str] | None = None) -> None:
        """Write the cache if it changed, keeping only `keep` (resolved paths) when given."""
        if not self._dirty or self._entries is None:
            return
        entries = self._entries
        if keep is not None:
            entries = {k: v for k, v in entries.items() if k in keep}
        payload = marshal.dumps({"format": _FORMAT, "version": __version__, "entries": entries})
        with contextlib.suppress(OSError):
            self.folder.mkdir(parents=True, exist_ok=True)
            ignore = self.folder / ".gitignore"
            if not ignore.exists():
                ignore.write_text("# Caxton's rebuildable cache\n*\n")
            temp = self.folder / f".{CACHE_FILE}.{os.getpid()}.tmp"
            temp.write_bytes(payload)
            temp.replace(self.folder / CACHE_FILE)
        self._dirty = False
