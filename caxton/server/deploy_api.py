"""Routes for deploys: what is live, the plan (what differs from the client's manifest),
blob uploads and downloads, apply, history and the audit log.

A workspace is created on this server by its first deploy (a token that reaches its name with
the deployer role may do it). A workspace served from a folder (`caxton serve --workspace`)
takes no deploys: its files are the folder's.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import Response

from caxton.agents.model import NAME_HINT, NAME_PATTERN
from caxton.deploy import store as ds
from caxton.deploy.manifest import Manifest
from caxton.errors import CaxtonError, ConflictError, NotFoundError, UsageError
from caxton.server import models as m
from caxton.server.access import _BEARER
from caxton.server.auth import Claims, Role, authorize
from caxton.server.gate import Limits
from caxton.server.state import ServerState, Workspace, open_deployed

CONFLICT = {
    "model": m.ErrorOut,
    "description": "A stale base version (the conflicting files named), blobs not uploaded, "
    "or a workspace served from a folder",
}
router = APIRouter(prefix="/api/v1/workspaces/{ws}", responses={**m.ERRORS, 409: CONFLICT})


@dataclass
class Target:
    """The workspace a deploy route names: maybe not created yet. `upload_bytes` is the
    server's limit per request of blobs (the Gate's, from `create_app`'s `Limits`)."""

    state: ServerState
    name: str
    claims: Claims
    served: Workspace | None
    upload_bytes: int

    def limits(self) -> dict[str, int]:
        """What `GET deploy` and the plan advertise."""
        return {
            "file_bytes": ds.MAX_FILE_BYTES,
            "workspace_bytes": ds.MAX_WORKSPACE_BYTES,
            "upload_bytes": self.upload_bytes,
        }

    def store(self, *, create: bool) -> Any:
        """Its DeployStore; created (not yet served) when `create` and it has none."""
        if self.served is not None:
            if self.served.deploys is None:
                raise ConflictError(
                    f"workspace {self.name!r} is served from the folder `{self.served.root}`; "
                    "it takes no deploys",
                    "deploys go to workspaces the server keeps in its data dir: restart the "
                    "server without `--workspace` for this one, then deploy",
                )
            return self.served.deploys
        state = self.state
        with state.deploy_lock:
            served = state.workspaces.get(self.name)
            if served is not None:
                self.served = served
                return self.store(create=create)
            store = state.pending_deploys.get(self.name)
            if store is None and create:
                store = ds.DeployStore.open(state.data_dir / "workspaces" / self.name, self.name)
                state.pending_deploys[self.name] = store
            return store


def _target(role: Role) -> Callable[..., Awaitable[Target]]:
    async def dependency(
        request: Request,
        ws: str = PathParam(description="The workspace's name."),
        _: Any = _BEARER,
    ) -> Target:
        state: ServerState = request.app.state.caxton
        claims: Claims = request.scope["state"]["claims"]
        authorize(claims, ws, role)
        if not re.fullmatch(NAME_PATTERN, ws):
            raise UsageError(f"{ws!r} is not a workspace name", NAME_HINT)
        limits: Limits = request.app.state.limits
        return Target(state, ws, claims, state.workspaces.get(ws), limits.upload_bytes)

    return dependency


VIEW = Depends(_target("viewer"))
DEPLOY = Depends(_target("deployer"))


@router.get("/deploy", tags=["deploy"], response_model=m.DeployStatusOut)
async def status(target: Target = VIEW) -> dict[str, Any]:
    """What is live (null before the first deploy), and the server's limits."""
    deployable = target.served is None or target.served.deploys is not None
    store = target.store(create=False) if deployable else None
    live = await asyncio.to_thread(store.live) if store is not None else None
    return {
        "workspace": target.name,
        "deployable": deployable,
        "live": live.to_json() if live else None,
        "limits": target.limits(),
    }


@router.post("/deploy/plan", tags=["deploy"], response_model=m.PlanOut)
async def plan(body: m.PlanIn, target: Target = DEPLOY) -> dict[str, Any]:
    """Compare the client's manifest with the live version: the files that differ, and the
    blobs the server lacks (upload those, then apply)."""
    manifest = Manifest.from_json({p: f.model_dump() for p, f in body.files.items()})
    if manifest.root != body.root:
        raise UsageError(
            "the manifest's files do not hash to the root sent with them",
            "send the root `caxton.deploy.manifest` computes for these files",
        )
    store = target.store(create=False)

    def work() -> dict[str, Any]:
        live = store.live() if store is not None else None
        current = store.live_manifest() if store is not None else Manifest.of({})
        same = live is not None and live.root == manifest.root
        hashes = manifest.hashes()
        missing = store.missing(hashes) if store is not None else sorted(hashes)
        return {
            "live_version": live.version if live else 0,
            "live_root": live.root if live else None,
            "same": same,
            "changes": current.diff(manifest).to_json(),
            "missing": [] if same else missing,
            "limits": target.limits(),
        }

    return await asyncio.to_thread(work)


