"""The TUI driven by a Textual pilot against the real embedded server over a real workspace
(the `test` model answers): send and see the answer and its trace, reload on save, errors."""

from __future__ import annotations

import asyncio
import functools
import threading
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import pytest
from textual.widgets import TabbedContent, Tree

from caxton.workspace.scaffold import create_agent, create_workspace
from caxton_tui.app import CaxtonApp, make_app
from caxton_tui.chat import Turn
from caxton_tui.help import ErrorScreen, HelpScreen
from caxton_tui.prompt import Prompt
from caxton_tui.sidebar import Sidebar

SIZE = (120, 40)


def synchronously(test: Callable[..., Coroutine[Any, Any, None]]) -> Callable[..., None]:
    """Run an async test on its own event loop (no pytest async plugin needed)."""

    @functools.wraps(test)
    def run(*args: Any, **kwargs: Any) -> None:
        asyncio.run(test(*args, **kwargs))

    return run


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    root = tmp_path / "demo"
    create_workspace(root)
    create_agent(root, "analyst", "data-analyzer")
    return root


async def started(app: CaxtonApp) -> None:
    for _ in range(400):
        if app.backend.started.is_set() and app.overview is not None:
            return
        await asyncio.sleep(0.025)
    raise AssertionError("the server did not start")


async def until(condition: object, what: str) -> None:
    for _ in range(400):
        if callable(condition) and condition():
            return
        await asyncio.sleep(0.025)
    raise AssertionError(f"timed out waiting for {what}")


@synchronously
async def test_send_a_message_and_see_the_answer_and_its_trace(workspace: Path) -> None:
    app = make_app(workspace, model="test", watch=False)
    async with app.run_test(size=SIZE) as pilot:
        await started(app)
        names = [row.name for row in app.overview.agents] if app.overview else []
        assert names == ["analyst", "assistant"]
        prompt = app.query_one(Prompt)
        prompt.focus()
        prompt.insert("describe the numbers 3, 5 and 8")
        await pilot.press("enter")
        await until(lambda: app.last_trace is not None, "the answer")
        await app.workers.wait_for_complete()
        await pilot.pause()
        turn = app.query_one(Turn)
        assert turn.text.startswith("[test model]")
        assert "deterministic test model" in str(turn.query_one(".who").render())
        assert turn.query(".tools Collapsible")  # the tool calls, folded
        await pilot.press("ctrl+t")
        await pilot.pause()
        assert app.query_one(TabbedContent).active == "trace-tab"
        tree = app.query_one("#spans", Tree)
        labels: list[str] = []
        pending = list(tree.root.children)
        while pending:
            node = pending.pop()
            labels.append(str(node.label))
            pending += node.children
        assert any("execute_tool" in label for label in labels)
        assert any(" ms" in label and "tok" in label for label in labels)  # an LLM call
        assert prompt.sent == ["describe the numbers 3, 5 and 8"]
    assert app.backend.server is None  # quitting stopped the embedded server


@synchronously
async def test_the_tab_keys_work_from_the_prompt(workspace: Path) -> None:
    """ctrl+y is the prompt's redo too: the app's tab keys come first."""
    app = make_app(workspace, model="test", watch=False)
    async with app.run_test(size=SIZE) as pilot:
        await started(app)
        tabs = app.query_one(TabbedContent)
        for key, tab in (("ctrl+y", "memory-tab"), ("ctrl+o", "chat-tab"),
                         ("ctrl+g", "deploy-tab"), ("ctrl+o", "chat-tab"),
                         ("ctrl+t", "trace-tab"), ("ctrl+o", "chat-tab")):  # fmt: skip
            await pilot.press(key)
            await pilot.pause()
            assert tabs.active == tab, key
            assert app.focused is not None and tab.removesuffix("-tab") in _ancestry(app.focused)
        assert isinstance(app.focused, Prompt)


def _ancestry(widget: Any) -> str:
    """The ids of a widget and its ancestors, for "is the focus in this pane"."""
    return " ".join(str(node.id) for node in widget.ancestors_with_self)


