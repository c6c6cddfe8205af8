"""`caxton tool list|inspect|test`: built-in and workspace tools, run for real in the sandbox."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from caxton.errors import ExitCode
from caxton.tools import registry
from caxton.tools.catalog import BUILTIN_TOOLS
from caxton.tools.registry import BUILTIN_DIR, ToolInfo, ToolUnavailable
from tests.conftest import Cli


def test_list_marks_what_runs_where(workspace: Path, cli: Cli) -> None:
    result = cli("tool", "list")
    assert result.code == 0
    rows = {line.split()[0]: line for line in result.out.splitlines()[1:]}
    assert " sandbox " in rows["text"]
    assert " runtime " in rows["memory_search"]
    wasm = [t.name for t in BUILTIN_TOOLS if t.kind == "wasm"]
    assert [name for name in wasm if " sandbox " not in rows[name]] == []  # every one is built
    data = {t["name"]: t for t in json.loads(cli("tool", "list", "--json").out)}
    assert data["text"]["limits"]["fuel"] == 1_000_000_000
    assert data["text"]["permissions"] == {"env": [], "http_hosts": [], "dirs": []}


def test_test_runs_a_builtin_tool(workspace: Path, cli: Cli) -> None:
    result = cli(
        "tool", "test", "text", "--call", '{"op": "regex", "text": "a1 b2", "pattern": "[0-9]"}'
    )
    assert result.code == 0, result.err
    assert json.loads(result.out) == ["1", "2"]
    assert " fuel, " in result.err
    failed = cli("tool", "test", "text", "--call", '{"op": "regex", "text": "x", "pattern": "("}')
    assert failed.code == ExitCode.TOOL_FAILED and "invalid regular expression" in failed.out


def test_a_workspace_tool_runs_from_its_folder(workspace: Path, cli: Cli) -> None:
    folder = workspace / "tools" / "words"
    folder.mkdir()
    shutil.copy(BUILTIN_DIR / "text" / "text.wasm", folder / "words.wasm")
    manifest = (BUILTIN_DIR / "text" / "tool.toml").read_text()
    (folder / "tool.toml").write_text(
        manifest.replace('name = "text"\ndescription', 'name = "words"\ndescription', 1).replace(
            '[[tools]]\nname = "text"', '[[tools]]\nname = "text_tool"'
        )
    )
    assert cli("validate").code == 0
    listed = {t["name"]: t for t in json.loads(cli("tool", "list", "--json").out)}
    assert listed["text_tool"]["origin"] == "workspace"
    # the module answers to "text", not "text_tool": the mismatch is reported clearly
    result = cli("tool", "test", "text_tool", "--call", '{"op": "words", "text": "x"}')
    assert result.code == ExitCode.TOOL_FAILED
    assert "unknown tool" in result.err


def test_bad_calls(workspace: Path, cli: Cli) -> None:
    assert cli("tool", "test", "txt").code == ExitCode.NOT_FOUND
    assert "did you mean 'text'?" in cli("tool", "test", "txt").err
    not_json = cli("tool", "test", "text", "--call", "{op: words}")
    assert not_json.code == ExitCode.USAGE and "--call is not JSON" in not_json.err
    runtime = cli("tool", "test", "memory_search")
    assert runtime.code == ExitCode.NOT_FOUND and "agent runtime provides it" in runtime.err
    unbuilt = ToolInfo("future_tool", "wasm", "built-in", "not shipped", {"type": "object"})
    with pytest.raises(ToolUnavailable, match="not built in this version"):
        registry.call(unbuilt, {}, workspace)


def test_every_call_is_audited(workspace: Path, cli: Cli) -> None:
    cli("tool", "test", "text", "--call", '{"op": "words", "text": "a b"}')
    cli("tool", "test", "text", "--call", '{"op": "regex", "text": "x", "pattern": "("}')
    log = workspace / ".caxton" / "audit" / "tool-calls.jsonl"
    records = [json.loads(line) for line in log.read_text().splitlines()]
    assert [r["outcome"] for r in records] == ["ok", "error-result"]
    first = records[0]
    assert first["tool"] == "text" and first["caller"] == "cli"
    assert first["fuel"] > 0 and first["seconds"] > 0 and first["at"].endswith("+00:00")
    assert "a b" not in log.read_text(), "arguments are not logged, only their size"


def test_file_tools_stay_inside_the_data_directory(workspace: Path, cli: Cli) -> None:
    wrote = cli(
        "tool", "test", "file_write", "--call", '{"path": "reports/q3.md", "content": "# Q3\\n"}'
    )
    assert wrote.code == 0, wrote.out + wrote.err
    data = workspace / ".caxton" / "data"
    assert (data / "reports" / "q3.md").read_text() == "# Q3\n"
    cli(
        "tool",
        "test",
        "file_write",
        "--call",
        '{"path": "reports/q3.md", "content": "up\\n", "mode": "append"}',
    )
    read = cli("tool", "test", "file_read", "--call", '{"path": "reports/q3.md"}')
    assert read.out == "# Q3\nup\n\n"
    (data / "link").symlink_to("/etc/hostname")
    for tool, call in [
        ("file_read", '{"path": "../../caxton.toml"}'),
        ("file_read", '{"path": "link"}'),
        ("file_write", '{"path": "../escape.txt", "content": "x"}'),
    ]:
        refused = cli("tool", "test", tool, "--call", call)
        assert refused.code == ExitCode.TOOL_FAILED and "not permitted" in refused.out
    assert not (workspace / ".caxton" / "escape.txt").exists()


def test_a_read_only_grant_refuses_writes(tmp_path: Path) -> None:
    from caxton.tools.mcp_stdio import call_tool
    from caxton.tools.sandbox import Preopen, RunLimits, Sandbox

    sandbox = Sandbox()
    module = sandbox.module((BUILTIN_DIR / "file_write" / "file_write.wasm").read_bytes())
    call = call_tool(
        sandbox,
        module,
        "file_write",
        {"path": "x.txt", "content": "hi"},
        limits=RunLimits(),
        preopens=(Preopen(tmp_path, "/", writable=False),),
    )
    assert call.is_error and not (tmp_path / "x.txt").exists()


def test_arguments_are_checked_before_the_call(workspace: Path, cli: Cli) -> None:
    result = cli("tool", "test", "stats", "--call", '{"values": "1,2,3"}')
    assert result.code == ExitCode.USAGE
    assert "do not fit its input schema: values: '1,2,3' is not of type 'array'" in result.err
    assert "caxton tool inspect stats" in result.err
    assert not (workspace / ".caxton" / "audit").exists(), "nothing ran"


def test_a_workspace_module_that_is_not_wasm(workspace: Path, cli: Cli) -> None:
    folder = workspace / "tools" / "fake"
    folder.mkdir()
    (folder / "fake.wasm").write_text("#!/bin/sh\n")
    (folder / "tool.toml").write_text(
        'name = "fake"\ndescription = "Not a module."\n\n[[tools]]\nname = "fake_tool"\n'
        'description = "Nothing."\n'
    )
    found = json.loads(cli("validate", "--json").out)["problems"]
    assert [p["code"] for p in found] == ["not-wasm"]
