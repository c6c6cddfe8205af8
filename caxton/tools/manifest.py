"""`tools/<name>/tool.toml`: what a WASM module offers, what it may touch, and its limits.

Deny by default: a tool sees no environment variable, folder or host unless its manifest names
it, and the limits bound its memory, CPU (fuel), wall time and output.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from caxton.errors import Problem
from caxton.tools.catalog import BUILTIN_TOOL_NAMES
from caxton.workspace.config import HOST_PATTERN
from caxton.workspace.schema import Checker, field
from caxton.workspace.tomlfile import TomlFile, load_toml
from caxton.workspace.values import ByteSize, Duration

TOOL_NAME = r"[a-z][a-z0-9_]{1,63}"
TOOL_NAME_HINT = "use 2-64 lowercase letters, digits and `_`, starting with a letter"
MODULE_NAME = r"[a-z][a-z0-9_-]{1,63}"
HOST = HOST_PATTERN
RELATIVE_PATH = r"(?!/)(?!.*(^|/)\.\.(/|$))[A-Za-z0-9._/-]+"


@dataclass(frozen=True, slots=True)
class ToolSpec:
    """One MCP tool the module answers for."""

    name: str = field(
        doc="tool name agents list in `tools`",
        pattern=TOOL_NAME,
        pattern_hint=TOOL_NAME_HINT,
        examples=["word_count"],
    )
    description: str = field(
        doc="what the tool does, for the model", min_len=1, examples=["Count the words of a text."]
    )
    input_schema: dict[str, Any] = field(
        factory=lambda: {"type": "object"}, doc="JSON Schema of the arguments"
    )


@dataclass(frozen=True, slots=True)
class DirGrant:
    """A folder under the workspace's data directory, preopened for the module."""

    path: str = field(
        doc="folder under the data directory",
        pattern=RELATIVE_PATH,
        pattern_hint="a relative path inside the data directory, without `..`",
        examples=["reports"],
    )
    mode: Literal["ro", "rw"] = field("ro", doc="read-only or read-write")


@dataclass(frozen=True, slots=True)
class Permissions:
    """What the module may reach; nothing else is visible to it."""

    env: list[str] = field(
        factory=list,
        doc="environment variables passed through, by name",
        pattern=r"[A-Za-z_][A-Za-z0-9_]*",
        unique=True,
        pattern_hint="give variable names, e.g. LANG",
    )
    http_hosts: list[str] = field(
        factory=list,
        doc="hosts the HTTP host function may reach: exact or *.domain",
        pattern=HOST,
        unique=True,
        pattern_hint='a host name like "api.example.com" or "*.example.com", no scheme',
    )
    dirs: list[DirGrant] = field(factory=list, doc="folders preopened for the module")


@dataclass(frozen=True, slots=True)
class ToolLimits:
    """Per call."""

    memory: ByteSize = field(
        ByteSize(64 << 20, "64MB"), doc="linear memory (1MB to 4GB)", ge=1 << 20, le=4 << 30
    )
    fuel: int = field(
        2_000_000_000, doc="CPU budget in wasmtime fuel units", ge=1_000_000, le=10**13
    )
    timeout: Duration = field(Duration(10.0, "10s"), doc="wall time (10ms to 10m)", ge=0.01, le=600)
    output: ByteSize = field(
        ByteSize(1 << 20, "1MB"), doc="stdout size (1KB to 64MB)", ge=1 << 10, le=64 << 20
    )
    http_response: ByteSize = field(
        ByteSize(1 << 20, "1MB"),
        doc="body size of each HTTP answer (1KB to 64MB)",
        ge=1 << 10,
        le=64 << 20,
    )
    http_requests: int = field(16, doc="HTTP requests per call, redirects included", ge=1, le=1000)


