"""`caxton remote`, `deploy`, `status`, `pull`, `log`, `rollback` and `quickstart` against a
real server (the app on uvicorn in a thread, its data in a temp dir), through the CLI."""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from caxton.client import Client, RemoteError
from caxton.deploy.store import DB_FILE
from caxton.errors import ExitCode
from caxton.server.embedded import EmbeddedServer, start_embedded
from caxton.server.gate import Limits
from tests.conftest import Cli

GIT = ["git", "-c", "user.name=Test", "-c", "user.email=test@localhost"]


def git(root: Path, *args: str) -> str:
    done = subprocess.run([*GIT, "-C", str(root), *args], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.fixture
def server(tmp_path: Path) -> Iterator[EmbeddedServer]:
    with start_embedded(None, data_dir=tmp_path / "server-data", model="test") as running:
        yield running


@pytest.fixture
def workspace(tmp_path: Path, cli: Cli) -> Path:
    assert cli("init", "demo", cwd=tmp_path).code == 0
    root = tmp_path / "demo"
    git(root, "add", "-A")
    git(root, "commit", "-qm", "first")
    return root


def add_remote(
    cli: Cli, monkeypatch: pytest.MonkeyPatch, root: Path, server: EmbeddedServer
) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO(server.token + "\n"))
    result = cli("remote", "add", "prod", server.url, "--token-stdin", cwd=root)
    assert result.code == 0, result.err


def describe(root: Path, agent: str, text: str) -> None:
    path = root / "agents" / f"{agent}.toml"
    lines = path.read_text().splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith("description = "))
    lines[at] = f'description = "{text}"'
    path.write_text("\n".join(lines) + "\n")


def live_agents(server: EmbeddedServer) -> dict[str, str]:
    with Client(server.url, server.token, "demo") as client:
        return {a["name"]: a["description"] for a in client.agents()}


