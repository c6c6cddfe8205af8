"""External MCP servers declared in `caxton.toml`: listing their tools and calling one.

These servers are trusted programs that run outside the sandbox (see docs/mcp-servers.md). The
official `mcp` SDK does the talking; it is async (anyio) and slow to import (~2 s: pydantic
models for every protocol type), so it is imported only inside the functions that connect, and
`caxton tool list` or `validate` never load it. Each call runs in a fresh event loop
(`anyio.run`) and a fresh session: simple, and usable from any thread without a running loop,
at the price of a new session per call and, for stdio servers, a new server process per call.
"""

from __future__ import annotations

import logging
import os
import shlex
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO, TypeVar

from caxton.errors import CaxtonError, ExitCode

if TYPE_CHECKING:
    from mcp import ClientSession

    from caxton.workspace.config import McpServerConfig

T = TypeVar("T")

# What a stdio server gets from the host environment besides the names in its `env`: enough to
# find programs, a home, a locale and a temp folder, nothing that usually holds a secret. The SDK
# itself always passes its own safe set (on POSIX: HOME, LOGNAME, PATH, SHELL, TERM, USER), which
# is included here so this list tells the whole story.
BASE_ENV: tuple[str, ...] = (
    (
        "APPDATA",
        "COMSPEC",
        "HOMEDRIVE",
        "HOMEPATH",
        "LOCALAPPDATA",
        "PATH",
        "PATHEXT",
        "PROCESSOR_ARCHITECTURE",
        "SYSTEMDRIVE",
        "SYSTEMROOT",
        "TEMP",
        "TMP",
        "USERNAME",
        "USERPROFILE",
        "WINDIR",
    )
    if sys.platform == "win32"
    else (
        "HOME",
        "LANG",
        "LC_ALL",
        "LC_CTYPE",
        "LOGNAME",
        "PATH",
        "SHELL",
        "TERM",
        "TMPDIR",
        "USER",
    )
)

STDERR_TAIL_LINES = 12


class McpServerError(CaxtonError):
    """An external MCP server did not start, did not answer in time, or answered wrongly."""

    exit_code = ExitCode.TOOL_FAILED

    def __init__(self, message: str, hint: str | None, outcome: str = "error") -> None:
        super().__init__(message, hint)
        self.outcome = outcome  # for the audit log: start-failed, timeout, missing-tool, error


@dataclass(frozen=True, slots=True)
class RemoteTool:
    """A tool as the server describes it in `tools/list`."""

    name: str
    description: str
    input_schema: dict[str, Any]


@dataclass(frozen=True, slots=True)
class ExternalRun:
    """How a call went; `fuel_used` is None because nothing meters a process outside the sandbox."""

    seconds: float
    fuel_used: int | None = None


@dataclass(frozen=True, slots=True)
class ExternalCall:
    content: list[dict[str, Any]]
    is_error: bool
    structured: dict[str, Any] | None
    run: ExternalRun

    def text(self) -> str:
        return "\n".join(c.get("text", "") for c in self.content if c.get("type") == "text")


def declared_servers(root: Path | None) -> dict[str, McpServerConfig]:
    """The `[mcp_servers]` of the workspace's caxton.toml, read without starting any of them.

    A server whose table has a problem is left out: `caxton validate` says what is wrong.
    """
    from caxton.errors import Problem
    from caxton.paths import WORKSPACE_FILE
    from caxton.workspace.config import McpServerConfig
    from caxton.workspace.schema import Checker
    from caxton.workspace.tomlfile import load_toml

    if root is None:
        return {}
    loaded = load_toml(root / WORKSPACE_FILE, what="workspace file")
    if isinstance(loaded, Problem):
        return {}
    tables = loaded.data.get("mcp_servers")
    if not isinstance(tables, dict):
        return {}
    out: dict[str, McpServerConfig] = {}
    for name, table in tables.items():
        if not isinstance(table, dict):
            continue
        checker = Checker()
        config = checker.build(McpServerConfig, table, ("mcp_servers", name))
        if config is not None and not checker.issues and bool(config.command) != bool(config.url):
            out[name] = config
    return out


def server_env(config: McpServerConfig) -> dict[str, str]:
    """The whole environment of a stdio server: `BASE_ENV` plus the names granted in `env`."""
    out: dict[str, str] = {}
    for key in (*BASE_ENV, *config.env):
        value = os.environ.get(key)
        if value is not None and not value.startswith("()"):  # skip exported shell functions
            out[key] = value
    return out


