"""The built-in tools: the committed .wasm works, matches its manifest, and rebuilds identically."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from caxton.tools.manifest import load_tool
from caxton.tools.mcp_stdio import call_tool, list_tools
from caxton.tools.sandbox import RunLimits, Sandbox

ROOT = Path(__file__).resolve().parents[2]
BUILTIN = ROOT / "caxton" / "tools" / "builtin"
LIMITS = RunLimits(memory_bytes=32 << 20, fuel=1_000_000_000, timeout_seconds=5.0)


@pytest.fixture(scope="module")
def sandbox() -> Sandbox:
    return Sandbox()


def check_text_tool(sandbox: Sandbox, wasm: bytes) -> None:
    module = sandbox.module(wasm)

    def text(arguments: dict[str, str]) -> tuple[str, bool]:
        call = call_tool(sandbox, module, "text", arguments, limits=LIMITS)
        return call.text(), call.is_error

    counts, failed = text({"op": "words", "text": "héllo wörld\nfoo  bar\tbaz\n"})
    assert not failed and json.loads(counts) == {"words": 5, "lines": 2, "characters": 25}
    matches, _ = text({"op": "regex", "text": 'a1 "b22" c333 \\ 😀', "pattern": "[0-9]+"})
    assert json.loads(matches) == ["1", "22", "333"]
    quoted, _ = text({"op": "regex", "text": 'say "hi" 😀', "pattern": '"[a-z]+"|😀'})
    assert json.loads(quoted) == ['"hi"', "😀"]
    diff, _ = text({"op": "diff", "a": "one\ntwo\nthree", "b": "one\n2\nthree\nfour"})
    assert diff.splitlines() == ["  one", "- two", "+ 2", "  three", "+ four"]
    message, failed = text({"op": "regex", "text": "x", "pattern": "("})
    assert failed and message.startswith("invalid regular expression")
    message, failed = text({"op": "shout"})
    assert failed and "unknown `op`" in message
    message, failed = text({})
    assert failed and "`op` is required" in message


def check_stats_tool(sandbox: Sandbox, wasm: bytes) -> None:
    module = sandbox.module(wasm)

    def stats(arguments: dict[str, object]) -> tuple[object, bool]:
        call = call_tool(sandbox, module, "stats", arguments, limits=LIMITS)
        return (call.text() if call.is_error else json.loads(call.text())), call.is_error

    values = [3.0, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5, -2.5, 1e6]
    reference = np.array(values)
    summary, _ = stats({"values": values})
    assert isinstance(summary, dict)
    assert summary["count"] == len(values)
    assert summary["mean"] == pytest.approx(reference.mean())
    assert summary["std"] == pytest.approx(reference.std(ddof=1))
    quartiles = np.percentile(reference, [0, 25, 50, 75, 100])
    assert [summary[k] for k in ("min", "p25", "median", "p75", "max")] == pytest.approx(
        list(quartiles)
    )
    picked, _ = stats({"op": "percentiles", "values": values, "p": [10, 95]})
    assert picked == pytest.approx(
        dict(zip(["10", "95"], np.percentile(reference, [10, 95]), strict=True))
    )
    r, _ = stats({"op": "correlation", "x": [1, 2, 3, 4, 5], "y": [2, 4, 5, 9, 8]})
    assert isinstance(r, dict)
    assert r["pearson"] == pytest.approx(np.corrcoef([1, 2, 3, 4, 5], [2, 4, 5, 9, 8])[0, 1])
    mistakes: list[tuple[dict[str, object], str]] = [
        ({"values": []}, "non-empty array"),
        ({"values": ["a"]}, "numbers"),
        ({"op": "correlation", "x": [1, 2], "y": [1]}, "same length"),
        ({"op": "correlation", "x": [1, 1], "y": [1, 2]}, "constant"),
        ({"op": "mode", "values": [1]}, "unknown `op`"),
    ]
    for bad, message in mistakes:
        text, failed = stats(bad)
        assert failed and message in str(text), bad


def test_text_tool(sandbox: Sandbox) -> None:
    check_text_tool(sandbox, (BUILTIN / "text" / "text.wasm").read_bytes())


def test_stats_tool(sandbox: Sandbox) -> None:
    check_stats_tool(sandbox, (BUILTIN / "stats" / "stats.wasm").read_bytes())


@pytest.mark.parametrize("folder", sorted(p.parent for p in BUILTIN.glob("*/tool.toml")))
def test_manifest_and_module_agree(sandbox: Sandbox, folder: Path) -> None:
    loaded = load_tool(folder / "tool.toml", builtin=True)
    assert loaded.problems == [] and loaded.manifest is not None
    module = sandbox.module(loaded.manifest.module_file(folder).read_bytes())
    offered = list_tools(sandbox, module, loaded.manifest.name, limits=LIMITS)
    assert [t["name"] for t in offered] == [t.name for t in loaded.manifest.tools]
    for tool in offered:
        assert tool["inputSchema"]["type"] == "object"


@pytest.mark.slow
def test_rebuilding_gives_the_same_modules(tmp_path: Path, sandbox: Sandbox) -> None:
    """The committed .wasm files are what the sources build to (zig is a dev dependency)."""
    subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "build_tools.py"), "--out", str(tmp_path)],
        check=True,
        capture_output=True,
        timeout=600,
    )
    for built in tmp_path.glob("*.wasm"):
        committed = BUILTIN / built.stem / built.name
        assert (
            hashlib.sha256(built.read_bytes()).hexdigest()
            == hashlib.sha256(committed.read_bytes()).hexdigest()
        ), f"{committed} is stale: run scripts/build_tools.py"
    check_text_tool(sandbox, (tmp_path / "text.wasm").read_bytes())
    check_stats_tool(sandbox, (tmp_path / "stats.wasm").read_bytes())
    check_csv_tool(sandbox, (tmp_path / "csv_parser.wasm").read_bytes())
    check_json_query_tool(sandbox, (tmp_path / "json_query.wasm").read_bytes())
    check_chart_tool(sandbox, (tmp_path / "chart.wasm").read_bytes())


def check_csv_tool(sandbox: Sandbox, wasm: bytes) -> None:
    module = sandbox.module(wasm)
    limits = RunLimits(memory_bytes=128 << 20, fuel=5_000_000_000, output_bytes=16 << 20)

    def parse(arguments: dict[str, object]) -> tuple[object, bool]:
        call = call_tool(sandbox, module, "csv_parser", arguments, limits=limits)
        return (call.text() if call.is_error else json.loads(call.text())), call.is_error

    text = (
        'region,amount,code,note\r\nnorth,12.5,0x1F,"hello, ""world"""\n'
        'south,,007,"multi\nline"\neast,-7e2,inf,plain\n'
    )
    table, _ = parse({"text": text})
    assert isinstance(table, dict)
    assert table["columns"] == ["region", "amount", "code", "note"]
    assert table["types"] == ["string", "number", "string", "string"]
    assert table["rows"] == [
        ["north", 12.5, "0x1F", 'hello, "world"'],
        ["south", None, "007", "multi\nline"],
        ["east", -700, "inf", "plain"],
    ]
    headless, _ = parse({"text": "1;2\n3;4", "delimiter": ";", "header": False})
    assert isinstance(headless, dict)
    assert headless["columns"] == ["column_1", "column_2"] and headless["rows"] == [[1, 2], [3, 4]]
    capped, _ = parse({"text": "a\n" + "1\n" * 50, "max_rows": 10})
    assert isinstance(capped, dict) and capped["row_count"] == 10 and capped["truncated"]
    ragged, failed = parse({"text": "a,b\n1,2,3\n"})
    assert failed and ragged == "record 2 has 3 fields; the first has 2"
    empty, failed = parse({"text": ""})
    assert failed and "no CSV records" in str(empty)


