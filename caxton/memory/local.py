"""The workspace's local memory store (`.caxton/memory.duckdb`) and scope names from the CLI."""

from __future__ import annotations

from pathlib import Path

from caxton.errors import UsageError
from caxton.memory.scope import SCOPE_KINDS, Scope, ScopeKind
from caxton.paths import workspace_state_dir
from caxton.workspace.loader import load_workspace

STORE_FILE = "memory.duckdb"


def store_path(root: Path) -> Path:
    return workspace_state_dir(root) / STORE_FILE


def workspace_name(root: Path) -> str:
    config = load_workspace(root, only=[]).config
    return config.workspace.name if config is not None else root.name


def cli_scope(root: Path, kind: str, agent: str | None) -> Scope:
    """The scope named by `--scope` (and `--agent`), checked."""
    if kind not in SCOPE_KINDS:
        raise UsageError(f"unknown scope {kind!r}", "use --scope agent, workspace or global")
    scope_kind: ScopeKind = kind
    if scope_kind == "agent" and not agent:
        raise UsageError("--scope agent needs --agent NAME", "name the agent whose memory to use")
    if scope_kind != "agent" and agent:
        raise UsageError(
            f"--agent applies to --scope agent, not {kind!r}",
            f"drop --agent, or use --scope agent --agent {agent}",
        )
    return Scope.of(scope_kind, agent=agent or "", workspace=workspace_name(root))
