"""`caxton init`: new workspaces from the skeleton, new agents from templates."""

from __future__ import annotations

import re
import shutil
import subprocess
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

from caxton.agents.model import NAME_HINT, NAME_PATTERN
from caxton.errors import ConfigError, ConflictError, FileAccessError, NotFoundError, UsageError
from caxton.paths import AGENTS_DIR, TOOLS_DIR, WORKSPACE_FILE
from caxton.workspace.files import write_all
from caxton.workspace.loader import find_root, load_workspace, require_root
from caxton.workspace.templates import load_template, render, skeleton_file

STARTER_AGENT = "assistant"
_NAME = re.compile(NAME_PATTERN)

# skeleton file -> where it goes in a new workspace
SKELETON = {
    "caxton.toml": WORKSPACE_FILE,
    "README.md": "README.md",
    "gitignore": ".gitignore",
    "tools-README.md": f"{TOOLS_DIR}/README.md",
    "agents/assistant.toml": f"{AGENTS_DIR}/{STARTER_AGENT}.toml",
}


@dataclass(slots=True)
class InitResult:
    root: Path
    written: list[Path]
    git_initialized: bool = False
    warnings: list[tuple[str, str]] = field(default_factory=list)  # (message, hint)


def slugify(text: str) -> str:
    """A valid name from free text: "Mon Équipe" -> "mon-equipe" (may still be too short)."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    return re.sub(r"^[^a-z]+", "", slug)[:64].rstrip("-")


def check_name(name: str, what: str) -> None:
    if _NAME.fullmatch(name):
        return
    slug = slugify(name)
    hint = f"try {slug!r}" if _NAME.fullmatch(slug) else NAME_HINT
    raise UsageError(f"{what} name {name!r} is not valid: {NAME_HINT}", hint)


def create_workspace(
    directory: Path, *, name: str | None = None, force: bool = False
) -> InitResult:
    directory = directory.resolve()
    if directory.exists() and not directory.is_dir():
        raise ConflictError(
            f"`{directory}` exists and is not a folder", "choose another path for the workspace"
        )
    if (directory / WORKSPACE_FILE).exists() and not force:
        raise ConflictError(
            f"`{directory}` is already a Caxton workspace (it has {WORKSPACE_FILE})",
            "to add an agent: `caxton init NAME --template TEMPLATE`; to rewrite the workspace "
            "files: `caxton init --force`",
        )
    outer = find_root(directory.parent) if directory.parent != directory else None
    if outer is not None and not force:
        raise ConflictError(
            f"`{directory}` is inside the workspace `{outer}`",
            "create the workspace somewhere else, or pass `--force` to nest one on purpose",
        )
    if name is None:
        name = slugify(directory.name)
        if not _NAME.fullmatch(name):
            fallback = f"{name}-workspace" if name else "my-workspace"
            raise UsageError(
                f"cannot make a workspace name from the folder name {directory.name!r}: "
                + NAME_HINT,
                f"pass one, e.g. `--name {fallback}`",
            )
    else:
        check_name(name, "workspace")
    files = {
        directory / target: render(
            skeleton_file(source), workspace_name=name, agent_name=STARTER_AGENT
        )
        for source, target in SKELETON.items()
    }
    written = write_all(files, force=force)
    result = InitResult(directory, written)
    result.git_initialized = _git_init(directory, result)
    return result


def create_agent(start: Path, name: str, template: str, *, force: bool = False) -> InitResult:
    root = find_root(start)
    if root is None:
        raise NotFoundError(
            f"`{start}` is not inside a Caxton workspace, so there is nowhere to add agent "
            f"{name!r}",
            "create a workspace first: `caxton init my-workspace`, then cd into it",
        )
    check_name(name, "agent")
    chosen = load_template(template)
    target = root / AGENTS_DIR / f"{name}.toml"
    workspace = load_workspace(root)
    other = workspace.agent(name)
    if other is not None and other.path != target:
        raise ConflictError(
            f"an agent named {name!r} already exists in `{other.path.relative_to(root)}`",
            "choose another name; agent names are unique in a workspace",
        )
    text = render(chosen.text, agent_name=name, workspace_name=_workspace_name(workspace))
    written = write_all({target: text}, force=force)
    result = InitResult(root, written)
    created = load_workspace(root, only=[target])
    errors = [p for a in created.agents for p in a.problems if p.severity == "error"]
    if errors:  # a template that does not validate is a bug; undo rather than leave it behind
        target.unlink()
        raise ConfigError(errors, f"template {template!r} produced an invalid agent")
    return result


def _workspace_name(workspace: object) -> str:
    config = getattr(workspace, "config", None)
    return config.workspace.name if config is not None else ""


def _git_init(directory: Path, result: InitResult) -> bool:
    git = shutil.which("git")
    if git is None:
        result.warnings.append(
            (
                "git is not installed, so the workspace is not a git repository",
                "install git, then run `git init` here: `caxton deploy` records commits",
            )
        )
        return False
    inside = subprocess.run(
        [git, "-C", str(directory), "rev-parse", "--is-inside-work-tree"],
        capture_output=True,
        text=True,
        check=False,
    )
    if inside.returncode == 0 and inside.stdout.strip() == "true":
        return False
    done = subprocess.run(
        [git, "-C", str(directory), "init", "--quiet"], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise FileAccessError(
            f"`git init` failed in `{directory}`: {done.stderr.strip()}",
            "run `git init` yourself to see why",
        )
    return True


__all__ = ["InitResult", "create_agent", "create_workspace", "require_root", "slugify"]
