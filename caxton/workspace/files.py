"""Writing several files as one step: all of them appear, or none do."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from caxton.errors import ConflictError, FileAccessError


def write_all(files: dict[Path, str], *, force: bool = False) -> list[Path]:
    """Write every file or none; existing files are refused (all named) unless `force`.

    Each file is first written beside its target under a temporary name, then all are renamed
    into place; any failure removes what this call created. Returns the paths written.
    """
    blocked = [p for p in files if p.is_dir()]
    if blocked:
        raise ConflictError(
            "cannot write " + ", ".join(f"`{p}`" for p in blocked) + ": a directory is there",
            "move or remove the directory, then run the command again",
        )
    existing = [p for p in files if p.exists()]
    if existing and not force:
        raise ConflictError(
            "refusing to overwrite existing file"
            + "s" * (len(existing) > 1)
            + ": "
            + ", ".join(f"`{p}`" for p in existing),
            "pass `--force` to overwrite, or choose another folder or name",
        )
    created_dirs: list[Path] = []
    staged: list[tuple[Path, Path]] = []
    placed: list[Path] = []
    backups: dict[Path, Path] = {}
    try:
        for target, text in files.items():
            for parent in reversed(target.parents):
                if not parent.exists():
                    parent.mkdir()
                    created_dirs.append(parent)
            temp = target.with_name(f".{target.name}.caxton-tmp")
            with temp.open("w", encoding="utf-8", newline="\n") as handle:
                handle.write(text)
                handle.flush()
                os.fsync(handle.fileno())
            staged.append((temp, target))
        for temp, target in staged:
            if target.exists():
                backup = target.with_name(f".{target.name}.caxton-bak")
                target.replace(backup)
                backups[target] = backup
            temp.replace(target)
            placed.append(target)
    except BaseException as exc:
        _undo(staged, placed, backups, created_dirs)
        if isinstance(exc, OSError):
            raise FileAccessError(
                f"could not write `{exc.filename or 'a file'}`: {exc.strerror or exc}",
                "check that the folder is writable and the disk has space; nothing was changed",
            ) from exc
        raise
    for backup in backups.values():
        backup.unlink(missing_ok=True)
    return placed


def _undo(
    staged: list[tuple[Path, Path]],
    placed: list[Path],
    backups: dict[Path, Path],
    created_dirs: list[Path],
) -> None:
    for temp, _ in staged:
        temp.unlink(missing_ok=True)
    for path in placed:
        path.unlink(missing_ok=True)
    for target, backup in backups.items():
        backup.replace(target)
    for folder in reversed(created_dirs):
        with contextlib.suppress(OSError):
            folder.rmdir()
