"""External MCP servers from caxton.toml: a real third-party server, SDK-built ones, and failures.

Each stdio call starts its server (about 1-2 s for a Python one), so tests share servers where
they can; the streamable HTTP server runs once for the module, on 127.0.0.1.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from caxton.errors import ExitCode
from caxton.tools.external import BASE_ENV
from caxton.tools.registry import audit_path
from tests.conftest import Cli
from tests.test_import_hygiene import run_probe

TIME_SERVER = [sys.executable, "-m", "mcp_server_time", "--local-timezone", "UTC"]

# An MCP server made with the SDK (MCPServer, the 2.x name of FastMCP): stdio by default,
# streamable HTTP with `http PORT`.
PROBE_SERVER = """\
import os
import sys

from mcp.server.mcpserver import MCPServer

app = MCPServer("probe", log_level="WARNING")


@app.tool()
def env_keys() -> str:
    \"\"\"The names of the environment variables this server sees.\"\"\"
    return " ".join(sorted(os.environ))


@app.tool()
def add(a: int, b: int) -> int:
    \"\"\"Add two integers.\"\"\"
    return a + b


if __name__ == "__main__":
    if sys.argv[1:2] == ["http"]:
        app.run("streamable-http", host="127.0.0.1", port=int(sys.argv[2]))
    else:
        app.run()