def test_deploy_then_change_then_see_it_live_status_log_rollback_pull(
    workspace: Path, server: EmbeddedServer, cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    add_remote(cli, monkeypatch, workspace, server)
    assert "[remotes.prod]" in (workspace / "caxton.toml").read_text()
    assert server.token not in (workspace / "caxton.toml").read_text()
    git(workspace, "commit", "-qam", "remote")

    first = cli("deploy", "-m", "first", cwd=workspace)
    assert first.code == 0, first.err
    assert "deployed version 1 of 'demo' to prod" in first.err
    assert "plan: 2 added" in first.err or "plan: 1 added" in first.err
    assert cli("deploy", cwd=workspace).err.count("nothing to deploy") == 1

    describe(workspace, "assistant", "Version two of the assistant.")
    offline = cli("status", "--json", cwd=workspace)
    assert offline.code == 0
    status = json.loads(offline.out)
    assert status["remotes"][0]["changes"]["modified"] == ["agents/assistant.toml"]
    assert status["git"]["dirty"] == ["agents/assistant.toml"]
    assert status["valid"] is True
    states = {a["path"]: a["state"] for a in status["remotes"][0]["agents"]}
    assert states["agents/assistant.toml"] == "changed"
    git(workspace, "commit", "-qam", "two")

    second = cli("deploy", "--json", cwd=workspace)
    assert second.code == 0, second.err
    summary = json.loads(second.out)
    assert summary["deployment"]["version"] == 2
    assert summary["changes"] == {"added": [], "modified": ["agents/assistant.toml"], "deleted": []}
    assert summary["files_sent"] == 1 and summary["git"]["dirty"] == []
    assert live_agents(server)["assistant"] == "Version two of the assistant."

    audit = json.loads(cli("log", "--audit", "--json", cwd=workspace).out)
    assert [(e["outcome"], e["version"], e["who"]) for e in audit] == [
        ("applied", 2, "embedded"),
        ("applied", 1, "embedded"),
    ]
    assert "applied" in cli("log", "--audit", cwd=workspace).out
    history = json.loads(cli("log", "--json", cwd=workspace).out)
    assert [d["version"] for d in history["deployments"]] == [2, 1]
    assert history["deployments"][1]["message"] == "first"
    assert history["deployments"][0]["commit"] == git(workspace, "rev-parse", "HEAD").strip()

    back = cli("rollback", "1", cwd=workspace)
    assert back.code == 0, back.err
    assert "version 3 on prod has version 1's files" in back.err
    assert live_agents(server)["assistant"] != "Version two of the assistant."
    after_rollback = json.loads(cli("log", "--json", cwd=workspace).out)["deployments"]
    assert after_rollback[0]["kind"] == "rollback" and after_rollback[0]["rollback_of"] == 1
    assert after_rollback[0]["commit"] == after_rollback[2]["commit"]  # the files it ships

    kept = cli("pull", cwd=workspace)  # the files here are version 2's: local changes now
    assert kept.code == ExitCode.CONFLICT and "agents/assistant.toml" in kept.err
    pulled = cli("pull", "--force", cwd=workspace)
    assert pulled.code == 0, pulled.err
    assert "modified  agents/assistant.toml" in pulled.out
    assert "Version two" not in (workspace / "agents" / "assistant.toml").read_text()
    after = json.loads(cli("status", "--json", cwd=workspace).out)
    assert after["remotes"][0]["changes"] == {"added": [], "modified": [], "deleted": []}


def test_status_and_log_work_with_the_server_gone(
    workspace: Path, tmp_path: Path, cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    with start_embedded(None, data_dir=tmp_path / "gone", model="test") as server:
        add_remote(cli, monkeypatch, workspace, server)
        git(workspace, "commit", "-qam", "remote")
        assert cli("deploy", cwd=workspace).code == 0
        assert cli("log", cwd=workspace).code == 0
    (workspace / "agents" / "helper.toml").write_text(
        (workspace / "agents" / "assistant.toml")
        .read_text()
        .replace('name = "assistant"', 'name = "helper"')
    )
    status = cli("status", cwd=workspace)
    assert status.code == 0, status.err
    assert "new       agents/helper.toml" in status.out
    assert "you deployed version 1" in status.out
    log = cli("log", cwd=workspace)
    assert log.code == 0
    assert "does not answer" in log.err and "fetched at" in log.err
    assert log.out.splitlines()[1].startswith("1 ")
    live = cli("status", "--remote", "prod", cwd=workspace)
    assert live.code == 0 and "the server did not answer" in live.out


def test_a_workspace_outside_git_is_refused_with_the_fix(
    workspace: Path, server: EmbeddedServer, cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    add_remote(cli, monkeypatch, workspace, server)
    shutil.rmtree(workspace / ".git")
    result = cli("deploy", cwd=workspace)
    assert result.code == ExitCode.USAGE
    assert "not in a git repository" in result.err and "hint: run `git init" in result.err
    assert "Traceback" not in result.err


def test_a_dirty_tree_deploys_with_a_warning_that_is_recorded(
    workspace: Path, server: EmbeddedServer, cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    add_remote(cli, monkeypatch, workspace, server)  # caxton.toml is now uncommitted
    result = cli("deploy", cwd=workspace)
    assert result.code == 0, result.err
    assert "warning: deploying uncommitted changes (caxton.toml)" in result.err
    assert json.loads(cli("log", "--json", cwd=workspace).out)["deployments"][0]["dirty"]


def test_an_invalid_workspace_is_refused_before_anything_is_sent(
    workspace: Path, server: EmbeddedServer, cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    add_remote(cli, monkeypatch, workspace, server)
    agent = workspace / "agents" / "assistant.toml"
    agent.write_text("max_turnz = 3\n" + agent.read_text())
    result = cli("deploy", cwd=workspace)
    assert result.code == ExitCode.INVALID
    assert "agents/assistant.toml:" in result.err and "nothing was deployed" in result.err
    with Client(server.url, server.token, "demo") as client:
        assert client.get("deploy")["live"] is None


def test_a_second_clone_must_pull_first_and_a_stale_deploy_names_the_conflict(
    workspace: Path,
    server: EmbeddedServer,
    tmp_path: Path,
    cli: Cli,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    add_remote(cli, monkeypatch, workspace, server)
    git(workspace, "commit", "-qam", "remote")
    assert cli("deploy", cwd=workspace).code == 0
    other = tmp_path / "other"
    git(tmp_path, "clone", "-q", str(workspace), str(other))
    describe(other, "assistant", "Changed in the other clone.")
    git(other, "commit", "-qam", "other")
    refused = cli("deploy", cwd=other)
    assert refused.code == ExitCode.CONFLICT
    assert "never deployed or pulled" in refused.err and "caxton pull" in refused.err
    blocked = cli("pull", cwd=other)  # its committed change is a local change to the server
    assert blocked.code == ExitCode.CONFLICT and "agents/assistant.toml" in blocked.err
    assert cli("pull", "agents/assistant.toml", "--force", cwd=other).code == 0
    git(other, "checkout", "-q", "--", ".")  # back to its commit, now based on version 1
    assert cli("pull", cwd=other).code == ExitCode.CONFLICT  # a path pull records no base
    assert cli("deploy", "--force", cwd=other).code == 0  # version 2

    describe(workspace, "assistant", "Changed here too.")
    git(workspace, "commit", "-qam", "here")
    stale = cli("deploy", cwd=workspace)
    assert stale.code == ExitCode.CONFLICT
    assert "version 2 is live" in stale.err and "agents/assistant.toml" in stale.err

    local_edit = workspace / "agents" / "assistant.toml"
    local_edit.write_text(local_edit.read_text() + "# not committed\n")
    kept = cli("pull", cwd=workspace)
    assert kept.code == ExitCode.CONFLICT and "agents/assistant.toml" in kept.err
    assert "# not committed" in local_edit.read_text()
    assert cli("pull", "--force", cwd=workspace).code == 0
    assert "Changed in the other clone." in local_edit.read_text()


SMALL_LIMIT = 64 << 10  # a server that takes 64 KiB per request of blobs


def test_a_workspace_larger_than_one_request_deploys_and_pulls_in_batches(
    workspace: Path, tmp_path: Path, cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The server's `upload_bytes` (`GET deploy`) bounds every request of blobs, both ways:
    the deploy uploads in batches under it, and so does the pull download, which one request
    could not carry."""
    limits = Limits(rate=0, upload_bytes=SMALL_LIMIT)
    with start_embedded(None, data_dir=tmp_path / "small", model="test", limits=limits) as server:
        add_remote(cli, monkeypatch, workspace, server)
        git(workspace, "commit", "-qam", "remote")
        other = tmp_path / "other"
        git(tmp_path, "clone", "-q", str(workspace), str(other))
        big = {f"prompts/part-{i}.md": os.urandom(20 << 10).hex() for i in range(6)}  # 240 KiB
        (workspace / "prompts").mkdir()
        for path, text in big.items():
            (workspace / path).write_text(text, encoding="utf-8")
        git(workspace, "add", "-A")
        git(workspace, "commit", "-qm", "big")
        deployed = cli("deploy", cwd=workspace)
        assert deployed.code == 0, deployed.err
        assert deployed.err.count("uploaded ") > 1  # one line per upload request

        with Client(server.url, server.token, "demo") as client:
            assert client.get("deploy")["limits"]["upload_bytes"] == SMALL_LIMIT
            files = client.get("deployments/1")["files"]
            hashes = [files[p]["sha256"] for p in big]
            with pytest.raises(RemoteError) as too_big:  # refused before it is built
                client.fetch_bytes("blobs/fetch", {"hashes": hashes})
            assert too_big.value.status == 413 and too_big.value.kind == "payload_too_large"
            assert f"at most {SMALL_LIMIT}" in too_big.value.message
            assert "upload_bytes" in str(too_big.value.hint)

        pulled = cli("pull", cwd=other)
        assert pulled.code == 0, pulled.err
        assert pulled.err.count("downloaded ") > 1  # one line per download request
        for path, text in big.items():
            assert f"added     {path}" in pulled.out
            assert (other / path).read_text(encoding="utf-8") == text
        assert cli("pull", cwd=other).out == ""  # up to date: nothing on stdout
        status = json.loads(cli("status", "--json", cwd=other).out)
        assert status["remotes"][0]["changes"] == {"added": [], "modified": [], "deleted": []}


def test_remote_list_and_remove_keep_tokens_out_of_the_workspace(
    workspace: Path, server: EmbeddedServer, cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    add_remote(cli, monkeypatch, workspace, server)
    rows = json.loads(cli("remote", "list", "--json", cwd=workspace).out)
    assert rows == [
        {"name": "prod", "url": server.url, "in_workspace": True, "token": True,
         "deployed_version": None, "deployed_at": None}
    ]  # fmt: skip
    assert cli("remote", "remove", "prod", cwd=workspace).code == 0
    assert "remotes" not in (workspace / "caxton.toml").read_text().split("# [remotes.prod]")[-1]
    assert json.loads(cli("remote", "list", "--json", cwd=workspace).out) == []
    missing = cli("deploy", cwd=workspace)
    assert missing.code == ExitCode.USAGE and "caxton remote add" in missing.err


def test_a_wrong_token_is_refused_and_nothing_is_saved(
    workspace: Path, server: EmbeddedServer, cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = (workspace / "caxton.toml").read_text()
    monkeypatch.setattr(sys, "stdin", io.StringIO("not-a-token\n"))
    result = cli("remote", "add", "prod", server.url, "--token-stdin", cwd=workspace)
    assert result.code == ExitCode.UNAVAILABLE and "hint:" in result.err
    assert (workspace / "caxton.toml").read_text() == before


def test_quickstart_creates_serves_deploys_and_routes(tmp_path: Path, cli: Cli) -> None:
    result = cli("quickstart", "quick-demo", cwd=tmp_path)
    assert result.code == 0, result.err
    assert "deployed version 1" in result.err and "deterministic `test` model" in result.err
    for agent in ("analyst", "reviewer", "assistant"):
        assert f"routed to {agent}:" in result.out
    assert "caxton deploy --remote prod" in result.out
    again = cli("quickstart", "quick-demo", cwd=tmp_path)
    assert again.code == ExitCode.CONFLICT and "already exists" in again.err


def test_a_deploy_is_announced_on_the_event_stream_and_reloads_in_place(
    workspace: Path, server: EmbeddedServer, cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    add_remote(cli, monkeypatch, workspace, server)
    git(workspace, "commit", "-qam", "remote")
    assert cli("deploy", cwd=workspace).code == 0
    seen: list[tuple[str, dict[str, object]]] = []

    def follow() -> None:
        with Client(server.url, server.token, "demo") as client:
            for name, data in client.events():
                seen.append((name, data))
                if name == "deploy":
                    return

    reader = threading.Thread(target=follow, daemon=True)
    reader.start()
    served = server.state.workspaces["demo"]
    deadline = time.monotonic() + 10
    while served.events.subscribers == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    describe(workspace, "assistant", "Announced.")
    git(workspace, "commit", "-qam", "announce")
    assert cli("deploy", "-m", "announce", cwd=workspace).code == 0
    reader.join(10)
    deploys = [data for name, data in seen if name == "deploy"]
    assert deploys and deploys[0]["version"] == 2
    assert deploys[0]["modified"] == ["agents/assistant.toml"] and deploys[0]["who"] == "embedded"
    assert server.state.workspaces["demo"] is served  # the same workspace, its agents reloaded
    assert served.runtime is not None and served.runtime.root.name == "2"


def test_a_pull_of_a_damaged_blob_writes_nothing(
    workspace: Path,
    server: EmbeddedServer,
    tmp_path: Path,
    cli: Cli,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A server whose store hands back other bytes than the file's hash: the pull says so
    and leaves the workspace as it was."""
    add_remote(cli, monkeypatch, workspace, server)
    git(workspace, "commit", "-qam", "remote")
    assert cli("deploy", cwd=workspace).code == 0
    other = tmp_path / "other"
    git(tmp_path, "clone", "-q", str(workspace), str(other))
    describe(workspace, "assistant", "Changed before the damage.")
    git(workspace, "commit", "-qam", "changed")
    assert cli("deploy", cwd=workspace).code == 0
    digest = hashlib.sha256((workspace / "agents" / "assistant.toml").read_bytes()).hexdigest()
    (database,) = (tmp_path / "server-data").rglob(DB_FILE)
    with sqlite3.connect(database) as db:  # the disk under the server went bad
        db.execute("UPDATE blobs SET data = ? WHERE sha256 = ?", (b"garbage", digest))
    before = (other / "agents" / "assistant.toml").read_text()
    damaged = cli("pull", "--force", cwd=other)
    assert damaged.code == ExitCode.CONFLICT
    assert "not the file asked for" in damaged.err and "nothing was written" in damaged.err
    assert (other / "agents" / "assistant.toml").read_text() == before
