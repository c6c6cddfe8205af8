"""`tools/<name>/tool.toml`: checked by `caxton validate` like every other config file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from caxton.errors import ExitCode
from caxton.tools.manifest import load_tool
from tests.conftest import Cli

GOOD = """\
name = "text"
description = "Text utilities."

[[tools]]
name = "word_count"
description = "Count the words of a text."
input_schema = { type = "object", properties = { text = { type = "string" } } }

[permissions]
env = ["LANG"]
http_hosts = ["api.example.com", "*.example.org"]
dirs = [{ path = "reports", mode = "rw" }]

[limits]
memory = "32MB"
fuel = 1_000_000_000
timeout = "5s"
output = "256KB"
"""


def tool_dir(root: Path, text: str, name: str = "text", module: bool = True) -> Path:
    folder = root / "tools" / name
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "tool.toml").write_text(text)
    if module:
        (folder / f"{name}.wasm").write_bytes(b"\0asm\1\0\0\0")
    return folder


def test_a_complete_manifest(tmp_path: Path) -> None:
    loaded = load_tool(tool_dir(tmp_path, GOOD) / "tool.toml")
    assert loaded.problems == []
    manifest = loaded.manifest
    assert manifest is not None
    assert manifest.limits.memory.bytes == 32 << 20
    assert manifest.limits.output.bytes == 256 << 10
    assert manifest.permissions.dirs[0].mode == "rw"
    assert [t.name for t in manifest.tools] == ["word_count"]


@pytest.mark.parametrize(
    ("change", "code", "needle"),
    [
        (('"api.example.com"', '"https://api.example.com"'), "bad-format", "http_hosts"),
        (('path = "reports"', 'path = "../etc"'), "bad-format", "permissions.dirs[0].path"),
        (('memory = "32MB"', 'memory = "8GB"'), "out-of-range", "limits.memory"),
        (('timeout = "5s"', 'timeout = "soon"'), "bad-value", "limits.timeout"),
        (('name = "word_count"', 'name = "stats"'), "shadowed-tool", "'stats'"),
        (('type = "object", ', 'type = "string", '), "bad-schema", "must describe an object"),
        (('env = ["LANG"]', 'env = ["LANG", "LANG"]'), "duplicate", "twice"),
    ],
)
def test_mistakes_are_located(
    tmp_path: Path, change: tuple[str, str], code: str, needle: str
) -> None:
    text = GOOD.replace(*change)
    loaded = load_tool(tool_dir(tmp_path, text) / "tool.toml")
    found = [p for p in loaded.problems if p.code == code]
    assert found, loaded.problems
    assert needle in found[0].message
    line = text.splitlines()[found[0].line - 1]
    assert change[1].split(" = ")[-1].strip('"')[:4] in line or change[1] in line


def test_missing_module(tmp_path: Path) -> None:
    loaded = load_tool(tool_dir(tmp_path, GOOD, module=False) / "tool.toml")
    assert [p.code for p in loaded.problems] == ["missing-module"]


def test_validate_reports_tool_problems_and_knows_their_names(workspace: Path, cli: Cli) -> None:
    tool_dir(workspace, GOOD.replace('"5s"', '"forever"'))
    tool_dir(workspace, GOOD.replace('name = "text"', 'name = "more-text"'), name="more-text")
    agent = workspace / "agents" / "assistant.toml"
    agent.write_text(agent.read_text().replace('"delegate",', '"delegate",\n    "word_count",'))
    result = cli("validate", "--json")
    data = json.loads(result.out)
    assert result.code == ExitCode.INVALID
    codes = {(p["path"], p["code"]) for p in data["problems"]}
    # folders are read in name order: `more-text` declares `word_count` first
    assert codes == {
        ("tools/text/tool.toml", "bad-value"),
        ("tools/text/tool.toml", "duplicate-tool"),
    }
