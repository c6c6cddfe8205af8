"""The deploy pane driven by a Textual pilot against a real server (the embedded one, serving
deployed workspaces only): plan, diff, deploy, history, rollback, and refusals."""

from __future__ import annotations

import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from textual.app import App, ComposeResult
from textual.pilot import Pilot
from textual.widgets import Button, DataTable, Input, OptionList, Static, TabbedContent, TabPane
from textual.worker import Worker, WorkerState

from caxton.client import Client
from caxton.deploy.manifest import build
from caxton.remotes import Remote, save_remote
from caxton.server.embedded import EmbeddedServer, start_embedded
from caxton.workspace.scaffold import create_workspace
from caxton_tui.backend import Backend
from caxton_tui.deploy import DeployPane
from tests.tui.test_app import synchronously, until

SIZE = (120, 50)
NAME = "deploy-demo"
GIT = ["git", "-c", "user.name=T", "-c", "user.email=t@localhost"]


class Host(App[None]):
    """The smallest app the pane lives in: it only needs `backend.root`. A worker that fails
    (a bug: the pane catches every CaxtonError) is kept to fail the test."""

    def __init__(self, root: Path, *, tabbed: bool = False) -> None:
        super().__init__()
        self.backend = Backend(root, model="test")
        self.failures: list[BaseException | None] = []
        self.tabbed = tabbed  # the pane behind a tab, as in the TUI

    def compose(self) -> ComposeResult:
        if not self.tabbed:
            yield DeployPane(id="deploy")
            return
        with TabbedContent(id="tabs"):
            with TabPane("Chat", id="chat-tab"):
                yield Static("chat")
            with TabPane("Deploy", id="deploy-tab"):
                yield DeployPane(id="deploy")

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state == WorkerState.ERROR:
            self.failures.append(event.worker.error)


