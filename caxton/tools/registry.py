"""The tools an agent can name: built-in and workspace WASM modules, host tools, MCP servers.

One description for every kind (name, description, JSON-schema input) and one way to call the
WASM ones and the tools of external MCP servers (`caxton.toml` `[mcp_servers]`, unsandboxed).
Host tools (memory, messaging, LLM providers) are described here and called by the runtime.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from caxton.errors import CaxtonError, ExitCode, NotFoundError
from caxton.paths import TOOLS_DIR, workspace_state_dir
from caxton.tools.catalog import BUILTIN_TOOLS
from caxton.tools.manifest import ToolManifest, load_tool

if TYPE_CHECKING:
    from caxton.workspace.config import McpServerConfig

BUILTIN_DIR = Path(__file__).parent / "builtin"

Kind = Literal["wasm", "memory", "messaging", "mcp"]
Origin = Literal["built-in", "workspace", "mcp-server"]


class ToolUnavailable(CaxtonError):
    exit_code = ExitCode.NOT_FOUND


class ToolArgumentsError(CaxtonError):
    exit_code = ExitCode.USAGE


@dataclass(frozen=True, slots=True)
class ToolInfo:
    name: str
    kind: Kind
    origin: Origin
    description: str
    input_schema: dict[str, Any]
    manifest: ToolManifest | None = None
    folder: Path | None = None  # where tool.toml and the module live
    server: str | None = None  # the `[mcp_servers.NAME]` of an external tool
    server_config: McpServerConfig | None = None

    @property
    def runnable(self) -> bool:
        return self.manifest is not None or self.server_config is not None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name,
            "kind": self.kind,
            "origin": self.origin,
            "description": self.description,
            "input_schema": self.input_schema,
        }
        if self.manifest is not None and self.folder is not None:
            limits = self.manifest.limits
            perms = self.manifest.permissions
            out["module"] = str(self.manifest.module_file(self.folder))
            out["limits"] = {
                "memory": str(limits.memory),
                "fuel": limits.fuel,
                "timeout": str(limits.timeout),
                "output": str(limits.output),
            }
            out["permissions"] = {
                "env": perms.env,
                "http_hosts": perms.http_hosts,
                "dirs": [{"path": d.path, "mode": d.mode} for d in perms.dirs],
            }
        if self.server_config is not None:
            config = self.server_config
            out["sandboxed"] = False
            out["server"] = {
                "name": self.server,
                "transport": "stdio" if config.command else "streamable-http",
                "command": config.command or None,
                "url": config.url,
                "env": config.env,
                "timeout": str(config.timeout),
            }
        return out


def _wasm_tools(folder: Path, origin: Origin) -> list[ToolInfo]:
    out = []
    for path in sorted(folder.glob("*/tool.toml")):
        loaded = load_tool(path, builtin=origin == "built-in")
        manifest = loaded.manifest
        if manifest is None or any(p.severity == "error" for p in loaded.problems):
            continue  # `caxton validate` reports why
        for spec in manifest.tools:
            out.append(
                ToolInfo(
                    spec.name,
                    "wasm",
                    origin,
                    spec.description,
                    spec.input_schema,
                    manifest,
                    path.parent,
                )
            )
    return out


def available_tools(root: Path | None) -> list[ToolInfo]:
    """Every tool an agent of the workspace at `root` could list, sorted by name."""
    built = {t.name: t for t in _wasm_tools(BUILTIN_DIR, "built-in")}
    tools: dict[str, ToolInfo] = {}
    for entry in BUILTIN_TOOLS:
        tools[entry.name] = built.get(entry.name) or ToolInfo(
            entry.name, entry.kind, "built-in", entry.description, entry.input_schema
        )
    if root is not None and (root / TOOLS_DIR).is_dir():
        for tool in _wasm_tools(root / TOOLS_DIR, "workspace"):
            tools.setdefault(tool.name, tool)
    for tool in _mcp_tools(root):
        tools.setdefault(tool.name, tool)
    return sorted(tools.values(), key=lambda t: t.name)


def _mcp_tools(root: Path | None) -> list[ToolInfo]:
    """The tools `caxton.toml` declares for external MCP servers, named without connecting.

    Their schema is unknown until a connection asks (`find_tool(..., connect=True)`); a name
    another tool or an earlier server already has is left out (`caxton validate` reports it).
    """
    from caxton.tools.external import declared_servers

    out: dict[str, ToolInfo] = {}
    for server, config in declared_servers(root).items():
        for name in config.tools:
            description = (
                f"external (unsandboxed), from MCP server {server!r}; "
                f"`caxton tool inspect {name}` connects for its schema"
            )
            out.setdefault(
                name,
                ToolInfo(
                    name,
                    "mcp",
                    "mcp-server",
                    description,
                    {"type": "object"},
                    server=server,
                    server_config=config,
                ),
            )
    return list(out.values())


def _explain_broken(root: Path | None, name: str) -> None:
    """A workspace tool left out because its folder has an error: say which, and where."""
    if root is None or not (root / TOOLS_DIR).is_dir():
        return
    for path in sorted((root / TOOLS_DIR).glob("*/tool.toml")):
        loaded = load_tool(path)
        errors = [p for p in loaded.problems if p.severity == "error"]
        if errors and name in loaded.names:
            first = errors[0]
            raise ToolUnavailable(
                f"tool {name!r} cannot run: {first.location(root)}: {first.message}",
                first.hint or "`caxton validate` lists every problem",
            )


def find_tool(root: Path | None, name: str, *, connect: bool = False) -> ToolInfo:
    """The tool called `name`; with `connect`, an MCP server's tool as its server describes it."""
    from caxton.workspace.schema import suggest

    tools = {t.name: t for t in available_tools(root)}
    if name not in tools:
        _explain_broken(root, name)
        close = suggest(name, tools)
        raise NotFoundError(
            f"no tool named {name!r}" + (f"; did you mean {close!r}?" if close else ""),
            "`caxton tool list` shows the built-in, workspace and MCP server tools",
        )
    tool = tools[name]
    if connect and tool.server is not None and tool.server_config is not None:
        from dataclasses import replace

        from caxton.tools.external import list_tools

        listed = list_tools(tool.server, tool.server_config, cwd=root, require=[name])
        remote = next(t for t in listed if t.name == name)
        tool = replace(tool, description=remote.description, input_schema=remote.input_schema)
    return tool