def describe_server(config: McpServerConfig) -> str:
    """How the server is reached, for messages: its command line or its URL."""
    return f"`{shlex.join(config.command)}`" if config.command else f"`{config.url}`"


def list_tools(
    name: str,
    config: McpServerConfig,
    *,
    cwd: Path | None = None,
    require: Sequence[str] | None = None,
) -> list[RemoteTool]:
    """Connect, ask for the tools, disconnect: the tools the server lists that caxton.toml declares.

    Every name in `require` (default: all of the server's declared `tools`) must be listed.
    """
    wanted = list(config.tools if require is None else require)

    async def work(session: ClientSession) -> list[RemoteTool]:
        return await _listed(session, name, config, wanted)

    return _run(name, config, cwd, work)


def call_tool(
    name: str,
    config: McpServerConfig,
    tool: str,
    arguments: dict[str, Any],
    *,
    cwd: Path | None = None,
    check: Callable[[dict[str, Any]], None] | None = None,
) -> ExternalCall:
    """Call one tool of the server, within its `timeout` (which counts from the server's start).

    `check` sees the tool's input schema from `tools/list` before `tools/call` is sent; raising
    there stops the call without the server ever receiving it.
    """
    started = time.perf_counter()

    async def work(session: ClientSession) -> ExternalCall:
        listed = await _listed(session, name, config, [tool])
        if check is not None:
            check(next(t.input_schema for t in listed if t.name == tool))
        result = await session.call_tool(tool, arguments)
        return ExternalCall(
            content=[
                c.model_dump(mode="json", by_alias=True, exclude_none=True) for c in result.content
            ],
            is_error=bool(result.is_error),
            structured=result.structured_content,
            run=ExternalRun(time.perf_counter() - started),
        )

    return _run(name, config, cwd, work)


async def _listed(
    session: ClientSession, name: str, config: McpServerConfig, wanted: list[str]
) -> list[RemoteTool]:
    from mcp.types import PaginatedRequestParams

    offered: dict[str, RemoteTool] = {}
    cursor: str | None = None
    while True:
        params = PaginatedRequestParams(cursor=cursor) if cursor else None
        page = await session.list_tools(params=params)
        for t in page.tools:
            offered[t.name] = RemoteTool(t.name, t.description or "", dict(t.input_schema))
        cursor = page.next_cursor
        if not cursor:
            break
    missing = [t for t in wanted if t not in offered]
    if missing:
        raise McpServerError(
            f"MCP server {name!r} does not offer {', '.join(map(repr, missing))}, which "
            f"caxton.toml declares in its `tools`; it offers: "
            + (", ".join(sorted(offered)) or "no tools"),
            f"fix `tools` under [mcp_servers.{name}] in caxton.toml",
            outcome="missing-tool",
        )
    # only what caxton.toml declares is visible: the rest of the server's tools stay unusable
    return [offered[t] for t in config.tools if t in offered]


def _run(
    name: str,
    config: McpServerConfig,
    cwd: Path | None,
    work: Callable[[ClientSession], Awaitable[T]],
) -> T:
    """One session in a fresh event loop, bounded by the server's timeout; errors explained."""
    import anyio

    _quiet_sdk_logs()

    async def session(errlog: TextIO) -> T:
        with anyio.fail_after(config.timeout.seconds):
            return await _session(config, cwd, errlog, work)

    with tempfile.TemporaryFile("w+", encoding="utf-8", errors="replace") as errlog:
        try:
            return anyio.run(session, errlog)
        except Exception as exc:
            raise _explain(name, config, exc, _tail(errlog)) from None


async def _session(
    config: McpServerConfig,
    cwd: Path | None,
    errlog: TextIO,
    work: Callable[[ClientSession], Awaitable[T]],
) -> T:
    from mcp import ClientSession

    if config.command:
        from mcp.client.stdio import StdioServerParameters, stdio_client

        params = StdioServerParameters(
            command=config.command[0],
            args=config.command[1:],
            env=server_env(config),
            cwd=cwd,
        )
        transport = stdio_client(params, errlog=errlog)
    else:
        from mcp.client.streamable_http import streamable_http_client

        assert config.url is not None  # declared_servers keeps servers with exactly one of them
        transport = streamable_http_client(config.url)
    async with transport as (read, write), ClientSession(read, write) as client:
        await client.initialize()
        return await work(client)


