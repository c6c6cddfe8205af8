"""A server's record of one deployed workspace: content-addressed blobs, the forward-only
history of versions, the audit log, and the file tree of each version.

One SQLite file (`deploy.sqlite`, WAL, synchronous=FULL) is the truth: blobs are stored in it
before any apply, and one transaction appends a version, which makes it the live one (the live
version is the highest). The folders under `trees/` are caches of versions, written from the
blobs before the transaction and rebuilt from them when missing or damaged, so a crash at any
point leaves the old version or the new one live, never a mix. Each tree's `.caxton` is a
symlink to the workspace's `state/` (memory, conversations, tool data), which outlives versions.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import os
import shutil
import signal
import sqlite3
import threading
import uuid
import zlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from caxton.deploy.manifest import Changes, FileEntry, Manifest, ManifestError, is_digest
from caxton.errors import CaxtonError, ConfigError, ConflictError, ExitCode, Problem, UsageError
from caxton.paths import STATE_DIR, WORKSPACE_FILE

DB_FILE = "deploy.sqlite"
TREES_DIR = "trees"
STATE_FOLDER = "state"
COMPLETE_MARK = ".caxton-tree"  # written last in a tree: its version and root

MAX_FILE_BYTES = 10 << 20  # one deployed file
MAX_WORKSPACE_BYTES = 256 << 20  # all the files of one version
# One request of blobs, up or down: its body as sent, and its frames once unpacked. The
# server's `Limits.upload_bytes` (the Gate's bound, and what `GET deploy` says) defaults to it.
MAX_UPLOAD_BYTES = 32 << 20
FAULT_ENV = "CAXTON_FAULT_DEPLOY"  # test hook: SIGKILL the server at a named step of an apply
FAULT_POINTS = ("blobs-stored", "tree-staged", "tree-placed", "version-committed")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS blobs (
    sha256 TEXT PRIMARY KEY,
    size INTEGER NOT NULL,
    data BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS deployments (
    version INTEGER PRIMARY KEY,
    root TEXT NOT NULL,
    files TEXT NOT NULL,
    at TEXT NOT NULL,
    who TEXT NOT NULL,
    git_commit TEXT,
    branch TEXT,
    dirty INTEGER NOT NULL,
    message TEXT NOT NULL,
    kind TEXT NOT NULL,
    rollback_of INTEGER,
    added INTEGER NOT NULL,
    modified INTEGER NOT NULL,
    deleted INTEGER NOT NULL,
    bytes INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS audit (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at TEXT NOT NULL,
    who TEXT NOT NULL,
    action TEXT NOT NULL,
    outcome TEXT NOT NULL,
    version INTEGER,
    git_commit TEXT,
    detail TEXT NOT NULL
);
"""


def fault(point: str) -> None:
    """The test hook named by CAXTON_FAULT_DEPLOY: die here, as a power cut or `kill -9` would."""
    if os.environ.get(FAULT_ENV) == point:
        os.kill(os.getpid(), signal.SIGKILL)


def now_iso() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds")


class StaleBase(ConflictError):
    """The client planned against a version that is no longer the live one."""

    def __init__(self, message: str, hint: str, conflicts: list[str], live: int) -> None:
        super().__init__(message, hint)
        self.extra = {"conflicts": conflicts, "live_version": live}


class DeployInvalid(ConfigError):
    """The version would not validate; nothing was applied."""

    def __init__(self, problems: list[Problem], tree: Path) -> None:
        super().__init__(problems)
        first = problems[0]
        self.message = (
            f"the deploy was refused, nothing applied: {len(problems)} problem"
            f"{'s' * (len(problems) != 1)}, first {first.location(tree)}: {first.message}"
        )
        self.hint = "fix the files (`caxton validate` shows every problem), then deploy again"
        self.extra = {"problems": [p.to_json(tree) for p in problems]}


@dataclass(frozen=True, slots=True)
class Deployment:
    version: int
    root: str
    at: str
    who: str
    commit: str | None
    branch: str | None
    dirty: bool
    message: str
    kind: str  # deploy | rollback
    rollback_of: int | None
    added: int
    modified: int
    deleted: int
    bytes: int
    files: dict[str, Any] = field(default_factory=dict, repr=False)  # only when asked for

    def manifest(self) -> Manifest:
        return Manifest.from_json(self.files)

    def to_json(self, *, with_files: bool = False) -> dict[str, Any]:
        data = {
            "version": self.version,
            "root": self.root,
            "at": self.at,
            "who": self.who,
            "commit": self.commit,
            "branch": self.branch,
            "dirty": self.dirty,
            "message": self.message,
            "kind": self.kind,
            "rollback_of": self.rollback_of,
            "added": self.added,
            "modified": self.modified,
            "deleted": self.deleted,
            "bytes": self.bytes,
        }
        if with_files:
            data["files"] = self.files
        return data


