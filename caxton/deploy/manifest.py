"""What a deploy carries: every deployable file of a workspace with its SHA-256, and a Merkle
root over the tree, so two machines agree on "the same workspace" by comparing one hash.

Deployed: `caxton.toml`, everything under `agents/` and `prompts/`, and under `tools/` each
tool's `tool.toml` and its `.wasm` modules (sources and build output stay on the machine).
Never deployed: `.git/`, `.caxton/`, dotfiles, and whatever `.caxtonignore` (gitignore syntax)
names. A symlink is refused: a deploy carries plain files.

Paths are POSIX, relative, NFC-normalised strings, so a tree hashes the same on every machine.
A directory's hash is the SHA-256 of its sorted children, one `kind name hash` line each.
"""

from __future__ import annotations

import hashlib
import os
import stat
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from caxton.errors import UsageError
from caxton.paths import WORKSPACE_FILE

IGNORE_FILE = ".caxtonignore"
DEPLOYED_DIRS = ("agents", "prompts", "tools")
MAX_PATH_CHARS = 512
MAX_FILES = 20_000
EMPTY_ROOT = hashlib.sha256(b"").hexdigest()  # the root of a workspace with no files


class ManifestError(UsageError):
    """A manifest that cannot be deployed: a path that is unsafe or outside what deploys."""


@dataclass(frozen=True, slots=True)
class FileEntry:
    sha256: str
    size: int


@dataclass(frozen=True, slots=True)
class Changes:
    added: tuple[str, ...]
    modified: tuple[str, ...]
    deleted: tuple[str, ...]

    @property
    def empty(self) -> bool:
        return not (self.added or self.modified or self.deleted)

    @property
    def paths(self) -> tuple[str, ...]:
        return tuple(sorted((*self.added, *self.modified, *self.deleted)))

    def to_json(self) -> dict[str, list[str]]:
        return {
            "added": list(self.added),
            "modified": list(self.modified),
            "deleted": list(self.deleted),
        }


@dataclass(frozen=True, slots=True)
class Manifest:
    """Path -> file, in sorted order, and the tree's Merkle root."""

    files: Mapping[str, FileEntry]
    root: str

    @classmethod
    def of(cls, files: Mapping[str, FileEntry]) -> Manifest:
        ordered = {path: files[path] for path in sorted(files)}
        return cls(ordered, merkle_root(ordered))

    @classmethod
    def from_json(cls, data: Any) -> Manifest:
        """A manifest sent by a client or read back from a record: every path checked."""
        if not isinstance(data, dict):
            raise ManifestError("a manifest is an object of path -> {sha256, size}", None)
        if len(data) > MAX_FILES:
            raise ManifestError(
                f"a manifest lists {len(data)} files; at most {MAX_FILES} deploy",
                f"list fewer files in `{IGNORE_FILE}`",
            )
        files: dict[str, FileEntry] = {}
        for path, entry in data.items():
            check_path(path)
            if not isinstance(entry, dict):
                raise ManifestError(f"{path!r}: expected {{sha256, size}}", None)
            digest, size = entry.get("sha256"), entry.get("size")
            if not (isinstance(digest, str) and is_digest(digest)):
                raise ManifestError(f"{path!r}: sha256 must be 64 lowercase hex digits", None)
            if not isinstance(size, int) or isinstance(size, bool) or size < 0:
                raise ManifestError(f"{path!r}: size must be a whole number of bytes", None)
            files[path] = FileEntry(digest, size)
        return cls.of(files)

    def to_json(self) -> dict[str, dict[str, Any]]:
        return {p: {"sha256": e.sha256, "size": e.size} for p, e in self.files.items()}

    @property
    def size(self) -> int:
        return sum(e.size for e in self.files.values())

    def diff(self, newer: Manifest) -> Changes:
        """What changes from this manifest to `newer`."""
        old, new = self.files, newer.files
        return Changes(
            tuple(p for p in new if p not in old),
            tuple(p for p in new if p in old and old[p].sha256 != new[p].sha256),
            tuple(p for p in old if p not in new),
        )

    def hashes(self) -> set[str]:
        return {e.sha256 for e in self.files.values()}


def is_digest(text: str) -> bool:
    return len(text) == 64 and all(c in "0123456789abcdef" for c in text)


def check_path(path: object) -> str:
    """A manifest path is safe to write under a folder: relative, POSIX, no `..`, no control
    characters, NFC, and under what deploys. Returns it; raises ManifestError otherwise."""
    if not isinstance(path, str) or not path:
        raise ManifestError("a manifest path must be a non-empty string", None)
    shown = repr(path)
    hint = "deploys carry relative paths inside the workspace, like `agents/helper.toml`"
    if len(path) > MAX_PATH_CHARS:
        raise ManifestError(f"path {shown[:80]}... is longer than {MAX_PATH_CHARS}", hint)
    if any(ord(c) < 32 or ord(c) == 127 for c in path):
        raise ManifestError(f"path {shown} holds a control character (NUL, newline...)", hint)
    if path.startswith("/") or "\\" in path or (len(path) > 1 and path[1] == ":"):
        raise ManifestError(f"path {shown} is absolute or not POSIX", hint)
    parts = path.split("/")
    if any(part in ("", ".", "..") for part in parts):
        raise ManifestError(f"path {shown} has an empty, `.` or `..` part", hint)
    if unicodedata.normalize("NFC", path) != path:
        raise ManifestError(f"path {shown} is not in Unicode NFC form", hint)
    if any(part.startswith(".") for part in parts):
        raise ManifestError(f"path {shown} names a hidden file; dotfiles never deploy", hint)
    if not deployable(path):
        raise ManifestError(
            f"path {shown} is outside what deploys",
            f"deploys carry {WORKSPACE_FILE}, agents/, prompts/, and each tool's tool.toml "
            "and .wasm modules",
        )
    return path