def _leaves(exc: BaseException) -> Iterator[BaseException]:
    if isinstance(exc, BaseExceptionGroup):
        for inner in exc.exceptions:
            yield from _leaves(inner)
    else:
        yield exc


def _explain(name: str, config: McpServerConfig, exc: Exception, stderr: str) -> CaxtonError:
    """The exception a person can act on, from whatever the SDK and the transport raised."""
    from mcp import MCPError
    from mcp.types import CONNECTION_CLOSED

    leaves = list(_leaves(exc))
    for leaf in leaves:
        if isinstance(leaf, CaxtonError):
            return leaf  # ours, raised inside the session: already says what to do
    where = describe_server(config)
    said = f"; its stderr ends with:\n{stderr}" if stderr else ""
    fix = f"[mcp_servers.{name}] in caxton.toml"
    leaf = leaves[0] if leaves else exc
    if any(isinstance(x, TimeoutError) for x in leaves):
        return McpServerError(
            f"MCP server {name!r} ({where}) did not answer within its timeout of "
            f"{config.timeout}{said}",
            (
                "run the command yourself: it must answer MCP on stdout (logs go to stderr)"
                if config.command
                else "check that the server answers at that URL"
            )
            + f"; a slow server needs a larger `timeout` under {fix}",
            outcome="timeout",
        )
    if config.command and isinstance(leaf, OSError) and not isinstance(leaf, ConnectionError):
        # raised by the spawn itself: no such program, not executable, not a program
        problem = (
            "was not found"
            if isinstance(leaf, FileNotFoundError)
            else f"cannot be run ({leaf.strerror or leaf})"
        )
        return McpServerError(
            f"could not start MCP server {name!r}: the command {config.command[0]!r} {problem}",
            f"install it, or give its full path in `command` under {fix} (the server is "
            "looked up in the host's PATH and starts in the workspace folder)",
            outcome="start-failed",
        )
    if isinstance(leaf, MCPError) and leaf.code == CONNECTION_CLOSED:
        if config.command:
            return McpServerError(
                f"MCP server {name!r} ({where}) exited or closed stdout before answering{said}",
                "run the command yourself to see why; note that it gets only the environment "
                f"variables named in `env` under {fix}, plus PATH, HOME and the locale",
                outcome="start-failed",
            )
        return McpServerError(
            f"MCP server {name!r} ({where}) closed the connection: {leaf.message}",
            f"check that the server is running and speaks streamable HTTP at `url` under {fix}",
        )
    if isinstance(leaf, MCPError):
        return McpServerError(
            f"MCP server {name!r} refused the request: {leaf.message} (code {leaf.code})",
            f"`caxton tool inspect` shows what the server offers; see {fix}",
        )
    if (config.url and isinstance(leaf, OSError)) or _is_http_error(leaf):
        return McpServerError(
            f"could not reach MCP server {name!r} at {where}: {leaf}",
            f"start the server, or fix `url` under {fix}",
            outcome="start-failed",
        )
    return McpServerError(
        f"MCP server {name!r} ({where}) failed: {type(leaf).__name__}: {leaf}{said}",
        f"run the server yourself to check it, and check {fix}",
    )


def _is_http_error(exc: BaseException) -> bool:
    """Errors of the SDK's HTTP client, matched by module so the client is never imported here."""
    return type(exc).__module__.split(".")[0] in {"httpx2", "httpx", "httpcore", "httpcore2"}


def _tail(errlog: TextIO) -> str:
    errlog.flush()
    errlog.seek(0)
    lines = [line.rstrip() for line in errlog.read().splitlines() if line.strip()]
    return "\n".join("  " + line[:300] for line in lines[-STDERR_TAIL_LINES:])


def _quiet_sdk_logs() -> None:
    """The SDK logs transport noise at ERROR; Caxton reports failures itself, with a hint.

    A NullHandler only stops Python's last-resort printing to stderr: logging configured by the
    application still receives the SDK's records.
    """
    sdk = logging.getLogger("mcp")
    if not any(isinstance(h, logging.NullHandler) for h in sdk.handlers):
        sdk.addHandler(logging.NullHandler())