def test_csv_tool(sandbox: Sandbox) -> None:
    check_csv_tool(sandbox, (BUILTIN / "csv_parser" / "csv_parser.wasm").read_bytes())


def check_json_query_tool(sandbox: Sandbox, wasm: bytes) -> None:
    module = sandbox.module(wasm)
    data = {
        "orders": [{"id": 1, "total": 9.5, "tags": ["a"]}, {"id": 2, "total": 3}],
        "meta": {"n": 2, "note": 'say "hi"'},
    }

    def query(path: str, value: object = data) -> tuple[object, bool]:
        call = call_tool(
            sandbox, module, "json_query", {"data": value, "path": path}, limits=LIMITS
        )
        return (call.text() if call.is_error else json.loads(call.text())), call.is_error

    assert query("orders[*].total") == ([9.5, 3], False)
    assert query("orders[1].id") == (2, False)
    assert query("meta.note") == ('say "hi"', False)
    assert query("") == (data, False)
    assert query("orders[*].tags[*]") == (["a"], False)
    assert query("a.b[2]", json.dumps({"a": {"b": [10, 20, 30]}})) == (30, False)
    missing, failed = query("meta.missing")
    assert failed and missing == "nothing at path meta.missing"


def test_json_query_tool(sandbox: Sandbox) -> None:
    check_json_query_tool(sandbox, (BUILTIN / "json_query" / "json_query.wasm").read_bytes())


def check_chart_tool(sandbox: Sandbox, wasm: bytes) -> None:
    import xml.etree.ElementTree as ET

    module = sandbox.module(wasm)

    def draw(arguments: dict[str, object]) -> tuple[str, bool]:
        call = call_tool(sandbox, module, "chart", arguments, limits=LIMITS)
        return call.text(), call.is_error

    bars, _ = draw(
        {"values": [3, 6, 1.5], "labels": ["north", "south", "east"], "width": 20, "title": "Sales"}
    )
    lines = bars.splitlines()
    assert lines[0] == "Sales"
    assert lines[1] == "north |" + "#" * 10 + " 3"
    assert lines[2] == "south |" + "#" * 20 + " 6"
    line_chart, _ = draw({"values": [1, 3, 2], "type": "line"})
    assert line_chart.count("*") == 3 and len(line_chart.splitlines()) == 10
    svg, _ = draw({"values": [1, 2], "labels": ["<a>", "b&c"], "format": "svg", "title": 'q"'})
    root = ET.fromstring(svg)  # well-formed XML, labels escaped
    texts = [t.text for t in root.iter("{http://www.w3.org/2000/svg}text")]
    assert texts == ['q"', "<a>", "b&c"]
    assert len(list(root.iter("{http://www.w3.org/2000/svg}rect"))) == 2
    message, failed = draw({"values": [1, 2], "labels": ["a"]})
    assert failed and "as many as `values`" in message


def test_chart_tool(sandbox: Sandbox) -> None:
    check_chart_tool(sandbox, (BUILTIN / "chart" / "chart.wasm").read_bytes())


def test_every_template_tool_exists_and_wasm_ones_run_sandboxed() -> None:
    from caxton.tools.registry import available_tools
    from caxton.workspace.templates import template_agents

    tools = {t.name: t for t in available_tools(None)}
    for agent in template_agents():
        for name in agent.tools:
            assert name in tools, (agent.name, name)
            tool = tools[name]
            assert tool.kind != "wasm" or tool.manifest is not None, (agent.name, name)
