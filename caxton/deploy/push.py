"""The client side of a deploy: plan against the server, upload the blobs it lacks (batched,
compressed; an interrupted upload resumes because the server keeps what arrived), apply; and
the download of blobs for `caxton pull`, batched the same way.

One path for `caxton deploy`, `caxton rollback` and `caxton quickstart`.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from caxton.deploy.manifest import Changes, Manifest, disk_path
from caxton.deploy.store import MAX_UPLOAD_BYTES, batches, pack, unpack
from caxton.errors import ConflictError, UsageError

if TYPE_CHECKING:
    from caxton.client import Client
    from caxton.deploy.local import GitState

BATCH_BYTES = 4 << 20  # unpacked bytes per request of blobs, up or down
Progress = Callable[[str], None]


@dataclass(frozen=True, slots=True)
class Plan:
    manifest: Manifest
    live_version: int
    live_root: str | None
    same: bool
    changes: Changes
    missing: list[str]
    limits: dict[str, int]

    @property
    def upload_bytes(self) -> int:
        sizes = {e.sha256: e.size for e in self.manifest.files.values()}
        return sum(sizes[h] for h in self.missing)


@dataclass(frozen=True, slots=True)
class Outcome:
    plan: Plan
    deployment: dict[str, Any] | None  # None: nothing to deploy (the server has this root)
    bytes_sent: int
    blobs_sent: int
    seconds: float  # the protocol: plan, upload, apply
    reload_seconds: float | None
    agents: int | None
    invalid: dict[str, str]


def plan(client: Client, manifest: Manifest) -> Plan:
    answer = client.post("deploy/plan", {"root": manifest.root, "files": manifest.to_json()})
    changes = answer["changes"]
    return Plan(
        manifest,
        int(answer["live_version"]),
        answer["live_root"],
        bool(answer["same"]),
        Changes(tuple(changes["added"]), tuple(changes["modified"]), tuple(changes["deleted"])),
        list(answer["missing"]),
        dict(answer["limits"]),
    )


def check_limits(plan: Plan) -> None:
    """Refuse here, before any upload, what the server would refuse for size."""
    limit = plan.limits.get("file_bytes")
    if limit:
        for path, entry in plan.manifest.files.items():
            if entry.size > limit:
                raise UsageError(
                    f"`{path}` is {entry.size:,} bytes; the server takes files of at most "
                    f"{limit:,} bytes",
                    "leave it out of the deploy by naming it in `.caxtonignore`",
                )
    total = plan.limits.get("workspace_bytes")
    if total and plan.manifest.size > total:
        raise UsageError(
            f"the deploy's files add up to {plan.manifest.size:,} bytes; the server takes "
            f"{total:,} per workspace",
            "leave large files out in `.caxtonignore`",
        )


def batch_bytes(limits: dict[str, int]) -> int:
    """The unpacked bytes of blobs per request: BATCH_BYTES, or less when the server takes
    less (`upload_bytes`, which bounds a body as sent too: the room left covers zlib's growth
    of data that does not compress, at most about 0.03%)."""
    limit = limits.get("upload_bytes")
    if not limit:
        return BATCH_BYTES
    return max(1, min(BATCH_BYTES, limit - limit // 1024 - 64))


def _batches(root: Path, plan: Plan) -> Iterator[list[tuple[str, bytes]]]:
    where = {e.sha256: p for p, e in reversed(list(plan.manifest.files.items()))}
    sizes = ((digest, plan.manifest.files[where[digest]].size) for digest in plan.missing)
    for batch in batches(sizes, batch_bytes(plan.limits)):
        yield [(digest, disk_path(root, where[digest]).read_bytes()) for digest in batch]


def upload(client: Client, root: Path, plan: Plan, progress: Progress | None = None) -> int:
    """Send the blobs the plan lists as missing; returns the bytes sent (compressed)."""
    sent = done = 0
    for batch in _batches(root, plan):
        body = pack(batch)
        client.post_bytes("blobs", body)
        sent += len(body)
        done += len(batch)
        if progress is not None:
            progress(f"uploaded {done}/{len(plan.missing)} files ({sent:,} bytes compressed)")
    return sent


def download(
    client: Client,
    sizes: dict[str, int],
    limits: dict[str, int],
    progress: Progress | None = None,
) -> dict[str, bytes]:
    """The blobs `sizes` names (sha256 -> size), fetched in batches the server's `limits`
    (`GET deploy`) allow, so a workspace of any size comes down."""
    most = limits.get("upload_bytes") or MAX_UPLOAD_BYTES
    found: dict[str, bytes] = {}
    for batch in batches(sizes.items(), batch_bytes(limits)):
        for digest, data in unpack(client.fetch_bytes("blobs/fetch", {"hashes": batch}), most):
            if digest not in sizes or hashlib.sha256(data).hexdigest() != digest:
                raise ConflictError(
                    f"the server sent a blob that is not the file asked for ({digest[:12]})",
                    "nothing was written; pull again, and if it repeats, the server's store "
                    "is damaged: `caxton log --audit` and the server's logs say more",
                )
            found[digest] = data
        if progress is not None:
            progress(f"downloaded {len(found)}/{len(sizes)} files")
    if len(found) != len(sizes):
        missing = next(digest for digest in sizes if digest not in found)
        raise ConflictError(
            f"the server did not send {len(sizes) - len(found)} of the files ({missing[:12]}…)",
            "nothing was written; pull again",
        )
    return found


def push(
    client: Client,
    root: Path,
    manifest: Manifest,
    *,
    base_version: int | None,
    git: GitState | None,
    message: str = "",
    kind: str = "deploy",
    rollback_of: int | None = None,
    progress: Progress | None = None,
    planned: Plan | None = None,
) -> Outcome:
    """Plan, upload, apply. `base_version` None plans on whatever is live (a first deploy, a
    rollback, `--force`); otherwise the server refuses (409) if another version is live."""
    started = time.perf_counter()
    planned = planned or plan(client, manifest)
    if planned.same and kind == "deploy":
        return Outcome(planned, None, 0, 0, time.perf_counter() - started, None, None, {})
    check_limits(planned)
    if progress is not None:
        c = planned.changes
        progress(
            f"plan: {len(c.added)} added, {len(c.modified)} modified, {len(c.deleted)} deleted; "
            f"{len(planned.missing)} file(s) to upload ({planned.upload_bytes:,} bytes)"
        )
    sent = upload(client, root, planned, progress)
    base = planned.live_version if base_version is None else base_version
    if progress is not None:
        progress(f"applying version {planned.live_version + 1} on version {base}")
    answer = client.post(
        "deployments",
        {
            "base_version": base,
            "root": manifest.root,
            "files": manifest.to_json(),
            "commit": git.commit if git else None,
            "branch": git.branch if git else None,
            "dirty": bool(git and git.dirty),
            "message": message,
            "kind": kind,
            "rollback_of": rollback_of,
        },
    )
    changes = answer["changes"]
    applied = Plan(
        manifest, planned.live_version, planned.live_root, False,
        Changes(tuple(changes["added"]), tuple(changes["modified"]), tuple(changes["deleted"])),
        planned.missing, planned.limits,
    )  # fmt: skip
    return Outcome(
        applied,
        answer["deployment"],
        sent,
        len(planned.missing),
        time.perf_counter() - started,
        float(answer["reload_seconds"]),
        int(answer["agents"]),
        dict(answer["invalid"]),
    )
