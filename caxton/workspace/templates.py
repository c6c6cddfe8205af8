"""The built-in agent templates and the workspace skeleton, read from package data.

Templates are agent TOML files with init-time variables (`{{agent_name}}`, `{{created_at}}`,
`{{caxton_version}}`, `{{workspace_name}}`). Run-time variables such as `{{request}}` are left for
the executor, so rendering replaces only the names in `INIT_VARIABLES`.
"""

from __future__ import annotations

import datetime as dt
import importlib.resources
import tomllib
from dataclasses import dataclass
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from caxton import __version__
from caxton.errors import NotFoundError
from caxton.workspace.schema import suggest

if TYPE_CHECKING:
    from caxton.agents.model import AgentConfig

INIT_VARIABLES = ("agent_name", "created_at", "caxton_version", "workspace_name")


@dataclass(frozen=True, slots=True)
class Template:
    name: str
    description: str
    capabilities: tuple[str, ...]
    tools: tuple[str, ...]
    documentation: str
    text: str

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": self.description,
            "capabilities": list(self.capabilities),
            "tools": list(self.tools),
            "documentation": self.documentation,
        }


def _package_files() -> Traversable:
    return importlib.resources.files("caxton.templates")


def skeleton_file(relative: str) -> str:
    """A file of the workspace skeleton, e.g. "caxton.toml" or "agents/assistant.toml"."""
    node = _package_files() / "workspace"
    for part in relative.split("/"):
        node = node / part
    return node.read_text(encoding="utf-8")


def template_names() -> list[str]:
    folder = _package_files() / "agents"
    return sorted(
        p.name.removesuffix(".toml") for p in folder.iterdir() if p.name.endswith(".toml")
    )


def load_template(name: str) -> Template:
    names = template_names()
    if name not in names:
        close = suggest(name, names)
        raise NotFoundError(
            f"no template named {name!r}" + (f"; did you mean {close!r}?" if close else ""),
            "available templates: " + ", ".join(names) + " (`caxton template list` describes them)",
        )
    text = (_package_files() / "agents" / f"{name}.toml").read_text(encoding="utf-8")
    data = tomllib.loads(text)
    return Template(
        name=name,
        description=data.get("description", ""),
        capabilities=tuple(data.get("capabilities", ())),
        tools=tuple(data.get("tools", ())),
        documentation=data.get("documentation", ""),
        text=text,
    )


def all_templates() -> list[Template]:
    return [load_template(name) for name in template_names()]


def render(text: str, **variables: str) -> str:
    """Replace init-time variables; every other `{{...}}` is left for run time."""
    values = {
        "created_at": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d"),
        "caxton_version": __version__,
        **variables,
    }
    for key in INIT_VARIABLES:
        if key in values:
            text = text.replace("{{" + key + "}}", values[key])
    return text


def template_agents() -> list[AgentConfig]:
    """Every template instantiated under its own name and checked, as `caxton init` would."""
    from caxton.agents.check import AgentContext, check_agent
    from caxton.workspace.tomlfile import TomlFile

    out = []
    for name in template_names():
        text = render(load_template(name).text, agent_name=name)
        config, problems = check_agent(
            TomlFile(Path(f"{name}.toml"), text, tomllib.loads(text)), AgentContext()
        )
        if config is None:
            raise AssertionError(f"template {name!r} is invalid: {problems}")
        out.append(config)
    return out