@dataclass(frozen=True, slots=True)
class ApplyRequest:
    base_version: int
    manifest: Manifest
    who: str
    commit: str | None = None
    branch: str | None = None
    dirty: bool = False
    message: str = ""
    kind: str = "deploy"
    rollback_of: int | None = None


_COLUMNS = (
    "version, root, at, who, git_commit, branch, dirty, message, kind, rollback_of, "
    "added, modified, deleted, bytes"
)


def _deployment(row: Sequence[Any], files: str | None = None) -> Deployment:
    return Deployment(
        row[0], row[1], row[2], row[3], row[4], row[5], bool(row[6]), row[7], row[8], row[9],
        row[10], row[11], row[12], row[13], json.loads(files) if files else {},
    )  # fmt: skip


class DeployStore:
    """One deployed workspace's folder under the server's data dir."""

    def __init__(self, folder: Path, name: str) -> None:
        self.folder = folder
        self.name = name
        self.trees = folder / TREES_DIR
        self.state = folder / STATE_FOLDER
        self._lock = threading.RLock()  # one connection; applies are one at a time
        self.applying = threading.Lock()
        self._db = sqlite3.connect(
            folder / DB_FILE, check_same_thread=False, isolation_level=None, timeout=30
        )
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(_SCHEMA)

    @classmethod
    def open(cls, folder: Path, name: str) -> DeployStore:
        """Open (creating it if new) and repair: trees of versions that never committed go,
        and the live version's tree is rebuilt from the blobs if it is missing or damaged."""
        try:
            folder.mkdir(parents=True, exist_ok=True)
            (folder / TREES_DIR).mkdir(exist_ok=True)
            (folder / STATE_FOLDER).mkdir(exist_ok=True)
            store = cls(folder, name)
        except (OSError, sqlite3.Error) as exc:
            raise DeployStoreUnavailable(
                f"cannot open the deploy store `{folder / DB_FILE}`: {exc}",
                "check that the data dir is writable and the disk has space",
            ) from exc
        store.recover()
        return store

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def _query(self, sql: str, args: Sequence[Any] = ()) -> list[Any]:
        with self._lock:
            return self._db.execute(sql, args).fetchall()

    # ----- versions ------------------------------------------------------------------------------

    def live(self) -> Deployment | None:
        """The live version (the highest committed), without its files."""
        rows = self._query(f"SELECT {_COLUMNS} FROM deployments ORDER BY version DESC LIMIT 1")
        return _deployment(rows[0]) if rows else None

    def live_manifest(self) -> Manifest:
        live = self.live()
        return self.deployment(live.version).manifest() if live else Manifest.of({})

    def deployment(self, version: int) -> Deployment:
        from caxton.errors import NotFoundError

        rows = self._query(
            f"SELECT {_COLUMNS}, files FROM deployments WHERE version = ?", (version,)
        )
        if not rows:
            live = self.live()
            raise NotFoundError(
                f"workspace {self.name!r} has no version {version}",
                f"versions run from 1 to {live.version}" if live else "nothing is deployed yet",
            )
        return _deployment(rows[0][:-1], rows[0][-1])

    def history(self, limit: int = 50) -> list[Deployment]:
        rows = self._query(
            f"SELECT {_COLUMNS} FROM deployments ORDER BY version DESC LIMIT ?", (limit,)
        )
        return [_deployment(r) for r in rows]

    def tree(self, version: int) -> Path:
        return self.trees / str(version)

    # ----- blobs ---------------------------------------------------------------------------------

    def missing(self, hashes: Iterable[str]) -> list[str]:
        wanted = sorted(set(hashes))
        have = self.sizes(wanted)
        return [h for h in wanted if h not in have]

    def put_blobs(self, blobs: Sequence[tuple[str, bytes]]) -> int:
        """Store blobs (each checked against its hash) in one transaction; storing one that is
        already there is a no-op, so an interrupted upload is simply sent again."""
        for digest, data in blobs:
            if len(data) > MAX_FILE_BYTES:
                raise TooLarge(
                    f"a file of {len(data)} bytes is over the {MAX_FILE_BYTES}-byte limit per file",
                    f"leave it out of the deploy (`.caxtonignore`) or make it smaller than "
                    f"{MAX_FILE_BYTES} bytes",
                )
            if hashlib.sha256(data).hexdigest() != digest:
                raise UsageError(
                    f"blob {digest[:12]} does not match its SHA-256",
                    "the upload was damaged on the way: deploy again",
                )
        with self._transaction() as db:
            before = db.total_changes
            db.executemany(
                "INSERT OR IGNORE INTO blobs (sha256, size, data) VALUES (?, ?, ?)",
                [(d, len(b), b) for d, b in blobs],
            )
            return db.total_changes - before

    def sizes(self, hashes: Iterable[str]) -> dict[str, int]:
        """The size of each stored blob among `hashes` (absent ones are left out)."""
        wanted = sorted(set(hashes))
        found: dict[str, int] = {}
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            marks = ",".join("?" * len(chunk))
            rows = self._query(f"SELECT sha256, size FROM blobs WHERE sha256 IN ({marks})", chunk)
            found.update((r[0], int(r[1])) for r in rows)
        return found

    def blobs(self, hashes: Sequence[str]) -> Iterator[tuple[str, bytes]]:
        for digest in hashes:
            rows = self._query("SELECT data FROM blobs WHERE sha256 = ?", (digest,))
            if rows:
                yield digest, bytes(rows[0][0])

    # ----- applying a version --------------------------------------------------------------------

    def apply(self, request: ApplyRequest, check: Any = None) -> tuple[Deployment, Changes]:
        """Make `request.manifest` the next live version, all or nothing. `check(tree)` is
        run on the staged tree before the version moves (it raises to refuse). Callers hold
        `applying`, so two applies never interleave."""
        manifest = request.manifest
        live = self.live()
        live_version = live.version if live else 0
        current = self.live_manifest()
        if request.base_version != live_version:
            raise self._stale(request, current, live_version)
        if manifest.size > MAX_WORKSPACE_BYTES:
            raise TooLarge(
                f"the workspace's files add up to {manifest.size} bytes; the limit is "
                f"{MAX_WORKSPACE_BYTES}",
                "leave large files out of the deploy in `.caxtonignore`",
            )
        big = [p for p, e in manifest.files.items() if e.size > MAX_FILE_BYTES]
        if big:
            raise TooLarge(
                f"`{big[0]}` is {manifest.files[big[0]].size} bytes, over the {MAX_FILE_BYTES}"
                "-byte limit per file",
                "leave it out of the deploy (`.caxtonignore`) or make it smaller",
            )
        if WORKSPACE_FILE not in manifest.files:
            raise UsageError(
                f"the deploy has no {WORKSPACE_FILE}",
                "deploy from the workspace's folder (the one holding caxton.toml)",
            )
        absent = self.missing(manifest.hashes())
        if absent:
            raise ConflictError(
                f"{len(absent)} file(s) of this version were never uploaded",
                "upload them first (`caxton deploy` does), then apply again",
            )
        fault("blobs-stored")
        changes = current.diff(manifest)
        version = live_version + 1
        staging = self.trees / f".staging-{uuid.uuid4().hex}"
        try:
            self._write_tree(staging, manifest, version, (self.tree(live_version), current))
            if check is not None:
                check(staging)
            fault("tree-staged")
            target = self.tree(version)
            if target.exists():  # a tree left by an apply that never committed
                shutil.rmtree(target)
            staging.rename(target)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        fault("tree-placed")
        record = Deployment(
            version, manifest.root, now_iso(), request.who, request.commit, request.branch,
            request.dirty, request.message, request.kind, request.rollback_of,
            len(changes.added), len(changes.modified), len(changes.deleted), manifest.size,
        )  # fmt: skip
        try:
            with self._transaction() as db:
                db.execute(
                    f"INSERT INTO deployments ({_COLUMNS}, files) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        record.version, record.root, record.at, record.who, record.commit,
                        record.branch, int(record.dirty), record.message, record.kind,
                        record.rollback_of, record.added, record.modified, record.deleted,
                        record.bytes, json.dumps(manifest.to_json(), separators=(",", ":")),
                    ),
                )  # fmt: skip
                self._audit(db, request, "applied", version, json.dumps(changes.to_json()))
        except BaseException:
            shutil.rmtree(self.tree(version), ignore_errors=True)
            raise
        fault("version-committed")
        return record, changes

    def refused(self, request: ApplyRequest, error: CaxtonError) -> None:
        """Append a refused apply to the audit log (never fails the answer)."""
        with contextlib.suppress(sqlite3.Error), self._transaction() as db:
            self._audit(db, request, "refused", None, error.message)

    def _audit(
        self,
        db: sqlite3.Connection,
        request: ApplyRequest,
        outcome: str,
        version: int | None,
        detail: str,
    ) -> None:
        db.execute(
            "INSERT INTO audit (at, who, action, outcome, version, git_commit, detail) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (now_iso(), request.who, request.kind, outcome, version, request.commit, detail),
        )

    def audit(self, limit: int = 100) -> list[dict[str, Any]]:
        rows = self._query(
            "SELECT at, who, action, outcome, version, git_commit, detail FROM audit "
            "ORDER BY id DESC LIMIT ?",
            (limit,),
        )
        keys = ("at", "who", "action", "outcome", "version", "commit", "detail")
        return [dict(zip(keys, row, strict=True)) for row in rows]

    def _stale(self, request: ApplyRequest, current: Manifest, live: int) -> StaleBase:
        """409 naming the files changed on the server since the client's base that the client
        changes too (or every file changed since, when the base is unknown)."""
        base = None
        if request.base_version:
            with contextlib.suppress(CaxtonError):
                base = self.deployment(request.base_version).manifest()
        since = (base or Manifest.of({})).diff(current)
        mine = (base or Manifest.of({})).diff(request.manifest)
        conflicts = sorted(set(since.paths) & set(mine.paths)) or list(since.paths)
        shown = ", ".join(conflicts[:5]) + (" ..." if len(conflicts) > 5 else "")
        return StaleBase(
            f"the server moved on: version {live} is live, this deploy was planned on version "
            f"{request.base_version}" + (f"; changed on both sides: {shown}" if conflicts else ""),
            "someone else deployed meanwhile: `caxton pull` to take their changes (or "
            "`caxton status --remote NAME` to see them), then deploy again",
            conflicts,
            live,
        )

    # ----- trees ---------------------------------------------------------------------------------

    def _write_tree(
        self,
        folder: Path,
        manifest: Manifest,
        version: int,
        previous: tuple[Path, Manifest] | None = None,
    ) -> None:
        """Write a version's files from the blobs; a file unchanged since `previous` (the
        live tree and its manifest) is hard-linked from it instead (trees are never edited)."""
        folder.mkdir(parents=True)
        made: set[Path] = {folder}
        before = previous[1].files if previous is not None else {}
        for path, entry in manifest.files.items():
            target = folder / path
            if target.parent not in made:
                target.parent.mkdir(parents=True, exist_ok=True)
                made.add(target.parent)
            if previous is not None and before.get(path) == entry:
                try:
                    os.link(previous[0] / path, target)
                    continue
                except OSError:
                    pass  # no tree there (yet), or no hard links here: write it
            rows = self._query("SELECT data FROM blobs WHERE sha256 = ?", (entry.sha256,))
            target.write_bytes(bytes(rows[0][0]))
        (folder / STATE_DIR).symlink_to(Path("..", "..", STATE_FOLDER), target_is_directory=True)
        (folder / COMPLETE_MARK).write_text(f"{version} {manifest.root}\n", encoding="utf-8")

    def _tree_ok(self, version: int, manifest: Manifest) -> bool:
        folder = self.tree(version)
        try:
            mark = (folder / COMPLETE_MARK).read_text(encoding="utf-8").split()
        except OSError:
            return False
        if mark != [str(version), manifest.root]:
            return False
        link = folder / STATE_DIR
        if not link.is_symlink() or link.readlink() != Path("..", "..", STATE_FOLDER):
            return False
        from caxton.deploy.manifest import hash_file

        present: set[str] = set()
        for where, folders, names in os.walk(folder):  # links are listed, never followed
            base = Path(where).relative_to(folder)
            links = [d for d in folders if Path(where, d).is_symlink()]
            present.update((base / name).as_posix() for name in (*names, *links))
        if present != {*manifest.files, STATE_DIR, COMPLETE_MARK}:
            return False
        try:
            return all(
                hash_file(folder / p) == FileEntry(e.sha256, e.size)
                for p, e in manifest.files.items()
            )
        except OSError:
            return False

    def recover(self) -> None:
        """After a crash: drop staging folders and trees of uncommitted versions; rebuild the
        live tree if it is not exactly the live version's files."""
        live = self.live()
        live_version = live.version if live else 0
        for entry in self.trees.iterdir():
            uncommitted = entry.name.isdigit() and int(entry.name) > live_version
            if entry.name.startswith(".staging-") or uncommitted:
                shutil.rmtree(entry, ignore_errors=True)
        if live is None:
            return
        manifest = self.live_manifest()
        if not self._tree_ok(live_version, manifest):
            shutil.rmtree(self.tree(live_version), ignore_errors=True)
            staging = self.trees / f".staging-{uuid.uuid4().hex}"
            self._write_tree(staging, manifest, live_version)
            staging.rename(self.tree(live_version))


