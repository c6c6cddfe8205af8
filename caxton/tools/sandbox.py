"""The WebAssembly sandbox: WASI preview1 modules run in wasmtime, deny by default.

Every run gets a fresh store and instance from a module compiled once (and cached on disk keyed
by the module's hash, the wasmtime version and the engine settings). Nothing is visible to a
module unless granted: no environment variables but those named, no files but preopened
folders, no network at all (WASI preview1 has no sockets). CPU is bounded by fuel, wall time by
epoch interruption, memory by the store's limits, and output by a size cap.
"""

from __future__ import annotations

import atexit
import functools
import hashlib
import importlib.metadata
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

from caxton.errors import CaxtonError, ExitCode

EPOCH_TICK = 0.01  # seconds between epoch increments: the granularity of wall-time limits
ENGINE_SETTINGS = "fuel+epoch/v1"

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

    @property
    def ok(self) -> bool:
        return self.outcome == "ok" or (self.outcome == "exit" and self.exit_code == 0)


@dataclass(slots=True)
class _Ticker:
    engine: wasmtime.Engine
    thread: threading.Thread | None = None
    running: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __enter__(self) -> None:
        with self.lock:
            self.running += 1
            if self.thread is None:
                self.thread = threading.Thread(target=self._run, name="caxton-epoch", daemon=True)
                self.thread.start()

    def __exit__(self, *exc: object) -> None:
        with self.lock:
            self.running -= 1

    def _run(self) -> None:
        while True:
            time.sleep(EPOCH_TICK)
            with self.lock:
                if self.running == 0:
                    self.thread = None
                    return
            self.engine.increment_epoch()


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
    ) -> RunResult:
        """Run the module's `_start` once with `stdin`; never raises for what the module does."""
        stdin_path, stdout_path, stderr_path = _scratch_files()
        with open(stdin_path, "wb") as handle:
            handle.write(stdin)
        wasi = wasmtime.WasiConfig()
        wasi.argv = list(argv)
        wasi.env = [[k, v] for k, v in (env or {}).items()]
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
        with self._ticker:
            try:
                instance = self._instance_pre(module).instantiate(store)
                start: Any = instance.exports(store)["_start"]
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
        seconds = time.perf_counter() - started
        fuel_used = limits.fuel - store.get_fuel()
        stdout = _read_capped(stdout_path, limits.output_bytes)
        stderr = _read_capped(stderr_path, 64 * 1024) or b""
        if stdout is None:
            return RunResult(
                "output-too-large",
                b"",
                stderr,
                exit_code,
                fuel_used,
                seconds,
                f"more than {limits.output_bytes} bytes of output",
            )
        return RunResult(outcome, stdout, stderr, exit_code, fuel_used, seconds, detail)

    def _instance_pre(self, module: wasmtime.Module) -> Any:
        """Imports resolved once per module; each call then only instantiates."""
        key = id(module)
        with self._lock:
            pre = self._pres.get(key)
            if pre is None:
                pre = self._pres[key] = (module, self._linker.instantiate_pre(module))
        return pre[1]


def _reason(exc: BaseException) -> str:
    """wasmtime puts the backtrace first and the cause ("wasm trap: ...") last."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return lines[-1] if lines else type(exc).__name__


@functools.cache
def _wasmtime_version() -> str:
    return importlib.metadata.version("wasmtime")


_scratch = threading.local()


def _scratch_files() -> tuple[str, str, str]:
    """This thread's stdin, stdout and stderr files: in memory (/dev/shm) where there is one,
    made once per thread and removed at exit (a folder per call costs more than the call)."""
    files: tuple[str, str, str] | None = getattr(_scratch, "files", None)
    if files is None:
        base = "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None
        folder = tempfile.mkdtemp(prefix=f"caxton-run-{os.getpid()}-", dir=base)
        atexit.register(shutil.rmtree, folder, True)
        files = tuple(os.path.join(folder, n) for n in ("stdin", "stdout", "stderr"))  # type: ignore[assignment]
        _scratch.files = files
    assert files is not None
    return files


def _read_capped(path: str, cap: int) -> bytes | None:
    """The file's bytes, or None when it holds more than `cap`."""
    try:
        with open(path, "rb") as handle:
            data = handle.read(cap + 1)
    except FileNotFoundError:
        return b""
    return None if len(data) > cap else data