def deployable(path: str) -> bool:
    """Whether a (checked) relative path is of a kind that deploys, before `.caxtonignore`."""
    if path == WORKSPACE_FILE:
        return True
    top, _, rest = path.partition("/")
    if not rest or top not in DEPLOYED_DIRS:
        return False
    if top == "tools":  # tools/<tool>/tool.toml and the tool's .wasm modules
        parts = rest.split("/")
        return len(parts) >= 2 and (parts[-1].endswith(".wasm") or parts[1:] == ["tool.toml"])
    return True


def merkle_root(files: Mapping[str, FileEntry]) -> str:
    """The root hash of the tree `files` describe (paths already checked); a path that is
    both a file and a folder is refused."""
    folders = {path.rsplit("/", 1)[0] for path in files if "/" in path}
    folders |= {f.rsplit("/", i)[0] for f in folders for i in range(1, f.count("/") + 1)}
    clash = sorted(folders & set(files))
    if clash:
        raise ManifestError(
            f"`{clash[0]}` is listed as a file and as a folder",
            "a manifest lists each path once, as a file",
        )
    tree: dict[str, Any] = {}
    for path, entry in files.items():
        node = tree
        *parents, name = path.split("/")
        for parent in parents:
            node = node.setdefault(parent, {})
        node[name] = entry.sha256
    return _hash_dir(tree)


def _hash_dir(node: dict[str, Any]) -> str:
    if not node:
        return EMPTY_ROOT
    lines = []
    for name in sorted(node, key=lambda n: n.encode()):
        child = node[name]
        if isinstance(child, dict):
            lines.append(f"dir {name} {_hash_dir(child)}\n")
        else:
            lines.append(f"file {name} {child}\n")
    return hashlib.sha256("".join(lines).encode()).hexdigest()


# ----- building a workspace's manifest ------------------------------------------------------


def _ignore_spec(root: Path) -> Any:
    """The `.caxtonignore` patterns (gitignore syntax), or None."""
    path = root / IGNORE_FILE
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise ManifestError(
            f"cannot read `{path}`: {exc}", f"fix `{IGNORE_FILE}` (gitignore syntax, UTF-8)"
        ) from exc
    import pathspec

    return pathspec.GitIgnoreSpec.from_lines(text.splitlines())


def workspace_files(root: Path) -> list[str]:
    """The deployable files of the workspace at `root`, as sorted relative paths (NFC)."""
    return sorted(_on_disk(root))


def _on_disk(root: Path) -> dict[str, Path]:
    """Deployable relative path (NFC) -> the file on disk (its name as the disk spells it)."""
    ignore = _ignore_spec(root)
    found: dict[str, Path] = {}

    def ignored(rel: str) -> bool:
        return ignore is not None and bool(ignore.match_file(rel))

    def walk(folder: Path, prefix: str) -> None:
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError as exc:
            raise ManifestError(
                f"cannot list `{folder}`: {exc.strerror or exc}", "check its permissions"
            ) from exc
        for entry in entries:
            if entry.name.startswith("."):
                continue
            rel = unicodedata.normalize("NFC", f"{prefix}{entry.name}")
            if entry.is_symlink():
                if ignored(rel) or ignored(rel + "/"):
                    continue
                if deployable(rel) or entry.is_dir():
                    raise ManifestError(
                        f"`{rel}` is a symlink; a deploy carries plain files only",
                        f"replace it with the file it points to, or list it in `{IGNORE_FILE}`",
                    )
                continue
            if entry.is_dir():
                if not ignored(rel + "/"):
                    walk(Path(entry.path), rel + "/")
            elif entry.is_file() and deployable(rel) and not ignored(rel):
                check_path(rel)
                found[rel] = Path(entry.path)

    workspace_file = root / WORKSPACE_FILE
    if workspace_file.is_symlink():
        raise ManifestError(
            f"`{WORKSPACE_FILE}` is a symlink; a deploy carries plain files only",
            "replace it with the file it points to",
        )
    if workspace_file.is_file():
        found[WORKSPACE_FILE] = workspace_file
    for top in DEPLOYED_DIRS:
        folder = root / top
        if folder.is_symlink():
            raise ManifestError(
                f"`{top}/` is a symlink; a deploy carries plain files only",
                "make it a real folder",
            )
        if folder.is_dir():
            walk(folder, top + "/")
    return found


def hash_file(path: Path) -> FileEntry:
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
            size += len(chunk)
    return FileEntry(digest.hexdigest(), size)


def build(root: Path) -> Manifest:
    """The manifest of the workspace at `root`."""
    return build_with_paths(root)[0]


def build_with_paths(root: Path) -> tuple[Manifest, dict[str, Path]]:
    """The manifest, and where each of its files is on disk (to read them for an upload)."""
    files: dict[str, FileEntry] = {}
    disk = _on_disk(root)
    for rel, path in disk.items():
        try:
            if not stat.S_ISREG(path.lstat().st_mode):
                continue
            files[rel] = hash_file(path)
        except OSError as exc:
            raise ManifestError(
                f"cannot read `{rel}`: {exc.strerror or exc}", "check the file's permissions"
            ) from exc
    return Manifest.of(files), disk


def disk_path(root: Path, rel: str) -> Path:
    """Where the manifest path `rel` is under `root` (a name may be NFD on disk)."""
    plain = root / rel
    if plain.exists():
        return plain
    return _on_disk(root).get(rel, plain)