@router.post(
    "/blobs",
    tags=["deploy"],
    response_model=m.UploadOut,
    openapi_extra={
        "requestBody": {
            "required": True,
            "description": "A zlib stream of frames: `<sha256 hex> <size>\\n` then the bytes.",
            "content": {
                "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}
            },
        }
    },
)
async def upload(request: Request, target: Target = DEPLOY) -> dict[str, Any]:
    """Store content-addressed blobs (each checked against its hash). Idempotent: blobs the
    server has are skipped, so an interrupted upload is sent again as it was."""
    body = await request.body()
    blobs = await asyncio.to_thread(ds.unpack, body, target.upload_bytes)
    store = await asyncio.to_thread(target.store, create=True)
    stored = await asyncio.to_thread(store.put_blobs, blobs)
    return {"received": len(blobs), "stored": stored, "bytes": sum(len(b) for _, b in blobs)}


@router.post(
    "/blobs/fetch",
    tags=["deploy"],
    response_class=Response,
    responses={200: {"content": {"application/octet-stream": {}}}},
)
async def fetch(body: m.FetchIn, target: Target = VIEW) -> Response:
    """Download blobs (as uploaded: zlib frames), e.g. for `caxton pull`. Unknown hashes are
    a 404 naming the first; an answer that would unpack past `upload_bytes` (`GET deploy`)
    is a 413, refused before any blob is read: ask for fewer at a time."""
    store = target.store(create=False)
    if store is None:
        raise NotFoundError(f"nothing is deployed to {target.name!r}", "deploy first")
    wanted = list(dict.fromkeys(body.hashes))
    limit = target.upload_bytes

    def work() -> bytes:
        sizes = store.sizes(wanted)
        absent = [h for h in wanted if h not in sizes]
        if absent:
            raise NotFoundError(f"no blob {absent[0][:12]} on this server", "ask for the hashes "
                                "a deployment lists (`GET deployments/{version}`)")  # fmt: skip
        total = sum(ds.frame_bytes(sizes[h]) for h in wanted)
        if total > limit:
            raise ds.TooLarge(
                f"these {len(wanted)} blobs come to {total} bytes; one answer holds at most "
                f"{limit}",
                f"ask for fewer hashes per request, up to {limit} bytes of blobs (`upload_bytes` "
                "in `GET deploy`), as `caxton pull` does",
            )
        return ds.pack(store.blobs(wanted), level=1)

    return Response(await asyncio.to_thread(work), media_type="application/octet-stream")


@router.post("/deployments", tags=["deploy"], response_model=m.ApplyOut)
async def apply(body: m.ApplyIn, target: Target = DEPLOY) -> dict[str, Any]:
    """Make a manifest the next live version, all or nothing: refused with 409 when
    `base_version` is not the live one (the conflicting files named), with 422 and every
    problem (`path`, `line`, `col`) when it does not validate. Then the agents reload and a
    `deploy` event is published."""
    manifest = Manifest.from_json({p: f.model_dump() for p, f in body.files.items()})
    if manifest.root != body.root:
        raise UsageError(
            "the manifest's files do not hash to the root sent with them",
            "send the root `caxton.deploy.manifest` computes for these files",
        )
    request = ds.ApplyRequest(
        body.base_version, manifest, target.claims.subject, body.commit, body.branch,
        body.dirty, body.message, body.kind, body.rollback_of,
    )  # fmt: skip
    store = await asyncio.to_thread(target.store, create=True)
    result = await asyncio.to_thread(_apply, target, store, request)
    served = target.state.workspaces[target.name]
    deployment = result["deployment"]
    served.events.publish(
        "deploy",
        {
            "version": deployment["version"],
            "root": deployment["root"],
            "who": deployment["who"],
            "commit": deployment["commit"],
            "kind": deployment["kind"],
            **result["changes"],
        },
    )
    return result