class TooLarge(UsageError):
    http_status = 413


class DeployStoreUnavailable(CaxtonError):
    exit_code = ExitCode.UNAVAILABLE


# ----- the blob upload format -----------------------------------------------------------------
# A zlib stream of frames, each `<sha256 hex> <size>\n` then the bytes.


def frame_bytes(size: int) -> int:
    """What a blob of `size` bytes takes in an unpacked upload: its frame header, then it."""
    return 66 + len(str(size)) + size  # 64 hex digits, a space, the size, a newline


def batches(sizes: Iterable[tuple[str, int]], limit: int) -> Iterator[list[str]]:
    """The digests in order, grouped so that each group's frames unpack to at most `limit`
    bytes; a blob too big for any group goes alone."""
    batch: list[str] = []
    total = 0
    for digest, size in sizes:
        frame = frame_bytes(size)
        if batch and total + frame > limit:
            yield batch
            batch, total = [], 0
        batch.append(digest)
        total += frame
    if batch:
        yield batch


def pack(blobs: Iterable[tuple[str, bytes]], level: int = 6) -> bytes:
    squeeze = zlib.compressobj(level)
    parts = []
    for digest, data in blobs:
        parts.append(squeeze.compress(f"{digest} {len(data)}\n".encode()))
        parts.append(squeeze.compress(data))
    parts.append(squeeze.flush())
    return b"".join(parts)


