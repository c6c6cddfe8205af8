"""Finding a workspace and loading everything in it into typed objects plus located problems."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from caxton.agents.check import AgentContext, check_agent
from caxton.agents.model import AgentConfig
from caxton.errors import NotFoundError, Problem
from caxton.llm.catalog import BUILTIN_PROVIDER_NAMES
from caxton.paths import AGENTS_DIR, TOOLS_DIR, WORKSPACE_FILE, workspace_state_dir
from caxton.tools.catalog import BUILTIN_TOOL_NAMES, BUILTIN_TOOLS
from caxton.workspace.config import WorkspaceConfig
from caxton.workspace.parsecache import ParseCache
from caxton.workspace.schema import Checker, did_you_mean, suggest
from caxton.workspace.tomlfile import TomlFile, load_toml


@dataclass(slots=True)
class AgentFile:
    path: Path
    config: AgentConfig | None
    problems: list[Problem]
    source: TomlFile | None = None

    @property
    def valid(self) -> bool:
        return self.config is not None and not any(p.severity == "error" for p in self.problems)


@dataclass(slots=True)
class Workspace:
    root: Path
    config: WorkspaceConfig | None
    agents: list[AgentFile]
    context: AgentContext
    problems: list[Problem] = field(default_factory=list)  # caxton.toml, tools, cross-file

    def all_problems(self) -> list[Problem]:
        out = list(self.problems)
        for agent in self.agents:
            out += agent.problems
        return out

    def invalid_agents(self) -> dict[str, str]:
        """Each invalid agent's name (its file's name when it has none) and its first error,
        located relative to the workspace."""
        out = {}
        for agent in self.agents:
            if agent.valid:
                continue
            name = agent.config.name if agent.config is not None else agent.path.stem
            first = next((p for p in agent.problems if p.severity == "error"), None)
            out[name] = f"{first.location(self.root)}: {first.message}" if first else "invalid"
        return out

    def agent(self, name: str) -> AgentFile | None:
        for agent in self.agents:
            if agent.config is not None and agent.config.name == name:
                return agent
        for agent in self.agents:
            if agent.path.stem == name:
                return agent
        return None


def find_root(start: Path) -> Path | None:
    """The nearest directory at or above `start` holding a `caxton.toml` file."""
    here = start.resolve()
    for candidate in (here, *here.parents):
        if (candidate / WORKSPACE_FILE).is_file():
            return candidate
    return None


def require_root(start: Path) -> Path:
    root = find_root(start)
    if root is None:
        raise NotFoundError(
            f"no Caxton workspace in `{start}` or any folder above it (no {WORKSPACE_FILE})",
            "create one with `caxton init`, or cd into a workspace",
        )
    return root


def agent_paths(root: Path) -> list[Path]:
    """Agent files in `agents/`: every `*.toml` entry, hidden ones excepted, sorted."""
    folder = root / AGENTS_DIR
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.suffix == ".toml" and not p.name.startswith("."))


def load_workspace(root: Path, only: list[Path] | None = None) -> Workspace:
    """Load and check `caxton.toml` and the agents (all, or just `only`) of the workspace."""
    problems: list[Problem] = []
    cache = ParseCache(workspace_state_dir(root) / "cache")
    config, source = _load_workspace_config(root / WORKSPACE_FILE, problems, cache)
    workspace_tools = _workspace_tools(root, problems)
    tools = set(BUILTIN_TOOL_NAMES) | set(workspace_tools)
    providers = set(BUILTIN_PROVIDER_NAMES)
    if config is not None and source is not None:
        problems += _check_mcp_tool_names(source, config, workspace_tools)
        problems += _check_tool_grants(source, config, workspace_tools)
    if config is not None:
        providers |= set(config.llm.providers)
        for server in config.mcp_servers.values():
            tools |= set(server.tools)
    context = AgentContext(frozenset(tools), frozenset(providers))
    if only is not None and not only:  # caxton.toml alone (e.g. the workspace's name)
        return Workspace(root, config, [], context, problems)
    paths = agent_paths(root)
    agents = [load_agent(path, context, cache) for path in paths]
    cache.save(keep={str(p.resolve()) for p in [root / WORKSPACE_FILE, *paths]})
    _mark_duplicate_names(agents)
    if config is not None and source is not None:
        problems += _check_fallback(source, config, agents)
    if only is not None:
        wanted = {p.resolve() for p in only}
        agents = [a for a in agents if a.path.resolve() in wanted]
    return Workspace(root, config, agents, context, problems)


def load_agent(path: Path, context: AgentContext, cache: ParseCache | None = None) -> AgentFile:
    loaded = load_toml(path, what="agent file", cache=cache)
    if isinstance(loaded, Problem):
        return AgentFile(path, None, [loaded])
    config, problems = check_agent(loaded, context)
    if config is not None and config.name != path.stem:
        problems.append(
            loaded.problem(
                ("name",),
                f"agent {config.name!r} is in a file named {path.name!r}",
                f"rename the file to `{config.name}.toml`, or change `name`",
                code="name-mismatch",
                severity="warning",
            )
        )
    return AgentFile(path, config, problems, loaded)


def _load_workspace_config(
    path: Path, problems: list[Problem], cache: ParseCache
) -> tuple[WorkspaceConfig | None, TomlFile | None]:
    loaded = load_toml(path, what="workspace file", cache=cache)
    if isinstance(loaded, Problem):
        problems.append(loaded)
        return None, None
    config, found = check_workspace_config(loaded)
    problems += found
    return config, loaded


def check_workspace_config(tf: TomlFile) -> tuple[WorkspaceConfig | None, list[Problem]]:
    """`caxton.toml`'s typed config (None when a required value is missing or bad) and its
    located problems, those that need no other file (agents, tools) to find."""
    checker = Checker()
    config = checker.build(WorkspaceConfig, tf.data)
    problems = [
        tf.problem(i.keypath, i.message, i.hint, at=i.at, code=i.code) for i in checker.issues
    ]
    if config is not None:
        problems += _check_workspace_refs(tf, config)
    return config, problems


def _check_workspace_refs(tf: TomlFile, config: WorkspaceConfig) -> list[Problem]:
    problems = []
    providers = BUILTIN_PROVIDER_NAMES | set(config.llm.providers)
    if config.llm.default_provider not in providers:
        problems.append(
            tf.problem(
                ("llm", "default_provider"),
                f"unknown LLM provider {config.llm.default_provider!r}",
                "known providers: "
                + ", ".join(sorted(providers))
                + "; declare others under [llm.providers.NAME]",
                code="unknown-provider",
            )
        )
    for name, server in config.mcp_servers.items():
        if bool(server.command) == bool(server.url):
            problems.append(
                tf.problem(
                    ("mcp_servers", name),
                    f"MCP server {name!r} needs exactly one of `command` "
                    "(a stdio server) or `url` (a streamable HTTP server)",
                    'e.g. command = ["my-mcp-server", "--stdio"]',
                    at="key",
                    code="bad-server",
                )
            )
        for i, tool in enumerate(server.tools):
            if tool in BUILTIN_TOOL_NAMES:
                problems.append(
                    tf.problem(
                        ("mcp_servers", name, "tools", i),
                        f"MCP server {name!r} offers {tool!r}, which is a built-in tool's name",
                        "built-in tools cannot be replaced; drop it from this list",
                        code="shadowed-tool",
                    )
                )
    return problems


def _check_mcp_tool_names(
    tf: TomlFile, config: WorkspaceConfig, workspace_tools: dict[str, Path]
) -> list[Problem]:
    """A tool name means one tool: not a workspace tool's and an MCP server's, nor two servers'.

    (A built-in's name is reported by `_check_workspace_refs`.)
    """
    problems = []
    first: dict[str, str] = {}
    for name, server in config.mcp_servers.items():
        for i, tool in enumerate(server.tools):
            if tool in BUILTIN_TOOL_NAMES:
                continue
            keypath = ("mcp_servers", name, "tools", i)
            other = first.setdefault(tool, name)
            if tool in workspace_tools:
                problems.append(
                    tf.problem(
                        keypath,
                        f"MCP server {name!r} offers {tool!r}, which the workspace tool "
                        f"`{_relative(workspace_tools[tool], tf.path.parent)}` also declares",
                        "tool names are unique in a workspace: drop it from this list, "
                        "or rename the workspace tool",
                        code="duplicate-tool",
                    )
                )
            elif other != name:
                problems.append(
                    tf.problem(
                        keypath,
                        f"MCP server {name!r} offers {tool!r}, which MCP server {other!r} "
                        "also offers",
                        "an agent could not tell which server to call: keep the tool under "
                        "one server only",
                        code="duplicate-tool",
                    )
                )
    return problems


def _check_tool_grants(
    tf: TomlFile, config: WorkspaceConfig, workspace_tools: dict[str, Path]
) -> list[Problem]:
    """`[tools.NAME]` grants reach WASM tools only: a built-in one or one under tools/."""
    wasm = {t.name for t in BUILTIN_TOOLS if t.kind == "wasm"} | set(workspace_tools)
    problems = []
    for name in config.tools:
        if name in wasm:
            continue
        known = name in BUILTIN_TOOL_NAMES or any(
            name in server.tools for server in config.mcp_servers.values()
        )
        close = suggest(name, sorted(wasm))
        problems.append(
            tf.problem(
                ("tools", name),
                f"[tools.{name}] grants to a tool that does not run in the sandbox"
                if known
                else f"[tools.{name}]: no WASM tool is named {name!r}",
                f"did you mean [tools.{close}]?"
                if close and not known
                else "grants are for WASM tools: built-in ones like http_fetch, or tools/<name>/",
                at="key",
                code="unknown-tool",
            )
        )
    return problems


def _check_fallback(
    tf: TomlFile, config: WorkspaceConfig, agents: list[AgentFile]
) -> list[Problem]:
    """`[routing] fallback` names an agent of the workspace, and a valid one."""
    fallback = config.routing.fallback
    if fallback is None:
        return []
    names: dict[str, AgentFile] = {}
    for agent in agents:  # a name's first file is the one used (a second is a duplicate)
        names.setdefault(agent.config.name if agent.config is not None else agent.path.stem, agent)
    found = names.get(fallback)
    keypath = ("routing", "fallback")
    if found is None:
        listed = (
            "the workspace's agents: " + ", ".join(sorted(names))
            if names
            else "the workspace has no agents yet: add one with `caxton init NAME --template T`"
        )
        close = did_you_mean(fallback, names, None)
        return [
            tf.problem(
                keypath,
                f"[routing] fallback names no agent: {fallback!r}",
                f"{close + ' ' if close else ''}{listed}; or remove `fallback`",
                code="unknown-agent",
            )
        ]
    if found.valid:
        return []
    # The agent's own errors fail the check already; this says what they cost the workspace.
    return [
        tf.problem(
            keypath,
            f"[routing] fallback names {fallback!r}, which is invalid: requests no agent fits "
            "are refused until it is fixed",
            f"fix `{_relative(found.path, tf.path.parent)}` (its problems are listed with it)",
            code="invalid-fallback",
            severity="warning",
        )
    ]


def _relative(path: Path, root: Path) -> Path:
    return path.relative_to(root) if path.is_relative_to(root) else path


def _workspace_tools(root: Path, problems: list[Problem]) -> dict[str, Path]:
    """Tool names declared by `tools/<dir>/tool.toml`, with the manifest declaring each.

    The manifests' problems are added to `problems`.
    """
    from caxton.tools.manifest import load_tool

    folder = root / TOOLS_DIR
    if not folder.is_dir():
        return {}
    names: dict[str, Path] = {}
    for manifest in sorted(folder.glob("*/tool.toml")):
        tool = load_tool(manifest)
        problems.extend(tool.problems)
        for name in tool.names:
            first = names.setdefault(name, manifest)
            if first != manifest:
                problems.append(
                    Problem(
                        manifest,
                        1,
                        1,
                        f"tool {name!r} is also declared by `{first}`",
                        "tool names are unique in a workspace: rename one",
                        code="duplicate-tool",
                    )
                )
    return names


def _mark_duplicate_names(agents: list[AgentFile]) -> None:
    first: dict[str, AgentFile] = {}
    for agent in agents:
        if agent.config is None or agent.source is None:
            continue
        seen = first.setdefault(agent.config.name, agent)
        if seen is not agent:
            agent.problems.append(
                agent.source.problem(
                    ("name",),
                    f"agent name {agent.config.name!r} is already used by `{seen.path.name}`",
                    "agent names must be unique in a workspace: rename one of them",
                    code="duplicate-name",
                )
            )
