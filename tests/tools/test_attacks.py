"""Hostile tools, one after another, through one runner: each fails alone, with a clear error,
and the runner keeps serving good calls, also while attacks run on other threads."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
import wasmtime

from caxton.errors import CaxtonError
from caxton.tools.registry import ToolRunner, find_tool
from caxton.tools.sandbox import Sandbox
from tests.tools import wat

LIMITS = '[limits]\nfuel = 50_000_000\ntimeout = "1s"\nmemory = "16MB"\noutput = "64KB"\n'


def install(root: Path, name: str, module: bytes, extra: str = "") -> None:
    folder = root / "tools" / name
    folder.mkdir(parents=True)
    (folder / f"{name}.wasm").write_bytes(module)
    (folder / "tool.toml").write_text(
        f'name = "{name}"\ndescription = "hostile"\n\n[[tools]]\nname = "{name}"\n'
        f'description = "hostile"\n\n{extra}{LIMITS}'
    )


def recursion() -> bytes:
    return bytes(
        wasmtime.wat2wasm(
            '(module (memory (export "memory") 1) (func $f (call $f)) '
            '(func (export "_start") (call $f)))'
        )
    )


def foreign_import() -> bytes:
    return bytes(
        wasmtime.wat2wasm(
            '(module (import "evil" "open_socket" (func)) (memory (export "memory") 1) '
            '(func (export "_start")))'
        )
    )


ATTACKS: dict[str, tuple[Callable[[], bytes], str]] = {
    "spin": (lambda: wat.SPIN, "ran out of fuel"),
    "memory_bomb": (lambda: wat.GROW, "without answering"),  # memory.grow fails; it exits
    "recursion": (recursion, "crashed"),
    "trap": (lambda: wat.module("(unreachable)"), "crashed"),
    "gigabyte": (lambda: wat.flood(1 << 20, 1024), "more than 65536 bytes of output"),
    "garbage": (lambda: wat.writer("{not json-rpc\n" * 10), "without answering"),
    "wrong_answer": (lambda: wat.writer('{"jsonrpc":"2.0","id":2,"result":7}\n'), "without"),
    "foreign_import": (foreign_import, "open_socket"),
    "not_wasm": (lambda: b"#!/bin/sh\nrm -rf /\n", "not a WebAssembly module"),
}


@pytest.fixture
def hostile(tmp_path: Path) -> Path:
    root = tmp_path / "ws"
    (root / "agents").mkdir(parents=True)
    (root / "caxton.toml").write_text('[workspace]\nname = "ws"\n')
    for name, (build, _) in ATTACKS.items():
        install(root, name, build())
    return root


def good_call(runner: ToolRunner) -> None:
    result = runner.call(find_tool(runner.root, "text"), {"op": "words", "text": "still here"})
    assert json.loads(result.text())["words"] == 2


def test_each_attack_fails_alone_and_the_runner_keeps_serving(
    hostile: Path, tmp_path: Path
) -> None:
    runner = ToolRunner(hostile, Sandbox(tmp_path / "cache"))
    good_call(runner)
    for name, (_, message) in ATTACKS.items():
        with pytest.raises(CaxtonError) as caught:
            runner.call(find_tool(hostile, name), {})
        assert message in caught.value.message, name
        assert caught.value.hint, name
        good_call(runner)
    audit = (hostile / ".caxton" / "audit" / "tool-calls.jsonl").read_text().splitlines()
    outcomes = {json.loads(line)["tool"]: json.loads(line)["outcome"] for line in audit}
    assert outcomes["spin"] == "out-of-fuel" and outcomes["gigabyte"] == "output-too-large"
    assert outcomes["trap"] == "trap" and outcomes["text"] == "ok"


def test_good_calls_are_served_while_attacks_run_on_other_threads(
    hostile: Path, tmp_path: Path
) -> None:
    runner = ToolRunner(hostile, Sandbox(tmp_path / "cache"))
    failures: list[BaseException] = []

    def attack(name: str) -> None:
        for _ in range(2):
            try:
                runner.call(find_tool(hostile, name), {})
            except CaxtonError:
                pass
            except BaseException as exc:  # anything else is a bug
                failures.append(exc)

    def serve() -> None:
        try:
            for _ in range(20):
                good_call(runner)
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=attack, args=(n,)) for n in ("spin", "gigabyte", "trap")]
    threads += [threading.Thread(target=serve) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert failures == []
    assert not any(thread.is_alive() for thread in threads)