def _call_mcp(tool: ToolInfo, arguments: dict[str, Any], root: Path | None, caller: str) -> Any:
    """Call an external MCP server's tool; arguments are checked against the schema it lists."""
    import time
    from dataclasses import replace

    from caxton.tools.external import McpServerError, call_tool

    if tool.server is None or tool.server_config is None:
        raise ToolUnavailable(
            f"{tool.name!r} has no MCP server", "declare it under [mcp_servers] in caxton.toml"
        )

    def check(schema: dict[str, Any]) -> None:
        check_arguments(replace(tool, input_schema=schema), arguments)

    record: dict[str, Any] = {
        "tool": tool.name,
        "origin": tool.origin,
        "server": tool.server,
        "sandboxed": False,
        "caller": caller,
        "arguments_bytes": len(json.dumps(arguments)),
    }
    started = time.perf_counter()
    try:
        result = call_tool(
            tool.server, tool.server_config, tool.name, arguments, cwd=root, check=check
        )
    except (McpServerError, ToolArgumentsError) as exc:
        outcome = exc.outcome if isinstance(exc, McpServerError) else "rejected"
        record.update(outcome=outcome, error=exc.message)
        record["seconds"] = round(time.perf_counter() - started, 6)
        _audit(root, record, None)
        raise
    record.update(
        outcome="error-result" if result.is_error else "ok", seconds=round(result.run.seconds, 6)
    )
    _audit(root, record, None)
    return result


def call(
    tool: ToolInfo,
    arguments: dict[str, Any],
    root: Path | None,
    sandbox: Any | None = None,
    *,
    caller: str = "cli",
) -> Any:
    """Call a tool once: a WASM tool in the sandbox, an MCP server's tool on its server.

    For many calls, keep a `ToolRunner`: it prepares each tool once.
    """
    return ToolRunner(root, sandbox).call(tool, arguments, caller=caller)


@dataclass(frozen=True, slots=True)
class _Prepared:
    """Everything a WASM tool's calls share: built on its first call, reused after."""

    module: Any
    limits: Any
    preopens: tuple[Any, ...]
    http: Any
    validator: Any
    stamp: tuple[int, int]  # the module file's mtime and size when it was loaded


