"""The WebAssembly sandbox: WASI preview1 modules run in wasmtime, deny by default.

Every run gets a fresh store and instance from a module compiled once (and cached on disk keyed
by the module's hash, the wasmtime version and the engine settings). Nothing is visible to a
module unless granted: no environment variables but those named, no files but preopened
folders, no network at all (WASI preview1 has no sockets). CPU is bounded by fuel, wall time by
epoch interruption, memory by the store's limits, and output by a size cap.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import functools
import hashlib
import importlib.metadata
import json
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import wasmtime
from wasmtime import _ffi
from wasmtime._extern import wrap_extern as _wrap_extern

from caxton.errors import CaxtonError, ExitCode
from caxton.tools.http_host import HttpPolicy, HttpRecord, HttpSession

EPOCH_TICK = 0.01  # seconds between epoch increments: the granularity of wall-time limits
ENGINE_SETTINGS = "fuel+epoch/v1"
STDERR_BYTES = 64 * 1024  # kept for diagnostics
IDLE_TICKS = 100  # the ticker thread outlives the last run by a second: starting one costs ~50 us

Outcome = Literal["ok", "exit", "out-of-fuel", "timeout", "trap", "output-too-large"]


class ModuleError(CaxtonError):
    """A file that is not a usable WebAssembly module."""

    exit_code = ExitCode.INVALID


@dataclass(frozen=True, slots=True)
class RunLimits:
    memory_bytes: int = 64 * 1024 * 1024
    fuel: int = 2_000_000_000
    timeout_seconds: float = 10.0
    output_bytes: int = 1024 * 1024


@dataclass(frozen=True, slots=True)
class Preopen:
    host: Path
    guest: str
    writable: bool = False


@dataclass(frozen=True, slots=True)
class RunResult:
    outcome: Outcome
    stdout: bytes
    stderr: bytes
    exit_code: int
    fuel_used: int
    seconds: float
    detail: str = ""
    http: tuple[HttpRecord, ...] = ()  # each request made through the HTTP host function

    @property
    def ok(self) -> bool:
        return self.outcome == "ok" or (self.outcome == "exit" and self.exit_code == 0)


@dataclass(slots=True)
class _Scratch:
    """One thread's stdin, stdout and stderr files, opened once and reused by every run.

    wasmtime opens them by path (truncating stdout and stderr); the host keeps its own
    descriptors to rewrite stdin, to read the output, and to cut runaway output short.
    """

    paths: tuple[str, str, str]
    stdin: int
    stdout: int
    stderr: int
    output_cap: int = 0
    overflow: bool = False

    def guard(self) -> None:
        """Called every tick while the module runs: a module writing more than it may is
        marked, and its files are emptied so it cannot fill the disk or memory before its time
        or fuel runs out (their pages are freed; later writes leave holes)."""
        if os.fstat(self.stdout).st_size > self.output_cap:
            self.overflow = True
            os.ftruncate(self.stdout, 0)
        if os.fstat(self.stderr).st_size > 4 * STDERR_BYTES:
            os.ftruncate(self.stderr, 0)

    def read(self, fd: int, cap: int) -> bytes | None:
        """The file's first bytes, or None when it holds more than `cap`."""
        if os.fstat(fd).st_size > cap:
            return None
        return os.pread(fd, cap + 1, 0)


@dataclass(slots=True)
class _Ticker:
    """Advances the engine's epoch while runs are in progress, and guards their output."""

    engine: wasmtime.Engine
    thread: threading.Thread | None = None
    active: set[int] = field(default_factory=set)
    scratches: dict[int, _Scratch] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self, scratch: _Scratch) -> None:
        with self.lock:
            self.scratches[id(scratch)] = scratch
            if self.thread is None:
                self.thread = threading.Thread(target=self._run, name="caxton-epoch", daemon=True)
                self.thread.start()

    def stop(self, scratch: _Scratch) -> None:
        with self.lock:
            self.scratches.pop(id(scratch), None)

    def _run(self) -> None:
        idle = 0
        while True:
            time.sleep(EPOCH_TICK)
            with self.lock:
                idle = 0 if self.scratches else idle + 1
                if idle > IDLE_TICKS:  # no run for a while: stop until the next one
                    self.thread = None
                    return
                running = list(self.scratches.values())
            self.engine.increment_epoch()
            for scratch in running:
                with contextlib.suppress(OSError):
                    scratch.guard()


