"""Validating what the user names: workspaces, single agent files, or a mix; every problem kept."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from caxton.agents.check import AgentContext
from caxton.errors import Problem
from caxton.paths import WORKSPACE_FILE
from caxton.workspace.loader import (
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
    workspaces: dict[Path, Workspace] = {}
    seen: set[Path] = set()

    def workspace(root: Path) -> Workspace:
        if root not in workspaces:
            workspaces[root] = load_workspace(root)
            report.problems += workspaces[root].problems
            report.files_checked += 1
        return workspaces[root]

    for path in paths:
        if not path.exists() and not path.is_symlink():
            report.problems.append(
                Problem(path, 1, 1, "no such file or folder", None, code="not-found")
            )
            continue
        if path.is_dir() and path.suffix != ".toml":
            ws = workspace(require_root(path))
            targets = [a.path for a in ws.agents]
        else:
            root = find_root(path.parent)
            if root is not None:
                ws = workspace(root)
                if path.resolve() == (root / WORKSPACE_FILE).resolve():
                    continue
                targets = [path]
            else:
                ws = None
                targets = [path]
        for target in targets:
            key = target.resolve()
            if key in seen:
                continue
            seen.add(key)
            report.files_checked += 1
            report.problems += _agent_problems(ws, target)
    return report


def _agent_problems(ws: Workspace | None, path: Path) -> list[Problem]:
    if ws is not None:
        for agent in ws.agents:
            if agent.path.resolve() == path.resolve():
                return agent.problems
        return load_agent(path, ws.context).problems
    return load_agent(path, AgentContext()).problems