"""

# Reads its stdin and never answers.
HANGING_SERVER = "import sys\nfor _ in sys.stdin:\n    pass\n"


def toml(value: Any) -> str:
    """A TOML value for strings and lists of strings (JSON's escapes are TOML's)."""
    return json.dumps(value)


def declare(root: Path, name: str, **keys: Any) -> None:
    lines = [f"\n[mcp_servers.{name}]"] + [f"{k} = {toml(v)}" for k, v in keys.items()]
    with (root / "caxton.toml").open("a", encoding="utf-8") as handle:
        handle.write("\n".join(lines) + "\n")


@pytest.fixture(scope="module")
def scripts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("mcp-servers")
    (folder / "probe_server.py").write_text(PROBE_SERVER)
    (folder / "hanging_server.py").write_text(HANGING_SERVER)
    return folder


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def http_url(scripts: Path) -> Iterator[str]:
    """The probe server over streamable HTTP, started once for the module."""
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, str(scripts / "probe_server.py"), "http", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            assert server.poll() is None, "the HTTP MCP server exited at start"
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                assert time.monotonic() < deadline, "the HTTP MCP server did not start"
                time.sleep(0.05)
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        server.terminate()
        server.wait(timeout=10)


def audit_records(root: Path) -> list[dict[str, Any]]:
    path = audit_path(root)
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def test_list_names_mcp_tools_without_starting_anything(workspace: Path, cli: Cli) -> None:
    declare(workspace, "time", command=TIME_SERVER, tools=["convert_time", "get_current_time"])
    declare(workspace, "gone", command=["no-such-mcp-server"], tools=["search_issues"])
    result = cli("tool", "list")
    assert result.code == 0, result.err
    rows = {line.split()[0]: line for line in result.out.splitlines()[1:]}
    for name in ("convert_time", "get_current_time", "search_issues"):
        assert " mcp " in rows[name] and "external, unsandboxed" in rows[name]
    assert " sandbox " in rows["text"]
    data = {t["name"]: t for t in json.loads(cli("tool", "list", "--json").out)}
    assert data["convert_time"]["sandboxed"] is False
    assert data["convert_time"]["origin"] == "mcp-server"
    assert data["convert_time"]["server"] == {
        "name": "time",
        "transport": "stdio",
        "command": TIME_SERVER,
        "url": None,
        "env": [],
        "timeout": "30s",
    }
    assert "external (unsandboxed)" in data["search_issues"]["description"]
    # listing reads caxton.toml only: no server starts and the SDK (mcp, pydantic) stays unloaded
    probe = run_probe(["tool", "list"], workspace)
    assert probe == {"code": 0, "loaded": []}


def test_third_party_server_inspect_call_and_audit(workspace: Path, cli: Cli) -> None:
    declare(workspace, "time", command=TIME_SERVER, tools=["convert_time"])
    shown = cli("tool", "inspect", "convert_time", "--json")
    assert shown.code == 0, shown.err
    data = json.loads(shown.out)
    schema = data["input_schema"]
    assert schema["type"] == "object"
    assert set(schema["required"]) == {"source_timezone", "time", "target_timezone"}
    assert "timezone" in data["description"].lower()
    assert data["sandboxed"] is False

    arguments = {"source_timezone": "UTC", "time": "12:30", "target_timezone": "Asia/Tokyo"}
    result = cli("tool", "test", "convert_time", "--call", json.dumps(arguments))
    assert result.code == 0, result.err
    answer = json.loads(result.out)
    assert answer["source"]["datetime"].endswith("T12:30:00+00:00")
    assert answer["target"]["datetime"].endswith("T21:30:00+09:00")
    assert answer["time_difference"] == "+9.0h"
    assert "ok: unsandboxed, " in result.err

    (record,) = audit_records(workspace)
    assert record["tool"] == "convert_time"
    assert record["server"] == "time"
    assert record["outcome"] == "ok"
    assert record["sandboxed"] is False
    assert record["caller"] == "cli"
    assert 0 < record["seconds"] < 30
    assert record["arguments_bytes"] == len(json.dumps(arguments))


def test_streamable_http_server(workspace: Path, cli: Cli, http_url: str) -> None:
    declare(workspace, "probe", url=http_url, tools=["add"], timeout="10s")
    shown = cli("tool", "inspect", "add")
    assert shown.code == 0, shown.err
    assert '"b"' in shown.out and "Add two integers." in shown.out
    assert "runs: external, unsandboxed: MCP server 'probe'" in shown.out
    assert "transport: streamable-http" in shown.out
    result = cli("tool", "test", "add", "--call", '{"a": 2, "b": 40}', "--json")
    assert result.code == 0, result.err
    data = json.loads(result.out)
    assert data["content"] == [{"type": "text", "text": "42"}]
    assert data["is_error"] is False and data["fuel_used"] is None


def test_arguments_are_checked_against_the_listed_schema_before_the_call(
    workspace: Path, cli: Cli, http_url: str
) -> None:
    declare(workspace, "probe", url=http_url, tools=["add"])
    result = cli("tool", "test", "add", "--call", '{"a": "two", "b": 40}')
    assert result.code == ExitCode.USAGE
    assert "arguments for 'add' do not fit its input schema: a: 'two' is not of type" in (
        result.err
    )
    assert "`caxton tool inspect add` shows the schema" in result.err
    (record,) = audit_records(workspace)
    assert record["outcome"] == "rejected"


def test_a_declared_tool_the_server_does_not_offer(
    workspace: Path, cli: Cli, http_url: str
) -> None:
    declare(workspace, "probe", url=http_url, tools=["add", "subtract"])
    assert cli("tool", "inspect", "add").code == 0  # the other tool is fine
    result = cli("tool", "test", "subtract", "--call", '{"a": 1, "b": 2}')
    assert result.code == ExitCode.TOOL_FAILED
    assert "MCP server 'probe' does not offer 'subtract'" in result.err
    assert "it offers: add, env_keys" in result.err
    assert "hint: fix `tools` under [mcp_servers.probe] in caxton.toml" in result.err
    assert audit_records(workspace)[-1]["outcome"] == "missing-tool"


def test_stdio_server_sees_only_granted_environment(
    workspace: Path, cli: Cli, scripts: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CAXTON_TEST_GRANTED", "yes")
    monkeypatch.setenv("CAXTON_TEST_SECRET", "hunter2")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "not-for-tools")
    command = [sys.executable, str(scripts / "probe_server.py")]
    declare(workspace, "probe", command=command, tools=["env_keys"], env=["CAXTON_TEST_GRANTED"])
    result = cli("tool", "test", "env_keys")
    assert result.code == 0, result.err
    seen = set(result.out.split())
    assert "CAXTON_TEST_GRANTED" in seen
    assert "PATH" in seen
    assert seen <= set(BASE_ENV) | {"CAXTON_TEST_GRANTED"}, seen - set(BASE_ENV)
    assert not {"CAXTON_TEST_SECRET", "AWS_SECRET_ACCESS_KEY", "CAXTON_HOME"} & seen


def test_a_hanging_server_times_out(workspace: Path, cli: Cli, scripts: Path) -> None:
    command = [sys.executable, str(scripts / "hanging_server.py")]
    declare(workspace, "stuck", command=command, tools=["anything"], timeout="1s")
    started = time.monotonic()
    result = cli("tool", "test", "anything")
    elapsed = time.monotonic() - started
    assert result.code == ExitCode.TOOL_FAILED
    assert "MCP server 'stuck'" in result.err
    assert "did not answer within its timeout of 1s" in result.err
    assert "a slow server needs a larger `timeout` under [mcp_servers.stuck]" in result.err
    assert 1 <= elapsed < 8  # the timeout, plus the server's grace period to exit
    assert audit_records(workspace)[-1]["outcome"] == "timeout"


def test_a_missing_command(workspace: Path, cli: Cli) -> None:
    declare(workspace, "gone", command=["no-such-mcp-server", "--stdio"], tools=["search_issues"])
    result = cli("tool", "inspect", "search_issues")
    assert result.code == ExitCode.TOOL_FAILED
    assert (
        "could not start MCP server 'gone': the command 'no-such-mcp-server' was not found"
        in result.err
    )
    assert "hint: install it, or give its full path in `command`" in result.err


def test_a_server_that_exits_at_once_shows_its_stderr(workspace: Path, cli: Cli) -> None:
    command = [sys.executable, "-c", "import sys; sys.exit('bad config: GITHUB_TOKEN is not set')"]
    declare(workspace, "broken", command=command, tools=["search_issues"])
    result = cli("tool", "test", "search_issues")
    assert result.code == ExitCode.TOOL_FAILED
    assert "MCP server 'broken'" in result.err
    assert "exited or closed stdout before answering" in result.err
    assert "bad config: GITHUB_TOKEN is not set" in result.err
    assert "only the environment variables named in `env`" in result.err


def test_validate_reports_tool_name_collisions(workspace: Path, cli: Cli) -> None:
    (workspace / "tools" / "weather").mkdir()
    (workspace / "tools" / "weather" / "tool.toml").write_text(
        'name = "weather"\ndescription = "Forecasts."\n\n[[tools]]\nname = "forecast"\n'
        'description = "Forecast for a city."\n'
    )
    (workspace / "tools" / "weather" / "weather.wasm").write_bytes(b"\0asm\1\0\0\0")
    declare(workspace, "one", command=["one-mcp"], tools=["search", "forecast"])
    declare(workspace, "two", url="http://127.0.0.1:9/mcp", tools=["other", "search", "stats"])
    lines = (workspace / "caxton.toml").read_text().splitlines()

    def at(line_text: str, needle: str) -> tuple[int, int]:
        number = lines.index(line_text)
        return number + 1, lines[number].index(needle) + 1

    result = cli("validate", "--json")
    assert result.code == ExitCode.INVALID
    found = {(p["code"], p["line"], p["col"]): p for p in json.loads(result.out)["problems"]}
    dup_server = found[("duplicate-tool", *at('tools = ["other", "search", "stats"]', '"search"'))]
    assert dup_server["message"] == (
        "MCP server 'two' offers 'search', which MCP server 'one' also offers"
    )
    assert dup_server["path"] == "caxton.toml"
    dup_tool = found[("duplicate-tool", *at('tools = ["search", "forecast"]', '"forecast"'))]
    assert dup_tool["message"] == (
        "MCP server 'one' offers 'forecast', which the workspace tool "
        "`tools/weather/tool.toml` also declares"
    )
    assert ("shadowed-tool", *at('tools = ["other", "search", "stats"]', '"stats"')) in found
    text = cli("validate").out
    line, col = at('tools = ["other", "search", "stats"]', '"search"')
    assert f"caxton.toml:{line}:{col}: error: MCP server 'two' offers 'search'" in text