@synchronously
async def test_saving_a_file_reloads_and_a_broken_one_shows_its_location(
    workspace: Path,
) -> None:
    app = make_app(workspace, model="test", watch=True)
    async with app.run_test(size=SIZE):
        await started(app)
        await asyncio.sleep(0.3)  # the watcher is running
        agent = workspace / "agents" / "assistant.toml"
        text = agent.read_text()
        agent.write_text(text.replace('description = "', 'description = "Edited. ', 1))
        await until(
            lambda: (
                app.overview is not None
                and any(r.description.startswith("Edited.") for r in app.overview.agents)
            ),
            "the reload",
        )
        agent.write_text("name = = broken\n" + text)
        await until(
            lambda: app.overview is not None and any(not r.valid for r in app.overview.agents),
            "the broken agent",
        )
        await until(
            lambda: any("agents/assistant.toml:1:" in n.message for n in app._notifications),
            "the located problem",
        )
        analyst = [r for r in app.overview.agents if r.name == "analyst"] if app.overview else []
        assert analyst and analyst[0].valid  # the others keep working


@synchronously
async def test_help_and_errors_are_modals(workspace: Path) -> None:
    app = make_app(workspace, model="test", watch=False)
    async with app.run_test(size=SIZE) as pilot:
        await started(app)
        await pilot.press("f1")
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape")
        assert not isinstance(app.screen, HelpScreen)


@synchronously
async def test_a_broken_workspace_file_is_shown_located(tmp_path: Path) -> None:
    root = tmp_path / "broken"
    create_workspace(root)
    (root / "caxton.toml").write_text("[workspace\n")
    app = make_app(root, model="test", watch=False)
    async with app.run_test(size=SIZE):
        await until(
            lambda: any(n.message.startswith("caxton.toml:1:") for n in app._notifications),
            "the located problem",
        )  # the notification is delivered as a message, after the overview is shown


@synchronously
async def test_a_remote_that_cannot_be_reached_is_an_error_modal(workspace: Path) -> None:
    app = make_app(workspace, remote="nowhere", watch=False)
    async with app.run_test(size=SIZE) as pilot:
        await until(lambda: isinstance(app.screen, ErrorScreen), "the error modal")
        await pilot.pause()
        assert "did not start" in app.sub_title
        assert "nowhere" in app.screen.message and app.screen.hint


def test_quitting_leaves_no_thread_behind(workspace: Path) -> None:
    before = {t.ident for t in threading.enumerate()}

    async def go() -> None:
        app = make_app(workspace, model="test", watch=True)
        async with app.run_test(size=SIZE):
            await started(app)

    asyncio.run(go())
    for _ in range(100):
        left = [t for t in threading.enumerate() if t.ident not in before and t.is_alive()]
        if not left:
            break
        threading.Event().wait(0.05)
    assert not left, [t.name for t in left]


@synchronously
async def test_a_server_that_dies_is_a_banner_and_f5_brings_it_back(workspace: Path) -> None:
    app = make_app(workspace, model="test", watch=False)
    app.HEALTH_SECONDS = 0.1
    async with app.run_test(size=SIZE) as pilot:
        await started(app)
        first = app.backend.server
        assert first is not None
        first._server.should_exit = True  # the server thread ends, as if it crashed
        banner = app.query_one("#banner")
        await until(lambda: banner.display, "the banner")
        assert "F5" in str(banner.render())
        await pilot.press("f5")
        await until(lambda: app.backend.server is not first and app.backend.alive, "a restart")
        await until(lambda: not banner.display, "the banner to go")
        assert app.overview is not None and app.overview.agents


@synchronously
async def test_a_request_stopped_at_a_limit_says_so(workspace: Path) -> None:
    agent = workspace / "agents" / "analyst.toml"
    agent.write_text(agent.read_text().replace("max_tool_calls = 30", "max_tool_calls = 2"))
    app = make_app(workspace, model="test", watch=False)
    async with app.run_test(size=SIZE) as pilot:
        await started(app)
        app.post_message(Sidebar.AgentChosen("analyst"))
        await until(lambda: app.agent == "analyst", "the agent chosen")
        app.query_one(Prompt).insert("describe 3, 5 and 8")
        await pilot.press("enter")
        await until(lambda: app.last_trace is not None, "the answer")
        await app.workers.wait_for_complete()
        await pilot.pause()
        who = str(app.query_one(Turn).query_one(".who").render())
        assert who.startswith("analyst stopped (max_tool_calls)"), who
        assert "more than 2 tool calls" in who