class ToolRunner:
    """Runs the tools of one workspace (or none) with their permissions and limits.

    A WASM tool runs once per call in a fresh instance; its compiled module, limits, grants
    and argument validator are prepared on its first call and reused until the module file
    changes. An MCP server's tool goes to its server (unsandboxed). Every call, answered or
    not, is appended to the audit log (`audit_path`).
    """

    def __init__(self, root: Path | None, sandbox: Any | None = None) -> None:
        self.root = root
        self._sandbox = sandbox
        self._prepared: dict[str, _Prepared] = {}

    @property
    def sandbox(self) -> Any:
        if self._sandbox is None:
            from caxton.paths import cache_dir
            from caxton.tools.sandbox import Sandbox

            self._sandbox = Sandbox(cache_dir() / "wasm")
        return self._sandbox

    def call(self, tool: ToolInfo, arguments: dict[str, Any], *, caller: str = "cli") -> Any:
        if tool.kind == "mcp":
            return _call_mcp(tool, arguments, self.root, caller)
        from caxton.tools.mcp_stdio import ToolRunError, call_tool

        prepared = self._prepare(tool)
        check_arguments(tool, arguments, prepared.validator)
        manifest = tool.manifest
        assert manifest is not None
        env = {k: os.environ[k] for k in manifest.permissions.env if k in os.environ}
        record: dict[str, Any] = {
            "tool": tool.name,
            "origin": tool.origin,
            "caller": caller,
            "arguments_bytes": len(json.dumps(arguments)),
        }
        try:
            result = call_tool(
                self.sandbox,
                prepared.module,
                tool.name,
                arguments,
                limits=prepared.limits,
                env=env,
                preopens=prepared.preopens,
                http=prepared.http,
            )
        except ToolRunError as exc:
            run = exc.run
            record.update(outcome=run.outcome if run else "error", error=exc.message)
            _audit(self.root, record, run)
            raise
        record.update(outcome="error-result" if result.is_error else "ok")
        _audit(self.root, record, result.run)
        return result

    def _prepare(self, tool: ToolInfo) -> _Prepared:
        from caxton.tools.http_host import HttpPolicy
        from caxton.tools.sandbox import Preopen, RunLimits

        if tool.manifest is None or tool.folder is None:
            if tool.kind == "wasm":
                raise ToolUnavailable(
                    f"the built-in tool {tool.name!r} is not built in this version of Caxton",
                    "`caxton tool list` shows which tools run in the sandbox",
                )
            raise ToolUnavailable(
                f"{tool.name!r} is a {tool.kind} tool: the agent runtime provides it, "
                "not the sandbox",
                "`caxton tool test` runs WASM tools; `caxton tool list` shows which",
            )
        manifest = tool.manifest
        module_file = manifest.module_file(tool.folder)
        try:
            stat = module_file.stat()
        except OSError as exc:
            raise ToolUnavailable(
                f"the module of {tool.name!r} cannot be read: `{module_file}`: "
                f"{exc.strerror or exc}",
                "build the tool, or check the file's permissions",
            ) from None
        stamp = (stat.st_mtime_ns, stat.st_size)
        cached = self._prepared.get(tool.name)
        if cached is not None and cached.stamp == stamp:
            return cached
        preopens = []
        if manifest.permissions.dirs:
            if self.root is None:
                raise ToolUnavailable(
                    f"tool {tool.name!r} needs folders of a workspace", "run it inside a workspace"
                )
            data = workspace_state_dir(self.root) / "data"
            for grant in manifest.permissions.dirs:
                host = data / grant.path
                host.mkdir(parents=True, exist_ok=True)
                guest = "/" if grant.path == "." else f"/{grant.path}"
                preopens.append(Preopen(host, guest, grant.mode == "rw"))
        granted = granted_hosts(self.root, tool)
        prepared = _Prepared(
            module=self.sandbox.module(module_file.read_bytes(), source=f"`{module_file}`"),
            limits=RunLimits(
                memory_bytes=manifest.limits.memory.bytes,
                fuel=manifest.limits.fuel,
                timeout_seconds=manifest.limits.timeout.seconds,
                output_bytes=manifest.limits.output.bytes,
            ),
            preopens=tuple(preopens),
            http=HttpPolicy(
                hosts=tuple(dict.fromkeys([*manifest.permissions.http_hosts, *granted])),
                tool=tool.name,
                max_bytes=manifest.limits.http_response.bytes,
                max_requests=manifest.limits.http_requests,
            ),
            validator=validator_for(tool),
            stamp=stamp,
        )
        self._prepared[tool.name] = prepared
        return prepared


