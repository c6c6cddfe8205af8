"""The WASM sandbox denies by default and stops runaway modules: each limit, tested."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import wasmtime

from caxton.tools.mcp_stdio import ToolRunError, call_tool, list_tools
from caxton.tools.sandbox import ModuleError, Preopen, RunLimits, Sandbox
from tests.tools import wat

FAST = RunLimits(fuel=50_000_000, timeout_seconds=2.0)


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Sandbox:
    return Sandbox(tmp_path_factory.mktemp("wasm-cache"))


def mcp_module(result: dict[str, object]) -> bytes:
    """Answers the handshake (id 1) and the request (id 2) with fixed JSON, whatever is asked."""
    lines = [
        {
            "jsonrpc": "2.0",
            "id": 1,
            "result": {
                "protocolVersion": "2025-06-18",
                "capabilities": {"tools": {}},
                "serverInfo": {"name": "fixed"},
            },
        },
        {"jsonrpc": "2.0", "id": 2, "result": result},
    ]
    return wat.writer("".join(json.dumps(line) + "\n" for line in lines))


def test_a_tool_call_round_trip(sandbox: Sandbox) -> None:
    module = sandbox.module(mcp_module({"content": [{"type": "text", "text": "42 words"}]}))
    call = call_tool(sandbox, module, "word_count", {"text": "hello"}, limits=FAST)
    assert call.text() == "42 words" and not call.is_error
    assert call.run.fuel_used > 0 and call.run.seconds < 2


def test_tools_list(sandbox: Sandbox) -> None:
    tools = [
        {"name": "word_count", "description": "Count words", "inputSchema": {"type": "object"}}
    ]
    module = sandbox.module(mcp_module({"tools": tools}))
    assert list_tools(sandbox, module, "text", limits=FAST) == tools


def test_runaway_cpu_is_stopped_by_fuel(sandbox: Sandbox) -> None:
    run = sandbox.run(sandbox.module(wat.SPIN), b"", limits=FAST)
    assert run.outcome == "out-of-fuel"
    with pytest.raises(ToolRunError, match="ran out of fuel"):
        call_tool(sandbox, sandbox.module(wat.SPIN), "spin", {}, limits=FAST)


def test_runaway_time_is_stopped_by_the_deadline(sandbox: Sandbox) -> None:
    limits = RunLimits(fuel=10**15, timeout_seconds=0.2)
    run = sandbox.run(sandbox.module(wat.SPIN), b"", limits=limits)
    assert run.outcome == "timeout"
    assert 0.15 < run.seconds < 2.0


def test_memory_beyond_the_limit_is_refused(sandbox: Sandbox) -> None:
    module = sandbox.module(wat.GROW)
    assert sandbox.run(module, b"", limits=RunLimits(memory_bytes=64 << 20)).exit_code == 3
    assert sandbox.run(module, b"", limits=RunLimits(memory_bytes=256 << 20)).exit_code == 0


def test_no_host_environment_unless_named(
    sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SECRET_TOKEN", "hunter2")
    assert os.environ["SECRET_TOKEN"]
    module = sandbox.module(wat.ENV_COUNT)
    assert sandbox.run(module, b"", limits=FAST).exit_code == 0
    assert sandbox.run(module, b"", limits=FAST, env={"LANG": "C"}).exit_code == 1


def test_no_filesystem_unless_preopened(sandbox: Sandbox, tmp_path: Path) -> None:
    module = sandbox.module(wat.PREOPEN)
    assert sandbox.run(module, b"", limits=FAST).exit_code == 8  # EBADF: nothing there
    granted = (Preopen(tmp_path, "/data", writable=False),)
    assert sandbox.run(module, b"", limits=FAST, preopens=granted).exit_code == 0


def test_output_is_capped(sandbox: Sandbox) -> None:
    module = sandbox.module(wat.writer("x" * 1000, repeat=2000))
    run = sandbox.run(module, b"", limits=RunLimits(output_bytes=1 << 20))
    assert run.outcome == "output-too-large" and run.stdout == b""
    with pytest.raises(ToolRunError, match="more than 1048576 bytes"):
        call_tool(sandbox, module, "chatty", {}, limits=RunLimits(output_bytes=1 << 20))


def test_a_module_printing_a_gigabyte_is_cut_short(sandbox: Sandbox) -> None:
    run = sandbox.run(sandbox.module(wat.flood(1 << 20, 1024)), b"", limits=RunLimits())
    assert run.outcome == "output-too-large" and run.stdout == b""


def test_endless_output_cannot_fill_memory(sandbox: Sandbox) -> None:
    limits = RunLimits(fuel=10**15, timeout_seconds=1.0, output_bytes=1 << 20)
    run = sandbox.run(sandbox.module(wat.flood(1 << 20, -1)), b"", limits=limits)
    assert run.outcome == "output-too-large"
    # the scratch file holds what the module wrote since the last tick, not 1 s worth (~1 GB)
    stdout_file = Path(sandbox_scratch_paths()[1])
    assert stdout_file.stat().st_blocks * 512 < 128 << 20
    assert sandbox.run(sandbox.module(wat.writer("ok\n")), b"", limits=FAST).stdout == b"ok\n"


def sandbox_scratch_paths() -> tuple[str, str, str]:
    from caxton.tools import sandbox as module

    return module._scratch.files.paths  # type: ignore[no-any-return]


def test_a_module_that_does_not_answer(sandbox: Sandbox) -> None:
    module = sandbox.module(wat.writer("not json\n"))
    with pytest.raises(ToolRunError) as caught:
        call_tool(sandbox, module, "mute", {}, limits=FAST)
    assert "without answering 'tools/call'" in caught.value.message
    assert "one line each" in str(caught.value.hint)


def test_a_tool_error_is_reported(sandbox: Sandbox) -> None:
    module = sandbox.module(
        wat.writer(
            '{"jsonrpc":"2.0","id":2,"error":{"code":-32602,"message":"text is required"}}\n'
        )
    )
    with pytest.raises(ToolRunError, match="text is required"):
        call_tool(sandbox, module, "word_count", {}, limits=FAST)


def test_compiled_modules_are_cached_on_disk(tmp_path: Path) -> None:
    first = Sandbox(tmp_path)
    first.module(wat.SPIN)
    cached = list(tmp_path.glob("*.cwasm"))
    assert len(cached) == 1
    second = Sandbox(tmp_path)
    run = second.run(second.module(wat.SPIN), b"", limits=FAST)
    assert run.outcome == "out-of-fuel"
    cached[0].write_bytes(b"not a module")  # a stale or foreign cache entry is rebuilt
    third = Sandbox(tmp_path)
    assert third.run(third.module(wat.SPIN), b"", limits=FAST).outcome == "out-of-fuel"


def test_deep_recursion_traps(sandbox: Sandbox) -> None:
    module = sandbox.module(
        bytes(
            wasmtime.wat2wasm(
                '(module (memory (export "memory") 1) (func $f (call $f)) '
                '(func (export "_start") (call $f)))'
            )
        )
    )
    run = sandbox.run(module, b"", limits=FAST)
    assert run.outcome in ("trap", "out-of-fuel")
    assert run.outcome == "out-of-fuel" or "stack" in run.detail.lower()


def test_a_trapping_module(sandbox: Sandbox) -> None:
    module = sandbox.module(wat.module("(unreachable)"))
    with pytest.raises(ToolRunError, match=r"crashed: .*unreachable"):
        call_tool(sandbox, module, "boom", {}, limits=FAST)


def test_imports_we_do_not_provide(sandbox: Sandbox) -> None:
    module = sandbox.module(
        bytes(
            wasmtime.wat2wasm(
                '(module (import "evil" "open_socket" (func)) (memory (export "memory") 1) '
                '(func (export "_start")))'
            )
        )
    )
    run = sandbox.run(module, b"", limits=FAST)
    assert run.outcome == "trap" and "open_socket" in run.detail


def test_files_that_are_not_modules(sandbox: Sandbox) -> None:
    with pytest.raises(ModuleError, match="not a WebAssembly module"):
        sandbox.module(b"#!/bin/sh\necho hi\n", source="`tools/x/x.wasm`")
    with pytest.raises(ModuleError, match="does not compile"):
        sandbox.module(b"\0asm\1\0\0\0\xff\xff")


def test_a_module_without_start(sandbox: Sandbox) -> None:
    module = sandbox.module(bytes(wasmtime.wat2wasm('(module (memory (export "memory") 1))')))
    run = sandbox.run(module, b"", limits=FAST)
    assert run.outcome == "trap" and "no `_start`" in run.detail
