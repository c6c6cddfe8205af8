"""Shared fixtures: an isolated CAXTON_HOME, no network, and a CLI runner over `main()`."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from caxton.cli.app import main
from caxton.memory.embedder import Embedder, get_embedder


@pytest.fixture(autouse=True)
def isolated_home(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Path:
    """Every test gets its own CAXTON_HOME; nothing reads or writes the user's real state."""
    home = tmp_path_factory.mktemp("caxton-home")
    monkeypatch.setenv("CAXTON_HOME", str(home))
    monkeypatch.delenv("CAXTON_EMBEDDER", raising=False)  # the shipped model, always
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.delenv("FORCE_COLOR", raising=False)
    monkeypatch.setenv("CAXTON_FORBID_REAL_LLM", "1")  # only the `test` and `replay` models
    for key in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY"):
        monkeypatch.delenv(key, raising=False)
    return home


@pytest.fixture(autouse=True)
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests talk to loopback at most; anything else is a bug in the test or the product."""
    real_connect = socket.socket.connect

    def guarded(self: socket.socket, address: Any) -> Any:
        host = address[0] if isinstance(address, tuple) else None
        if host is not None:
            try:
                allowed = host == "localhost" or ipaddress.ip_address(host).is_loopback
            except ValueError:
                allowed = False
            if not allowed:
                raise RuntimeError(f"test tried to reach the network: {address!r}")
        return real_connect(self, address)

    monkeypatch.setattr(socket.socket, "connect", guarded)


@dataclass
class Result:
    code: int
    out: str
    err: str


class Cli:
    """Runs `caxton` in-process through `main()`, as the console script does."""

    def __init__(self, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
        self.capsys = capsys
        self.monkeypatch = monkeypatch

    def __call__(self, *args: str, cwd: Path | None = None) -> Result:
        if cwd is not None:
            self.monkeypatch.chdir(cwd)
        self.capsys.readouterr()
        code = main(list(args))
        captured = self.capsys.readouterr()
        return Result(code, captured.out, captured.err)


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Cli:
    return Cli(capsys, monkeypatch)


@pytest.fixture(scope="session")
def embedder() -> Embedder:
    """The shipped embedding model, loaded once for the whole run."""
    return get_embedder()


@pytest.fixture
def workspace(tmp_path: Path, cli: Cli) -> Iterator[Path]:
    """A fresh workspace made by `caxton init`, as the current directory."""
    root = tmp_path / "my-ws"
    result = cli("init", str(root), cwd=tmp_path)
    assert result.code == 0, result.err
    cli.monkeypatch.chdir(root)
    yield root
