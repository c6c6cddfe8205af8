"""The tools an agent can name: built-in and workspace WASM modules, and host tools.

One description for every kind (name, description, JSON-schema input) and one way to call the
WASM ones. Host tools (memory, messaging, LLM providers) are described here and called by the
runtime; external MCP servers join later.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from caxton.errors import CaxtonError, ExitCode, NotFoundError
from caxton.paths import TOOLS_DIR, workspace_state_dir
from caxton.tools.catalog import BUILTIN_TOOLS
from caxton.tools.manifest import ToolManifest, load_tool

BUILTIN_DIR = Path(__file__).parent / "builtin"

Kind = Literal["wasm", "memory", "messaging"]
Origin = Literal["built-in", "workspace"]


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

    @property
    def runnable(self) -> bool:
        return self.manifest is not None

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
            entry.name, entry.kind, "built-in", entry.description, {"type": "object"}
        )
    if root is not None and (root / TOOLS_DIR).is_dir():
        for tool in _wasm_tools(root / TOOLS_DIR, "workspace"):
            tools.setdefault(tool.name, tool)
    return sorted(tools.values(), key=lambda t: t.name)


def find_tool(root: Path | None, name: str) -> ToolInfo:
    from caxton.workspace.schema import suggest

    tools = {t.name: t for t in available_tools(root)}
    if name not in tools:
        close = suggest(name, tools)
        raise NotFoundError(
            f"no tool named {name!r}" + (f"; did you mean {close!r}?" if close else ""),
            "`caxton tool list` shows the built-in and workspace tools",
        )
    return tools[name]


def call(
    tool: ToolInfo,
    arguments: dict[str, Any],
    root: Path | None,
    sandbox: Any | None = None,
    *,
    caller: str = "cli",
) -> Any:
    """Run a WASM tool once in the sandbox with its manifest's permissions and limits.

    Every call, answered or not, is appended to the audit log (`audit_path`).
    """
    from caxton.paths import cache_dir
    from caxton.tools.mcp_stdio import ToolRunError, call_tool
    from caxton.tools.sandbox import Preopen, RunLimits, Sandbox

    if tool.manifest is None or tool.folder is None:
        if tool.kind == "wasm":
            raise ToolUnavailable(
                f"the built-in tool {tool.name!r} is not built in this version of Caxton",
                "`caxton tool list` shows which tools run in the sandbox",
            )
        raise ToolUnavailable(
            f"{tool.name!r} is a {tool.kind} tool: the agent runtime provides it, not the sandbox",
            "`caxton tool test` runs WASM tools; `caxton tool list` shows which",
        )
    manifest = tool.manifest
    limits = RunLimits(
        memory_bytes=manifest.limits.memory.bytes,
        fuel=manifest.limits.fuel,
        timeout_seconds=manifest.limits.timeout.seconds,
        output_bytes=manifest.limits.output.bytes,
    )
    env = {k: os.environ[k] for k in manifest.permissions.env if k in os.environ}
    preopens = []
    if manifest.permissions.dirs:
        if root is None:
            raise ToolUnavailable(
                f"tool {tool.name!r} needs folders of a workspace", "run it inside a workspace"
            )
        data = workspace_state_dir(root) / "data"
        for grant in manifest.permissions.dirs:
            host = data / grant.path
            host.mkdir(parents=True, exist_ok=True)
            guest = "/" if grant.path == "." else f"/{grant.path}"
            preopens.append(Preopen(host, guest, grant.mode == "rw"))
    sandbox = sandbox or Sandbox(cache_dir() / "wasm")
    module_file = manifest.module_file(tool.folder)
    module = sandbox.module(module_file.read_bytes(), source=f"`{module_file}`")
    _check_arguments(tool, arguments)
    record: dict[str, Any] = {
        "tool": tool.name,
        "origin": tool.origin,
        "caller": caller,
        "arguments_bytes": len(json.dumps(arguments)),
    }
    try:
        result = call_tool(
            sandbox, module, tool.name, arguments, limits=limits, env=env, preopens=tuple(preopens)
        )
    except ToolRunError as exc:
        run = exc.run
        record.update(outcome=run.outcome if run else "error", error=exc.message)
        _audit(root, record, run)
        raise
    record.update(outcome="error-result" if result.is_error else "ok")
    _audit(root, record, result.run)
    return result


def _check_arguments(tool: ToolInfo, arguments: dict[str, Any]) -> None:
    """Arguments are checked against the tool's input schema before the module runs."""
    import jsonschema

    try:
        jsonschema.validate(arguments, tool.input_schema)
    except jsonschema.ValidationError as exc:
        where = "/".join(str(p) for p in exc.absolute_path) or "the arguments"
        raise ToolArgumentsError(
            f"arguments for {tool.name!r} do not fit its input schema: {where}: {exc.message}",
            "`caxton tool inspect " + tool.name + "` shows the schema",
        ) from None
    except jsonschema.SchemaError as exc:
        raise ToolArgumentsError(
            f"the input schema of {tool.name!r} is invalid: {exc.message}",
            "fix `input_schema` in its tool.toml",
        ) from None


def audit_path(root: Path | None) -> Path:
    """Where tool calls are logged: the workspace's `.caxton/`, else the user's data dir."""
    from caxton.paths import data_dir

    base = workspace_state_dir(root) if root is not None else data_dir()
    return base / "audit" / "tool-calls.jsonl"


def _audit(root: Path | None, record: dict[str, Any], run: Any) -> None:
    if run is not None:
        record.update(
            seconds=round(run.seconds, 6),
            fuel=run.fuel_used,
            exit_code=run.exit_code,
            output_bytes=len(run.stdout),
        )
    record["at"] = dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds")
    path = audit_path(root)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(record, sort_keys=True) + "\n")
    except OSError:
        pass  # an unwritable audit folder must not fail the call; stderr would be noise here