def _apply(target: Target, store: Any, request: ds.ApplyRequest) -> dict[str, Any]:
    state, name = target.state, target.name
    with store.applying:
        try:
            if request.kind == "rollback":
                _check_rollback(store, request)
            checked: list[Any] = []  # the staged tree as loaded: the reload reuses it
            record, changes = store.apply(
                request, check=lambda tree: checked.append(check_tree(tree, name))
            )
        except CaxtonError as exc:
            store.refused(request, exc)
            raise
        started = time.perf_counter()
        tree = store.tree(record.version)
        with state.deploy_lock:
            served = state.workspaces.get(name)
        if served is not None and served.runtime is not None:
            snapshot = served.runtime.reload(root=tree, loaded=_moved(checked, tree))
            served.root = tree
        else:  # the first version (or a runtime that could not start before)
            if served is not None:
                served.deploys = None  # the new Workspace takes the store over
                served.close()
            fresh = open_deployed(
                name, store, state.data_dir, state.model, state.record, state.max_concurrent
            )
            with state.deploy_lock:
                state.pending_deploys.pop(name, None)
                state.workspaces[name] = fresh
            if fresh.runtime is None:
                assert fresh.problem is not None
                raise fresh.problem
            snapshot = fresh.runtime.snapshot
        reload_seconds = time.perf_counter() - started
    return {
        "deployment": record.to_json(),
        "changes": changes.to_json(),
        "reload_seconds": round(reload_seconds, 6),
        "agents": len(snapshot.agents),
        "invalid": dict(snapshot.invalid),
    }


def _check_rollback(store: Any, request: ds.ApplyRequest) -> None:
    if request.rollback_of is None:
        raise UsageError("a rollback names the version it returns to", "send `rollback_of`")
    older = store.deployment(request.rollback_of)
    if older.root != request.manifest.root:
        raise UsageError(
            f"this manifest is not version {request.rollback_of}'s files",
            "send the files `GET deployments/{version}` lists",
        )


def _moved(checked: list[Any], tree: Path) -> Any:
    """The staged workspace as loaded, now at its final folder (None if it was not loaded)."""
    if not checked:
        return None
    workspace = checked[0]
    workspace.root = tree
    return workspace


def check_tree(tree: Path, name: str) -> Any:
    """Refuse a version that would not validate, or that names another workspace; returns
    the loaded workspace."""
    from caxton.workspace.loader import load_workspace

    workspace = load_workspace(tree)
    problems = [p for p in workspace.all_problems() if p.severity == "error"]
    if problems:
        raise ds.DeployInvalid(problems, tree)
    declared = workspace.config.workspace.name if workspace.config is not None else None
    if declared != name:
        raise ConflictError(
            f"this deploy's caxton.toml names workspace {declared!r}, not {name!r}",
            f"deploy to /workspaces/{declared} (`caxton deploy` uses the name in caxton.toml), "
            "or rename the workspace in caxton.toml",
        )
    return workspace


@router.get("/deployments", tags=["deploy"], response_model=m.DeploymentsOut)
async def deployments(
    target: Target = VIEW, limit: int = Query(50, ge=1, le=1000)
) -> dict[str, Any]:
    """The history, newest first (forward-only: a rollback is a new version)."""
    store = target.store(create=False) if _deployable(target) else None
    history = await asyncio.to_thread(store.history, limit) if store is not None else []
    return {"workspace": target.name, "deployments": [d.to_json() for d in history]}


@router.get("/deployments/{version}", tags=["deploy"], response_model=m.DeploymentOut)
async def deployment(
    target: Target = VIEW, version: int = PathParam(ge=1, le=2**62)
) -> dict[str, Any]:
    """One version with its files (path -> sha256, size)."""
    store = target.store(create=False) if _deployable(target) else None
    if store is None:
        raise NotFoundError(f"nothing is deployed to {target.name!r}", "deploy first")
    found: ds.Deployment = await asyncio.to_thread(store.deployment, version)
    return found.to_json(with_files=True)


@router.get("/deploy/audit", tags=["deploy"], response_model=m.AuditOut)
async def audit(target: Target = VIEW, limit: int = Query(100, ge=1, le=1000)) -> dict[str, Any]:
    """Every apply, made or refused: who (the token's subject), what, when, the commit."""
    store = target.store(create=False) if _deployable(target) else None
    entries = await asyncio.to_thread(store.audit, limit) if store is not None else []
    return {"workspace": target.name, "entries": entries}


def _deployable(target: Target) -> bool:
    return target.served is None or target.served.deploys is not None
