"""Memory scopes: every stored row belongs to exactly one partition, and every read names one.

This module is the only place that turns a scope into a query filter, so no query can read
across partitions by accident.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

ScopeKind = Literal["agent", "workspace", "global"]
SCOPE_KINDS: tuple[ScopeKind, ...] = ("agent", "workspace", "global")
GLOBAL_OWNER = "*"


@dataclass(frozen=True, slots=True)
class Scope:
    """A partition of memory: one agent's, one workspace's, or the global one."""

    kind: ScopeKind
    owner: str

    @classmethod
    def of(cls, kind: ScopeKind, *, agent: str, workspace: str) -> Scope:
        """The scope an agent configured with `[memory] scope = kind` reads and writes."""
        if kind == "agent":
            return cls("agent", agent)
        if kind == "workspace":
            return cls("workspace", workspace)
        return cls("global", GLOBAL_OWNER)

    def __post_init__(self) -> None:
        if self.kind not in SCOPE_KINDS:
            raise ValueError(f"unknown scope kind {self.kind!r}")
        if not self.owner:
            raise ValueError("a scope needs an owner")
        if (self.kind == "global") != (self.owner == GLOBAL_OWNER):
            raise ValueError(f"the global scope's owner is {GLOBAL_OWNER!r}, and only its")

    @property
    def key(self) -> tuple[str, str]:
        return (self.kind, self.owner)

    def where(self, table: str = "") -> tuple[str, list[str]]:
        """The SQL filter (and its parameters) selecting this partition's rows."""
        prefix = f"{table}." if table else ""
        return f"{prefix}scope_kind = ? AND {prefix}scope_owner = ?", [self.kind, self.owner]

    def __str__(self) -> str:
        return self.kind if self.kind == "global" else f"{self.kind}:{self.owner}"

    def to_json(self) -> dict[str, str]:
        return {"kind": self.kind, "owner": self.owner}
