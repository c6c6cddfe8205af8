"""Validating what the user names: workspaces, single agent files, or a mix; every problem kept."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from caxton.agents.check import AgentContext
from caxton.errors import Problem
from caxton.paths import WORKSPACE_FILE
from caxton.workspace.loader import (
    AgentFile,
    Workspace,
    find_root,
    load_agent,
    load_workspace,
    require_root,
)


@dataclass(slots=True)
class Report:
    problems: list[Problem] = field(default_factory=list)
    files_checked: int = 0

    @property
    def errors(self) -> int:
        return sum(1 for p in self.problems if p.severity == "error")

    def to_json(self, base: Path | None = None) -> dict[str, Any]:
        base = base or Path.cwd()
        return {
            "ok": self.errors == 0,
            "files_checked": self.files_checked,
            "errors": self.errors,
            "warnings": len(self.problems) - self.errors,
            "problems": [p.to_json(base) for p in self.problems],
        }


def validate_paths(paths: list[Path]) -> Report:
    report = Report()
    workspaces: dict[Path, tuple[Workspace, dict[Path, AgentFile]]] = {}
    seen: set[Path] = set()

    def workspace(root: Path) -> tuple[Workspace, dict[Path, AgentFile]]:
        if root not in workspaces:
            ws = load_workspace(root)
            workspaces[root] = (ws, {a.path.resolve(): a for a in ws.agents})
            report.problems += ws.problems
            report.files_checked += 1
        return workspaces[root]

    def add(path: Path, problems: list[Problem]) -> None:
        if path not in seen:
            seen.add(path)
            report.files_checked += 1
            report.problems += problems

    for path in paths:
        if not path.exists() and not path.is_symlink():
            report.problems.append(
                Problem(path, 1, 1, "no such file or folder", None, code="not-found")
            )
        elif path.is_dir() and path.suffix != ".toml":
            _, agents = workspace(require_root(path))
            for resolved, agent in agents.items():
                add(resolved, agent.problems)
        else:
            resolved = path.resolve()
            root = find_root(path.parent)
            if root is None:
                add(resolved, load_agent(path, AgentContext()).problems)
                continue
            ws, agents = workspace(root)
            if resolved == (root / WORKSPACE_FILE).resolve():
                continue
            known = agents.get(resolved)
            add(resolved, known.problems if known else load_agent(path, ws.context).problems)
    return report
