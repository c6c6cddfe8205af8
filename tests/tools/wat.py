"""Tiny WASI modules written in WAT for the sandbox tests (no compiler needed)."""

from __future__ import annotations

import wasmtime

WASI = "wasi_snapshot_preview1"
IMPORTS = f"""
  (import "{WASI}" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "{WASI}" "proc_exit" (func $proc_exit (param i32)))
  (import "{WASI}" "environ_sizes_get" (func $environ_sizes_get (param i32 i32) (result i32)))
  (import "{WASI}" "fd_prestat_get" (func $fd_prestat_get (param i32 i32) (result i32)))
"""


def _data(text: str) -> str:
    return "".join(f"\\{b:02x}" for b in text.encode())


def module(body: str) -> bytes:
    """A module with the WASI imports above, one page of memory, and `_start` running `body`."""
    wat = f"""(module {IMPORTS}
      (memory (export "memory") 1)
      (func (export "_start") {body}))"""
    return bytes(wasmtime.wat2wasm(wat))


def writer(text: str, repeat: int = 1) -> bytes:
    """Writes `text` to stdout `repeat` times, ignoring stdin."""
    wat = f"""(module {IMPORTS}
      (memory (export "memory") 1)
      (data (i32.const 1024) "{_data(text)}")
      (func (export "_start") (local $i i32)
        (i32.store (i32.const 0) (i32.const 1024))
        (i32.store (i32.const 4) (i32.const {len(text.encode())}))
        (block $done (loop $again
          (br_if $done (i32.ge_u (local.get $i) (i32.const {repeat})))
          (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))
          (local.set $i (i32.add (local.get $i) (i32.const 1)))
          (br $again)))))"""
    return bytes(wasmtime.wat2wasm(wat))


SPIN = module("(loop $l (br $l))")
# exit code = how many environment variables the module can see
ENV_COUNT = module(
    "(drop (call $environ_sizes_get (i32.const 0) (i32.const 4))) "
    "(call $proc_exit (i32.load (i32.const 0)))"
)
# exit code = errno of asking for preopened folder 3 (0: there is one, 8: EBADF, none)
PREOPEN = module("(call $proc_exit (call $fd_prestat_get (i32.const 3) (i32.const 0)))")
# exit code 3 when growing memory by 128 MiB fails, 0 when it succeeds
GROW = module(
    "(if (i32.eq (memory.grow (i32.const 2048)) (i32.const -1)) "
    "(then (call $proc_exit (i32.const 3)))) (call $proc_exit (i32.const 0))"
)


def flood(chunk: int, repeat: int) -> bytes:
    """Writes `repeat` chunks of `chunk` zero bytes to stdout (repeat -1: until stopped)."""
    pages = chunk // 65536 + 2
    wat = f"""(module {IMPORTS}
      (memory (export "memory") {pages})
      (func (export "_start") (local $i i32)
        (i32.store (i32.const 0) (i32.const 1024))
        (i32.store (i32.const 4) (i32.const {chunk}))
        (block $done (loop $again
          (br_if $done (i32.eq (local.get $i) (i32.const {repeat})))
          (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))
          (local.set $i (i32.add (local.get $i) (i32.const 1)))
          (br $again)))))"""
    return bytes(wasmtime.wat2wasm(wat))