@dataclass(frozen=True, slots=True)
class ToolManifest:
    """A WebAssembly tool module: a WASI preview1 program that speaks MCP over stdio."""

    name: str = field(
        doc="the module's name (its folder's name)",
        pattern=TOOL_NAME.replace("_", "_-"),
        pattern_hint="lowercase letters, digits, `_` and `-`",
        examples=["text"],
    )
    description: str = field(doc="what the module is for", min_len=1)
    tools: list[ToolSpec] = field(doc="the MCP tools it answers for", min_len=1)
    version: str = field("0.1.0", doc="version of the module")
    module: str | None = field(
        None,
        doc='the .wasm file beside tool.toml (default "<name>.wasm")',
        pattern=r"[A-Za-z0-9._-]+\.wasm",
        pattern_hint='a file name like "text.wasm"',
    )
    permissions: Permissions = field(Permissions(), doc="what the module may reach")
    limits: ToolLimits = field(ToolLimits(), doc="per-call limits")

    def module_file(self, folder: Path) -> Path:
        return folder / (self.module or f"{self.name}.wasm")


@dataclass(slots=True)
class LoadedTool:
    folder: Path
    manifest: ToolManifest | None
    names: list[str]  # tool names, read leniently even from a broken manifest
    problems: list[Problem]
    source: TomlFile | None = None

    def locate_name(self, index: int, message: str, hint: str, code: str) -> Problem:
        if self.source is None:
            return Problem(self.folder / "tool.toml", 1, 1, message, hint, code)
        return self.source.problem(("tools", index, "name"), message, hint, code=code)


def load_tool(path: Path, *, builtin: bool = False) -> LoadedTool:
    """Load and check one `tool.toml` (a workspace's, unless `builtin`)."""
    loaded = load_toml(path, what="tool manifest")
    if isinstance(loaded, Problem):
        return LoadedTool(path.parent, None, [], [loaded])
    names = _lenient_names(loaded)
    checker = Checker()
    manifest = checker.build(ToolManifest, loaded.data)
    problems = [
        loaded.problem(i.keypath, i.message, i.hint, at=i.at, code=i.code) for i in checker.issues
    ]
    if manifest is not None:
        problems += _check_manifest(loaded, manifest, builtin=builtin)
    return LoadedTool(path.parent, manifest, names, problems, loaded)


def _lenient_names(loaded: TomlFile) -> list[str]:
    tools = loaded.data.get("tools")
    if not isinstance(tools, list):
        return []
    return [t["name"] for t in tools if isinstance(t, dict) and isinstance(t.get("name"), str)]


def _check_manifest(loaded: TomlFile, manifest: ToolManifest, *, builtin: bool) -> list[Problem]:
    problems = []
    folder = loaded.path.parent
    if manifest.name != folder.name:
        problems.append(
            loaded.problem(
                ("name",),
                f"tool module {manifest.name!r} is in a folder named {folder.name!r}",
                f"rename the folder to `tools/{manifest.name}`, or change `name`",
                code="name-mismatch",
                severity="warning",
            )
        )
    module_file = manifest.module_file(folder)
    if module_file.is_file():
        with module_file.open("rb") as handle:
            if handle.read(4) != b"\0asm":
                problems.append(
                    loaded.problem(
                        ("module",) if manifest.module else ("name",),
                        f"`{module_file.name}` is not a WebAssembly module",
                        "build the tool for wasm32-wasi (see docs/tools.md)",
                        code="not-wasm",
                    )
                )
    if not module_file.is_file():
        problems.append(
            loaded.problem(
                ("module",) if manifest.module else ("name",),
                f"the module `{manifest.module_file(folder).name}` is not beside tool.toml",
                f"run `caxton tool build {folder.name}`, or put a WASI preview1 .wasm here",
                code="missing-module",
            )
        )
    seen: set[str] = set()
    for i, tool in enumerate(manifest.tools):
        if tool.name in BUILTIN_TOOL_NAMES and not builtin:
            problems.append(
                loaded.problem(
                    ("tools", i, "name"),
                    f"{tool.name!r} is a built-in tool's name",
                    "choose another name; built-in tools cannot be replaced",
                    code="shadowed-tool",
                )
            )
        if tool.name in seen:
            problems.append(
                loaded.problem(
                    ("tools", i, "name"),
                    f"tool {tool.name!r} is declared twice",
                    "remove one",
                    code="duplicate",
                )
            )
        seen.add(tool.name)
        if tool.input_schema.get("type") != "object":
            problems.append(
                loaded.problem(
                    ("tools", i, "input_schema"),
                    f"the input schema of {tool.name!r} must describe an object",
                    'start it with type = "object" and list the arguments under properties',
                    code="bad-schema",
                )
            )
    return problems