class Sandbox:
    """Compiles modules once and runs them in fresh, limited instances."""

    def __init__(self, cache_dir: Path | None = None) -> None:
        config = wasmtime.Config()
        config.consume_fuel = True
        config.epoch_interruption = True
        self.engine = wasmtime.Engine(config)
        self.cache_dir = cache_dir
        self._linker = wasmtime.Linker(self.engine)
        self._linker.define_wasi()
        pair = wasmtime.FuncType([wasmtime.ValType.i32()] * 2, [wasmtime.ValType.i32()])
        self._linker.define_func("caxton", "http_request", pair, _http_request, access_caller=True)
        self._linker.define_func(
            "caxton", "http_response", pair, _http_response, access_caller=True
        )
        self._modules: dict[str, wasmtime.Module] = {}
        self._pres: dict[int, tuple[wasmtime.Module, Any]] = {}  # the module keeps its id
        self._lock = threading.Lock()
        self._ticker = _Ticker(self.engine)

    def module(self, wasm: bytes, *, source: str = "the module") -> wasmtime.Module:
        """The compiled module for these bytes: from memory, the disk cache, or compiled now."""
        digest = hashlib.sha256(wasm).hexdigest()
        with self._lock:
            cached = self._modules.get(digest)
            if cached is not None:
                return cached
        module = self._from_disk(digest)
        if module is None:
            if not wasm.startswith(b"\0asm"):
                raise ModuleError(
                    f"{source} is not a WebAssembly module (no \\0asm header)",
                    "build the tool for wasm32-wasi; see docs/tools.md",
                )
            try:
                module = wasmtime.Module(self.engine, wasm)
            except wasmtime.WasmtimeError as exc:
                raise ModuleError(
                    f"{source} does not compile: {_reason(exc)}",
                    "rebuild it for wasm32-wasi (WASI preview1)",
                ) from exc
            self._to_disk(digest, module)
        with self._lock:
            self._modules[digest] = module
        return module

    def _cache_file(self, digest: str) -> Path | None:
        if self.cache_dir is None:
            return None
        key = hashlib.sha256(f"{digest}:{_wasmtime_version()}:{ENGINE_SETTINGS}".encode())
        return self.cache_dir / f"{digest[:16]}-{key.hexdigest()[:16]}.cwasm"

    def _from_disk(self, digest: str) -> wasmtime.Module | None:
        path = self._cache_file(digest)
        if path is None or not path.is_file():
            return None
        try:
            # From bytes, not deserialize_file: that maps the file, and anything rewriting it
            # in place would crash this process (SIGBUS) rather than fail a call.
            return wasmtime.Module.deserialize(self.engine, path.read_bytes())
        except (OSError, wasmtime.WasmtimeError):
            path.unlink(missing_ok=True)  # written by another wasmtime or engine: rebuild
            return None

    def _to_disk(self, digest: str, module: wasmtime.Module) -> None:
        path = self._cache_file(digest)
        if path is None:
            return
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            temp = path.with_suffix(f".{threading.get_ident()}.tmp")
            temp.write_bytes(module.serialize())
            temp.replace(path)
        except OSError:
            pass  # the cache is an optimisation; compiling again is always possible

    def run(
        self,
        module: wasmtime.Module,
        stdin: bytes,
        *,
        limits: RunLimits,
        env: Mapping[str, str] | None = None,
        preopens: Sequence[Preopen] = (),
        argv: Sequence[str] = ("tool",),
        http: HttpPolicy | None = None,
    ) -> RunResult:
        """Run the module's `_start` once with `stdin`; never raises for what the module does."""
        scratch = _scratch_files(stdin, limits.output_bytes)
        stdin_path, stdout_path, stderr_path = scratch.paths
        wasi = wasmtime.WasiConfig()
        wasi.argv = list(argv)
        if env:
            wasi.env = [[k, v] for k, v in env.items()]
        wasi.stdin_file = stdin_path
        wasi.stdout_file = stdout_path  # truncated by wasmtime on open
        wasi.stderr_file = stderr_path
        for grant in preopens:
            wasi.preopen_dir(str(grant.host), grant.guest, grant.writable)
        store = wasmtime.Store(self.engine)
        store.set_wasi(wasi)
        store.set_fuel(limits.fuel)
        store.set_limits(memory_size=limits.memory_bytes)
        store.set_epoch_deadline(max(1, round(limits.timeout_seconds / EPOCH_TICK)))
        outcome: Outcome = "ok"
        exit_code, detail = 0, ""
        started = time.perf_counter()
        session = HttpSession(http or HttpPolicy(), time.monotonic() + limits.timeout_seconds)
        _calls.http = session
        self._ticker.start(scratch)
        try:
            try:
                instance = self._instance_pre(module).instantiate(store)
                start = _start_of(store, instance)
                if start is None:
                    outcome, detail = "trap", "the module exports no `_start` function"
                else:
                    start(store)
            except wasmtime.ExitTrap as exc:
                outcome, exit_code = "exit", exc.code
            except wasmtime.Trap as exc:
                if exc.trap_code == wasmtime.TrapCode.OUT_OF_FUEL:
                    outcome = "out-of-fuel"
                elif exc.trap_code == wasmtime.TrapCode.INTERRUPT:
                    outcome = "timeout"
                else:
                    outcome, detail = "trap", _reason(exc)
            except wasmtime.WasmtimeError as exc:
                outcome, detail = "trap", _reason(exc)
        finally:
            self._ticker.stop(scratch)
            _calls.http = None
        seconds = time.perf_counter() - started
        fuel_used = limits.fuel - store.get_fuel()
        http_log = tuple(session.records)
        stdout = None if scratch.overflow else scratch.read(scratch.stdout, limits.output_bytes)
        stderr = os.pread(scratch.stderr, STDERR_BYTES, 0)
        if stdout is None:
            return RunResult(
                "output-too-large",
                b"",
                stderr,
                exit_code,
                fuel_used,
                seconds,
                f"more than {limits.output_bytes} bytes of output",
                http_log,
            )
        return RunResult(outcome, stdout, stderr, exit_code, fuel_used, seconds, detail, http_log)

    def _instance_pre(self, module: wasmtime.Module) -> Any:
        """Imports resolved once per module; each call then only instantiates."""
        key = id(module)
        with self._lock:
            pre = self._pres.get(key)
            if pre is None:
                pre = self._pres[key] = (module, self._linker.instantiate_pre(module))
        return pre[1]


