"""Credential files: written atomically and born 0600; refused when others could read them."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from caxton.errors import FileAccessError


def check_private(path: Path) -> None:
    """Refuse a credential file others could read: a leaked secret forges every token."""
    mode = path.stat().st_mode
    if mode & 0o077:
        raise FileAccessError(
            f"`{path}` is readable by other users (mode {mode & 0o777:04o}); refusing to use it",
            f"run `chmod 600 {path}`, and if others may have read it, delete it and issue "
            "new tokens",
        )


def write_private(path: Path, data: bytes, *, exclusive: bool) -> bool:
    """Write `data` as a 0600 file atomically; with `exclusive`, only if `path` is absent.

    The file is born 0600 (never chmod-ed after the data is in it), written in full under a
    temporary name, then linked (exclusive) or renamed into place, so a reader never sees half.
    Returns False when `exclusive` and the file already existed.
    """
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        if exclusive:
            try:
                os.link(tmp, path)
            except FileExistsError:
                return False
        else:
            tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)
    return True