def git(root: Path, *args: str) -> str:
    done = subprocess.run([*GIT, "-C", str(root), *args], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return done.stdout


def commit(root: Path) -> None:
    git(root, "add", "-A")
    git(root, "commit", "-qm", "x")


def add_remote(root: Path, url: str, token: str) -> None:
    save_remote(Remote("prod", url, token, None))
    path = root / "caxton.toml"
    path.write_text(path.read_text() + f'\n[remotes.prod]\nurl = "{url}"\n')


@pytest.fixture
def server(tmp_path: Path) -> Iterator[EmbeddedServer]:
    with start_embedded(None, data_dir=tmp_path / "srv", model="test") as running:
        yield running


@pytest.fixture
def root(tmp_path: Path) -> Path:
    folder = tmp_path / NAME
    create_workspace(folder)
    return folder


async def idle(app: Host, pilot: Pilot[None]) -> None:
    """Every worker done and every message they posted handled (handlers start workers)."""
    for _ in range(400):
        await app.workers.wait_for_complete()
        await pilot.pause()
        if not any(w.state in (WorkerState.PENDING, WorkerState.RUNNING) for w in app.workers):
            assert not app.failures, app.failures
            return
    raise AssertionError("the workers did not settle")


def notes(app: App[None]) -> list[str]:
    return [n.message for n in app._notifications]


def text_of(pane: Any, selector: str) -> str:
    return str(pane.query_one(selector, Static).render())


def live_history(server: EmbeddedServer) -> list[dict[str, Any]]:
    with Client(server.url, server.token, NAME) as client:
        deployments: list[dict[str, Any]] = client.get("deployments")["deployments"]
        return deployments


@synchronously
async def test_plan_deploy_diff_deploy_and_roll_back(root: Path, server: EmbeddedServer) -> None:
    add_remote(root, server.url, server.token)
    commit(root)
    app = Host(root)
    async with app.run_test(size=SIZE) as pilot:
        pane = app.query_one(DeployPane)
        await until(lambda: pane.plan is not None, "the first plan")
        await idle(app, pilot)
        assert pane.plan.live_version == 0
        assert pane.plan.changes.added == ("agents/assistant.toml", "caxton.toml")
        assert set(pane.plan.changes.added) == set(build(root).files)
        assert not pane.plan.changes.modified and not pane.plan.changes.deleted
        files = pane.query_one("#plan-files", OptionList)
        shown = [str(files.get_option_at_index(i).prompt) for i in range(files.option_count)]
        assert shown == ["+ agents/assistant.toml", "+ caxton.toml"]
        assert "2 file(s)" in text_of(pane, "#deploy-status")
        assert pane.history == []

        pane.deploy("first")
        await until(lambda: pane.last_deployment is not None, "the first deploy")
        await idle(app, pilot)
        assert pane.last_deployment["version"] == 1
        assert any(line.startswith("plan: 2 added") for line in pane.progress)
        assert any(line.startswith("applying version 1") for line in pane.progress)
        assert "deployed version 1 of 'deploy-demo' to prod" in text_of(pane, "#deploy-progress")
        assert [d["version"] for d in pane.history] == [1]
        assert pane.history[0]["message"] == "first"
        assert pane.plan.same
        table = pane.query_one("#history", DataTable)
        assert table.row_count == 1 and table.get_row_at(0)[5] == "first"

        agent = root / "agents" / "assistant.toml"
        agent.write_text(
            agent.read_text().replace('version = "0.1.0"', 'version = "0.2.0"', 1), "utf-8"
        )
        commit(root)
        pane.refresh_plan()
        await until(lambda: pane.plan is not None and not pane.plan.same, "the second plan")
        assert pane.plan.changes.modified == ("agents/assistant.toml",)
        assert "~ agents/assistant.toml" in str(files.get_option_at_index(0).prompt)
        files.highlighted = None
        files.highlighted = 0
        await until(lambda: "@@" in pane.diff, "the diff")
        assert '-version = "0.1.0"' in pane.diff.splitlines()
        assert '+version = "0.2.0"' in pane.diff.splitlines()
        assert '+version = "0.2.0"' in text_of(pane, "#file-diff")

        pane.query_one("#deploy-message", Input).value = "two"  # the buttons this time
        await pilot.click("#deploy-button")
        await until(lambda: pane.last_deployment["version"] == 2, "the second deploy")
        await idle(app, pilot)
        assert pane.last_deployment["changes"]["modified"] == ["agents/assistant.toml"]
        assert [(d["version"], d["message"]) for d in pane.history] == [(2, "two"), (1, "first")]
        assert pane.history[0]["commit"] == git(root, "rev-parse", "HEAD").strip()
        assert table.get_row_at(0)[3] == git(root, "rev-parse", "HEAD").strip()[:10]

        rollback = pane.query_one("#rollback-button", Button)
        assert str(rollback.label) == "Rollback to v1"  # the version before the live one
        table.move_cursor(row=0)
        await pilot.pause()
        assert str(rollback.label) == "v2 is live" and rollback.disabled
        table.move_cursor(row=1)  # version 1
        await pilot.pause()
        assert str(rollback.label) == "Rollback to v1" and not rollback.disabled
        await pilot.click("#rollback-button")
        await until(lambda: pane.last_deployment["version"] == 3, "the rollback")
        await idle(app, pilot)
        versions = {d["version"]: d for d in pane.history}
        assert list(versions) == [3, 2, 1]
        assert versions[3]["kind"] == "rollback" and versions[3]["rollback_of"] == 1
        assert versions[3]["root"] == versions[1]["root"]
        assert pane.plan.changes.modified == ("agents/assistant.toml",)  # here: version 2
        assert not [n for n in app._notifications if n.severity == "error"]


@synchronously
async def test_an_invalid_agent_is_refused_with_its_location(
    root: Path, server: EmbeddedServer
) -> None:
    add_remote(root, server.url, server.token)
    agent = root / "agents" / "assistant.toml"
    agent.write_text("name = = broken\n" + agent.read_text())
    commit(root)
    app = Host(root)
    async with app.run_test(size=SIZE) as pilot:
        pane = app.query_one(DeployPane)
        await until(lambda: pane.plan is not None, "the plan")
        pane.deploy()
        await until(lambda: any("refused" in line for line in pane.progress), "the refusal")
        await idle(app, pilot)
        assert any(line.strip().startswith("agents/assistant.toml:1:") for line in pane.progress)
        await until(lambda: any("agents/assistant.toml:1:" in n for n in notes(app)), "a note")
        assert "agents/assistant.toml:1:" in text_of(pane, "#deploy-progress")
        assert pane.last_deployment is None and not pane.busy
    assert live_history(server) == []


@synchronously
async def test_a_missing_commit_and_a_silent_server_are_said_with_their_hint(
    root: Path,
) -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{probe.getsockname()[1]}"
    add_remote(root, url, "not-a-token")
    app = Host(root, tabbed=True)
    async with app.run_test(size=SIZE) as pilot:
        pane = app.query_one(DeployPane)
        await until(lambda: pane.remote == "prod", "the remotes")
        await idle(app, pilot)
        assert not notes(app)  # a hidden pane asks the remote nothing
        app.query_one(TabbedContent).active = "deploy-tab"
        await until(lambda: "does not answer" in text_of(pane, "#deploy-status"), "the line")
        assert "hint: " in text_of(pane, "#deploy-status")
        await until(  # notifications arrive as messages, after the line
            lambda: any("does not answer" in n and "\nhint: " in n for n in notes(app)), "a note"
        )
        pane.deploy()  # no commit yet: refused before the network
        await until(lambda: any("no commit yet" in n for n in notes(app)), "the git error")
        await idle(app, pilot)
        assert pane.plan is None and pane.last_deployment is None


@synchronously
async def test_no_remote_shows_how_to_add_one(root: Path) -> None:
    app = Host(root)
    async with app.run_test(size=SIZE) as pilot:
        pane = app.query_one(DeployPane)
        await idle(app, pilot)
        empty = pane.query_one("#deploy-empty", Static)
        assert pane.has_class("-empty") and empty.display
        assert "`caxton remote add prod URL`" in text_of(pane, "#deploy-empty")
        assert not pane.query_one("#deploy-body").display
        assert pane.refresh_plan() is None and pane.deploy() is None
        await until(lambda: any("caxton remote add prod URL" in n for n in notes(app)), "a note")


@synchronously
async def test_deploy_to_a_caxton_serve_process_and_see_it_live(root: Path, tmp_path: Path) -> None:
    from tests.server.test_deploy_faults import start_server

    serve = start_server(tmp_path / "serve-data", tmp_path / "serve.log", home=tmp_path / "h")
    try:
        add_remote(root, serve.url, serve.token)
        commit(root)
        app = Host(root)
        async with app.run_test(size=SIZE) as pilot:
            pane = app.query_one(DeployPane)
            await until(lambda: pane.plan is not None, "the plan")
            await idle(app, pilot)
            pane.deploy("from the TUI")
            await until(lambda: pane.last_deployment is not None, "the deploy")
            await idle(app, pilot)
            assert pane.last_deployment["version"] == 1
            assert [d["message"] for d in pane.history] == ["from the TUI"]
        with serve.client(NAME) as client:
            assert [a["name"] for a in client.agents()] == ["assistant"]
            assert client.get("deploy")["live"]["message"] == "from the TUI"
        assert serve.stop() == 0
    finally:
        serve.kill()
