"""Speaking MCP (newline-delimited JSON-RPC 2.0) to a WASM tool through its stdin and stdout.

A call is one short session: `initialize`, `notifications/initialized`, then the request. The
module reads every line from stdin, answers on stdout, and exits; the host matches answers to
requests by id.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from caxton.errors import CaxtonError, ExitCode
from caxton.tools.http_host import HttpPolicy
from caxton.tools.sandbox import Preopen, RunLimits, RunResult, Sandbox

PROTOCOL_VERSION = "2025-06-18"
CLIENT_INFO = {"name": "caxton", "version": "0"}


class ToolRunError(CaxtonError):
    """A tool did not answer: a limit stopped it, it crashed, or it spoke nonsense."""

    exit_code = ExitCode.TOOL_FAILED

    def __init__(self, message: str, hint: str | None, run: RunResult | None = None) -> None:
        super().__init__(message, hint)
        self.run = run


@dataclass(frozen=True, slots=True)
class ToolCall:
    content: list[dict[str, Any]]
    is_error: bool
    run: RunResult

    def text(self) -> str:
        return "\n".join(c.get("text", "") for c in self.content if c.get("type") == "text")


_HANDSHAKE = "".join(
    json.dumps(line, separators=(",", ":")) + "\n"
    for line in (
        {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "initialize",
            "params": {
                "protocolVersion": PROTOCOL_VERSION,
                "capabilities": {},
                "clientInfo": CLIENT_INFO,
            },
        },
        {"jsonrpc": "2.0", "method": "notifications/initialized"},
    )
).encode()


def session(method: str, params: dict[str, Any]) -> bytes:
    """The stdin of one call: the handshake (the same every time), then the request, id 2."""
    request = {"jsonrpc": "2.0", "id": 2, "method": method, "params": params}
    return _HANDSHAKE + json.dumps(request, separators=(",", ":")).encode() + b"\n"


def response(stdout: bytes, wanted: int) -> dict[str, Any] | None:
    """The JSON-RPC response with id `wanted`; lines that are not JSON objects are ignored.

    Read from the end: the answer to the request comes after the handshake's.
    """
    for line in reversed(stdout.split(b"\n")):
        if b'"id"' not in line:
            continue
        try:
            message = json.loads(line)
        except (UnicodeDecodeError, json.JSONDecodeError):
            continue
        if isinstance(message, dict) and message.get("id") == wanted:
            return message
    return None


def request(
    sandbox: Sandbox,
    module: Any,
    tool: str,
    method: str,
    params: dict[str, Any],
    *,
    limits: RunLimits,
    env: dict[str, str] | None = None,
    preopens: tuple[Preopen, ...] = (),
    http: HttpPolicy | None = None,
) -> tuple[dict[str, Any], RunResult]:
    """Send one request to the module; the JSON-RPC result and the run, or ToolRunError."""
    run = sandbox.run(
        module, session(method, params), limits=limits, env=env, preopens=preopens, http=http
    )
    if run.outcome == "out-of-fuel":
        raise ToolRunError(
            f"tool {tool!r} ran out of fuel (its CPU budget is {limits.fuel:,})",
            "raise `[limits] fuel` in its tool.toml, or give it less work",
            run,
        )
    if run.outcome == "timeout":
        raise ToolRunError(
            f"tool {tool!r} ran past its {limits.timeout_seconds:g}s time limit",
            "raise `[limits] timeout` in its tool.toml",
            run,
        )
    if run.outcome == "output-too-large":
        raise ToolRunError(
            f"tool {tool!r} wrote {run.detail}",
            "raise `[limits] output` in its tool.toml, or return less",
            run,
        )
    if run.outcome == "trap":
        raise ToolRunError(
            f"tool {tool!r} crashed: {run.detail}",
            "run it with `caxton tool test` to see its stderr",
            run,
        )
    answer = response(run.stdout, 2)
    if answer is None:
        stderr = run.stderr.decode("utf-8", errors="replace").strip()[-300:]
        raise ToolRunError(
            f"tool {tool!r} exited (code {run.exit_code}) without answering {method!r}"
            + (f"; stderr: {stderr}" if stderr else ""),
            "a WASM tool must answer each JSON-RPC request on stdout, one line each",
            run,
        )
    if "error" in answer:
        error = answer["error"]
        message = error.get("message", error) if isinstance(error, dict) else error
        raise ToolRunError(
            f"tool {tool!r} refused {method!r}: {message}",
            "check the arguments against the tool's input schema",
            run,
        )
    result = answer.get("result")
    if not isinstance(result, dict):
        raise ToolRunError(
            f"tool {tool!r} answered {method!r} without a result object",
            'a JSON-RPC answer needs "result": {...}',
            run,
        )
    return result, run


def call_tool(
    sandbox: Sandbox,
    module: Any,
    tool: str,
    arguments: dict[str, Any],
    *,
    limits: RunLimits,
    env: dict[str, str] | None = None,
    preopens: tuple[Preopen, ...] = (),
    http: HttpPolicy | None = None,
) -> ToolCall:
    result, run = request(
        sandbox,
        module,
        tool,
        "tools/call",
        {"name": tool, "arguments": arguments},
        limits=limits,
        env=env,
        preopens=preopens,
        http=http,
    )
    content = result.get("content")
    if not isinstance(content, list):
        raise ToolRunError(
            f"tool {tool!r} answered without a content list",
            'tools/call results need "content": [{"type": "text", ...}]',
            run,
        )
    return ToolCall(content, bool(result.get("isError", False)), run)


def list_tools(
    sandbox: Sandbox, module: Any, name: str, *, limits: RunLimits
) -> list[dict[str, Any]]:
    result, _ = request(sandbox, module, name, "tools/list", {}, limits=limits)
    tools = result.get("tools")
    return [t for t in tools if isinstance(t, dict)] if isinstance(tools, list) else []