def _start_of(store: wasmtime.Store, instance: wasmtime.Instance) -> Any:
    """The instance's `_start`. `Instance.exports` wraps every export (~15 us a call); asking
    the C API for the one export takes ~5 us. wasmtime is pinned to one major version, and a
    change in its internals falls back to the public way."""
    try:
        item = _ffi.wasmtime_extern_t()
        found = _ffi.wasmtime_instance_export_get(
            store._context(), ctypes.byref(instance._instance), b"_start", 6, ctypes.byref(item)
        )
        start = _wrap_extern(item) if found else None
    except (AttributeError, TypeError):  # wasmtime's internals moved: the public way
        start = None
    if start is None:
        start = instance.exports(store).get("_start")
    return start if isinstance(start, wasmtime.Func) else None


def _reason(exc: BaseException) -> str:
    """wasmtime puts the backtrace first and the cause ("wasm trap: ...") last."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return lines[-1] if lines else type(exc).__name__


@functools.cache
def _wasmtime_version() -> str:
    return importlib.metadata.version("wasmtime")


_scratch = threading.local()


def _scratch_files(stdin: bytes, output_cap: int) -> _Scratch:
    """This thread's scratch files, stdin holding `stdin`: in memory (/dev/shm) where there is
    one, made once per thread and removed at exit (a folder per call costs more than the call).
    """
    scratch: _Scratch | None = getattr(_scratch, "files", None)
    if scratch is None:
        base = "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None
        folder = tempfile.mkdtemp(prefix=f"caxton-run-{os.getpid()}-", dir=base)
        atexit.register(shutil.rmtree, folder, True)
        paths = tuple(os.path.join(folder, n) for n in ("stdin", "stdout", "stderr"))
        fds = [os.open(path, os.O_RDWR | os.O_CREAT, 0o600) for path in paths]
        scratch = _scratch.files = _Scratch(paths, *fds)  # type: ignore[arg-type]
    os.ftruncate(scratch.stdin, 0)
    os.pwrite(scratch.stdin, stdin, 0)
    scratch.output_cap, scratch.overflow = output_cap, False
    return scratch


# The HTTP host function. wasmtime calls it on the thread running the module, inside `run`,
# which puts the call's HttpSession here first.
_calls = threading.local()


def _http_request(caller: wasmtime.Caller, pointer: int, length: int) -> int:
    """`caxton.http_request(ptr, len) -> len`: fetch per the request JSON at [ptr, ptr+len);
    returns the answer's length (read it with `http_response`), or -1 for a bad pointer."""
    memory = caller.get("memory")
    session: HttpSession | None = getattr(_calls, "http", None)
    if not isinstance(memory, wasmtime.Memory) or session is None or pointer < 0 or length < 0:
        return -1
    if pointer + length > memory.data_len(caller):
        return -1
    answer = session.fetch(bytes(memory.read(caller, pointer, pointer + length)))
    _calls.answer = json.dumps(answer, separators=(",", ":")).encode()
    return len(_calls.answer)


def _http_response(caller: wasmtime.Caller, pointer: int, capacity: int) -> int:
    """`caxton.http_response(ptr, cap) -> n`: copy the last answer to [ptr, ptr+cap)."""
    memory = caller.get("memory")
    answer: bytes = getattr(_calls, "answer", b"")
    if not isinstance(memory, wasmtime.Memory) or pointer < 0 or capacity < 0:
        return -1
    count = min(capacity, len(answer))
    if pointer + count > memory.data_len(caller):
        return -1
    memory.write(caller, answer[:count], pointer)
    return count