def unpack(body: bytes, max_bytes: int = MAX_UPLOAD_BYTES) -> list[tuple[str, bytes]]:
    """The blobs in an upload; refuses a damaged stream or one that unpacks past `max_bytes`."""
    hint = "send blobs as `caxton deploy` does (zlib frames of `<sha256> <size>\\n<bytes>`)"
    unzip = zlib.decompressobj()
    try:
        raw = unzip.decompress(body, max_bytes + 1)
    except zlib.error as exc:
        raise UsageError(f"the upload is not a zlib stream: {exc}", hint) from exc
    if len(raw) > max_bytes or unzip.unconsumed_tail:
        raise TooLarge(
            f"the upload unpacks to more than {max_bytes} bytes",
            f"send blobs in batches of at most {max_bytes} bytes",
        )
    if not unzip.eof:
        raise UsageError("the upload ends before its zlib stream does", hint)
    if unzip.unused_data:
        raise UsageError("the upload has bytes after its zlib stream", hint)
    blobs: list[tuple[str, bytes]] = []
    at = 0
    while at < len(raw):
        end = raw.find(b"\n", at, at + 100)
        head = raw[at:end].split(b" ") if end > 0 else []
        if len(head) != 2 or not head[1].isdigit():
            raise UsageError(f"malformed frame header at byte {at} of the upload", hint)
        digest, size = head[0].decode("ascii", "replace"), int(head[1])
        if not is_digest(digest):
            raise UsageError(f"frame at byte {at}: {digest[:70]!r} is not a SHA-256", hint)
        start = end + 1
        if start + size > len(raw):
            raise UsageError(f"frame {digest[:12]} is cut short", hint)
        blobs.append((digest, raw[start : start + size]))
        at = start + size
    return blobs


__all__ = [
    "ApplyRequest",
    "DeployInvalid",
    "DeployStore",
    "Deployment",
    "ManifestError",
    "StaleBase",
    "TooLarge",
    "batches",
    "frame_bytes",
    "pack",
    "unpack",
]