def granted_hosts(root: Path | None, tool: ToolInfo) -> list[str]:
    """Hosts `caxton.toml` grants this WASM tool (`[tools.NAME] http_hosts`).

    Read leniently: a grant with a problem grants nothing (`caxton validate` says what is
    wrong), and only a workspace's own caxton.toml can grant.
    """
    from caxton.errors import Problem
    from caxton.paths import WORKSPACE_FILE
    from caxton.workspace.config import ToolGrant
    from caxton.workspace.schema import Checker
    from caxton.workspace.tomlfile import load_toml

    if root is None:
        return []
    loaded = load_toml(root / WORKSPACE_FILE, what="workspace file")
    if isinstance(loaded, Problem):
        return []
    tables = loaded.data.get("tools")
    table = tables.get(tool.name) if isinstance(tables, dict) else None
    if not isinstance(table, dict):
        return []
    checker = Checker()
    grant = checker.build(ToolGrant, table, ("tools", tool.name))
    return list(grant.http_hosts) if grant is not None and not checker.issues else []


def validator_for(tool: ToolInfo) -> Any:
    """A validator for the tool's input schema, the schema itself checked once."""
    import jsonschema

    cls = jsonschema.validators.validator_for(tool.input_schema)
    try:
        cls.check_schema(tool.input_schema)
    except jsonschema.SchemaError as exc:
        where = "an MCP server's tools/list" if tool.kind == "mcp" else "its tool.toml"
        raise ToolArgumentsError(
            f"the input schema of {tool.name!r} is invalid: {exc.message}",
            f"fix `input_schema` in {where}",
        ) from None
    return cls(tool.input_schema)


def check_arguments(tool: ToolInfo, arguments: dict[str, Any], validator: Any = None) -> None:
    """Arguments are checked against the tool's input schema before the tool runs."""
    import jsonschema

    validator = validator or validator_for(tool)
    if next(validator.iter_errors(arguments), None) is None:
        return  # valid: the common case stops at the first (absent) error
    error = jsonschema.exceptions.best_match(validator.iter_errors(arguments))
    if error is not None:
        where = "/".join(str(p) for p in error.absolute_path) or "the arguments"
        raise ToolArgumentsError(
            f"arguments for {tool.name!r} do not fit its input schema: {where}: {error.message}",
            "`caxton tool inspect " + tool.name + "` shows the schema",
        )


def audit_path(root: Path | None) -> Path:
    """Where tool calls are logged: the workspace's `.caxton/`, else the user's data dir."""
    from caxton.paths import data_dir

    base = workspace_state_dir(root) if root is not None else data_dir()
    return base / "audit" / "tool-calls.jsonl"


_audit_files: dict[tuple[Path | None, str | None], Path] = {}  # (root, CAXTON_HOME) -> file


def _audit(root: Path | None, record: dict[str, Any], run: Any) -> None:
    if run is not None:
        record.update(
            seconds=round(run.seconds, 6),
            fuel=run.fuel_used,
            exit_code=run.exit_code,
            output_bytes=len(run.stdout),
        )
        if run.http:
            record["http"] = [r.to_json() for r in run.http]
    record["at"] = dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds")
    line = json.dumps(record, sort_keys=True) + "\n"
    key = (root, os.environ.get("CAXTON_HOME"))
    path = _audit_files.get(key) or audit_path(root)
    try:
        try:
            with path.open("a", encoding="utf-8") as handle:
                handle.write(line)
        except FileNotFoundError:  # the first call, or the folder was removed since
            path.parent.mkdir(parents=True, exist_ok=True)
            with path.open("a", encoding="utf-8") as handle:
                handle.write(line)
        _audit_files[key] = path
    except OSError:
        pass  # an unwritable audit folder must not fail the call; stderr would be noise here
