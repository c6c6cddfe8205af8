"""`caxton login`, `--remote` on run and chat, and `caxton logout`, against a real server
(uvicorn on loopback) with real tokens."""

from __future__ import annotations

import io
import json
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from caxton.errors import ExitCode
from caxton.remotes import credentials_path, load_remotes
from caxton.server.embedded import EmbeddedServer, start_embedded
from tests.conftest import Cli

WS = "my-ws"


@pytest.fixture
def server(workspace: Path) -> Iterator[EmbeddedServer]:
    with start_embedded(workspace, model="test") as running:
        yield running


def login(cli: Cli, url: str, token: str, *args: str) -> tuple[int, str, str]:
    cli.monkeypatch.setattr("sys.stdin", io.StringIO(token + "\n"))
    result = cli("login", url, "--token-stdin", *args)
    return result.code, result.out, result.err


def test_login_checks_the_token_and_keeps_it_private(
    server: EmbeddedServer, cli: Cli, tmp_path: Path
) -> None:
    token = server.state.authority.issue("ana", [WS], "deployer", 3600)[0]
    code, out, err = login(cli, server.url, token, "--name", "lab")
    assert code == 0, err
    assert "logged in to" in err and "'ana' (deployer)" in err and "default 'my-ws'" in err
    assert token not in out + err
    path = credentials_path()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    remote = load_remotes()["lab"]
    assert remote.url == server.url and remote.token == token and remote.workspace == WS
    assert token not in repr(remote)


def test_a_bad_token_is_refused_and_nothing_is_saved(server: EmbeddedServer, cli: Cli) -> None:
    code, _, err = login(cli, server.url, "not-a-token")
    assert code == ExitCode.UNAVAILABLE and "malformed token" in err and "hint: " in err
    assert not credentials_path().exists()
    other = server.state.authority.issue("bo", ["elsewhere"], "viewer", 3600)[0]
    code, _, err = login(cli, server.url, other, "--workspace", WS)
    assert code == ExitCode.USAGE and "does not reach workspace 'my-ws'" in err
    assert not credentials_path().exists()


def test_login_to_a_dead_server_says_so(cli: Cli) -> None:
    code, _, err = login(cli, "http://127.0.0.1:9", "whatever")
    assert code == ExitCode.UNAVAILABLE and "does not answer" in err and "caxton health" in err


def test_run_and_chat_on_a_remote(server: EmbeddedServer, cli: Cli, tmp_path: Path) -> None:
    token = server.state.authority.issue("ana", [WS], "deployer", 3600)[0]
    assert login(cli, server.url, token)[0] == 0
    ran = cli("run", "--remote", "default", "--agent", "assistant", "--json", "hello there")
    assert ran.code == 0, ran.err
    result = json.loads(ran.out)
    assert result["workspace"] == WS and result["answer"].startswith("[test model]")
    assert len(result["spans"]) == result["trace"]["spans"]
    again = cli("run", "--remote", "default", "--agent", "assistant", "again")
    assert again.code == 0 and again.out.startswith("[test model]")
    assert "assistant: " in again.err
    # The server ran them: their traces are there, through the API.
    logs = json.loads(cli("logs", "--remote", "default", "--json").out)["executions"]
    assert [e["request"] for e in logs] == ["again", "hello there"]
    assert logs[1]["trace_id"] == result["trace_id"]
    shown = cli("trace", "--remote", "default", result["trace_id"][:8])
    assert shown.code == 0 and f"trace {result['trace_id']}" in shown.out
    assert "invoke_agent assistant" in shown.out
    assert "again" in cli("logs", "-r", "default").out
    # Outside any workspace folder the remote's default workspace is used.
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    outside = cli("run", "-r", "default", "-a", "assistant", "hi", cwd=elsewhere)
    assert outside.code == 0, outside.err
    cli.monkeypatch.setattr("sys.stdin", io.StringIO("first line\nsecond\n\n"))
    chatted = cli("chat", "assistant", "--remote", "default")
    assert chatted.code == 0, chatted.err
    assert chatted.out.count("[test model]") == 2


def test_remote_mistakes_are_clear(server: EmbeddedServer, cli: Cli) -> None:
    missing = cli("run", "--remote", "nowhere", "hi")
    assert missing.code == ExitCode.NOT_FOUND and "caxton login URL --name nowhere" in missing.err
    token = server.state.authority.issue("ana", [WS], "viewer", 3600)[0]
    assert login(cli, server.url, token)[0] == 0
    mixed = cli("run", "--remote", "default", "--model", "test", "hi")
    assert mixed.code == ExitCode.USAGE and "not on a remote" in mixed.err
    refused = cli("run", "--remote", "default", "--agent", "assistant", "hi")
    assert refused.code == ExitCode.UNAVAILABLE and "needs 'deployer'" in refused.err
    assert cli("logout", "default").code == 0
    assert "default" not in load_remotes()
    assert cli("logout", "default").code == ExitCode.NOT_FOUND


def test_a_credentials_file_others_can_read_is_refused(server: EmbeddedServer, cli: Cli) -> None:
    token = server.state.authority.issue("ana", [WS], "viewer", 3600)[0]
    assert login(cli, server.url, token)[0] == 0
    credentials_path().chmod(0o644)
    result = cli("run", "--remote", "default", "hi")
    assert result.code == ExitCode.IO and "chmod 600" in result.err
