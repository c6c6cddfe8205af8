"""The built-in tools: the committed .wasm works, matches its manifest, and rebuilds identically."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

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


def test_text_tool(sandbox: Sandbox) -> None:
    check_text_tool(sandbox, (BUILTIN / "text" / "text.wasm").read_bytes())


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
