"""Snapshots of the TUI's screens over fixed data (`FixedBackend`): the main screen, a workspace
problem, a workspace without agents, an answer with its tool calls, a tool call unfolded, the
trace, memory search results, the deploy plan with a file's diff, help and an error."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

from textual.command import CommandList, CommandPalette
from textual.containers import VerticalScroll
from textual.pilot import Pilot
from textual.widgets import DataTable, Input, OptionList, Static, Tree
from textual.widgets.tree import TreeNode
from textual.worker import WorkerFailed

from caxton_tui.app import CaxtonApp
from caxton_tui.deploy import DeployPane
from caxton_tui.help import ErrorScreen, HelpScreen
from caxton_tui.memory import MemoryPane
from caxton_tui.prompt import Prompt

SIZE = (120, 40)
REQUEST = "describe the numbers 3, 5 and 8"  # what FixedBackend's recorded answer answers
SEARCH = "report naming"  # what FixedBackend's recorded memory hits were found for

SnapCompare = Callable[..., bool]


def steady(pilot: Pilot[None]) -> None:
    """The prompt's cursor shown, not blinking: a blinking cursor is drawn or not depending on
    when the screenshot falls (snap_compare does not stop a TextArea's blink)."""
    pilot.app.query_one(Prompt).cursor_blink = False


async def settle(pilot: Pilot[None]) -> None:
    """Wait until no worker runs: a worker's result may start the next one."""
    for _ in range(20):
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()
        if not any(worker.is_running for worker in pilot.app.workers):
            return
    raise AssertionError("the workers never finished")


async def started(pilot: Pilot[None], *, notes: bool = False) -> None:
    """The backend started and the sidebar filled; the start's toast dropped unless `notes`."""
    steady(pilot)
    await settle(pilot)
    if not notes:
        pilot.app.clear_notifications()
        await pilot.pause()


async def scroll_chat(pilot: Pilot[None], *, to_end: bool) -> None:
    """The chat scrolled to one end. Where it stops by itself depends on timing: the app
    scrolls to the end once, when the turn is mounted, and the answer streams in after."""
    turns = pilot.app.query_one("#turns", VerticalScroll)
    if to_end:
        turns.scroll_end(animate=False, immediate=True)
    else:
        turns.scroll_home(animate=False, immediate=True)
    await pilot.pause()


async def answered(pilot: Pilot[None]) -> None:
    """A request typed and sent from the prompt, its answer streamed to the end, and the chat
    scrolled to that end."""
    await started(pilot)
    pilot.app.query_one(Prompt).insert(REQUEST)
    await pilot.press("enter")
    await settle(pilot)
    await scroll_chat(pilot, to_end=True)


def span_node(node: TreeNode[dict[str, Any]], name: str) -> TreeNode[dict[str, Any]]:
    """The first node under `node` (depth first) whose span has this name."""
    for child in node.children:
        if child.data is not None and child.data["name"] == name:
            return child
        try:
            return span_node(child, name)
        except LookupError:
            continue
    raise LookupError(name)


class TestMain:
    def test_after_start(self, app: CaxtonApp, snap_compare: SnapCompare) -> None:
        assert snap_compare(app, terminal_size=SIZE, run_before=started)

    def test_workspace_problem_is_notified(self, app: CaxtonApp, snap_compare: SnapCompare) -> None:
        async def run_before(pilot: Pilot[None]) -> None:
            await started(pilot, notes=True)
            assert [n.title for n in pilot.app._notifications] == ["the workspace has problems"]

        assert snap_compare(app, terminal_size=SIZE, run_before=run_before)

    def test_empty_workspace_says_how_to_add_an_agent(
        self, empty_app: CaxtonApp, snap_compare: SnapCompare
    ) -> None:
        async def run_before(pilot: Pilot[None]) -> None:
            await started(pilot, notes=True)
            assert not pilot.app._notifications  # no problem to report
            note = pilot.app.query_one("#no-agents", Static)
            assert note.display and "caxton init NAME -t TEMPLATE" in str(note.render())

        assert snap_compare(empty_app, terminal_size=SIZE, run_before=run_before)


class TestChat:
    def test_answer_streaming(self, streaming_app: CaxtonApp, snap_compare: SnapCompare) -> None:
        async def run_before(pilot: Pilot[None]) -> None:
            await started(pilot)
            pilot.app.query_one(Prompt).insert(REQUEST)
            await pilot.press("enter")
            backend = pilot.app.backend
            while not backend.held.is_set():
                await pilot.pause(0.01)
            await pilot.pause(0.2)  # the screen's tick shows what arrived
            await scroll_chat(pilot, to_end=True)

        assert snap_compare(streaming_app, terminal_size=SIZE, run_before=run_before)

    def test_answer_with_folded_tool_calls(self, app: CaxtonApp, snap_compare: SnapCompare) -> None:
        assert snap_compare(app, terminal_size=SIZE, run_before=answered)

    def test_answer_in_the_light_theme(self, app: CaxtonApp, snap_compare: SnapCompare) -> None:
        async def run_before(pilot: Pilot[None]) -> None:
            pilot.app.theme = "textual-light"
            await answered(pilot)

        assert snap_compare(app, terminal_size=SIZE, run_before=run_before)

    def test_tool_call_unfolded(self, app: CaxtonApp, snap_compare: SnapCompare) -> None:
        async def run_before(pilot: Pilot[None]) -> None:
            await answered(pilot)
            pilot.app.query("CollapsibleTitle")[1].focus()  # the `stats` call
            await pilot.press("enter")
            await scroll_chat(pilot, to_end=False)

        assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


class TestTrace:
    def test_spans_with_one_selected(self, app: CaxtonApp, snap_compare: SnapCompare) -> None:
        async def run_before(pilot: Pilot[None]) -> None:
            await answered(pilot)
            await pilot.press("ctrl+t")
            tree: Tree[dict[str, Any]] = pilot.app.query_one("#spans", Tree)
            tree.focus()
            tree.move_cursor(span_node(tree.root, "execute_tool stats"))
            await pilot.pause()

        assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


class TestMemory:
    def test_search_results_with_an_entity_open(
        self, app: CaxtonApp, snap_compare: SnapCompare
    ) -> None:
        async def run_before(pilot: Pilot[None]) -> None:
            await started(pilot)
            await pilot.press("ctrl+y")
            pilot.app.query_one("#memory-query", Input).value = SEARCH
            await pilot.press("enter")
            await settle(pilot)
            pane = pilot.app.query_one(MemoryPane)
            assert pane.state == "results" and len(pane.results) == 6
            results = pilot.app.query_one("#memory-results", OptionList)
            results.focus()  # off the search box: its cursor blinks
            results.highlighted = 0
            await pilot.press("enter")
            await settle(pilot)
            assert pane.entity is not None and pane.entity["name"] == "report naming"

        assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


class TestDeploy:
    def test_plan_with_a_file_diff(self, app: CaxtonApp, snap_compare: SnapCompare) -> None:
        async def run_before(pilot: Pilot[None]) -> None:
            await started(pilot)
            await pilot.press("ctrl+g")
            await settle(pilot)
            pane = pilot.app.query_one(DeployPane)
            assert pane.plan is not None and pane.remote == "prod" and len(pane.history) == 4
            files = pilot.app.query_one("#plan-files", OptionList)
            files.focus()
            files.highlighted = 1  # the modified agent
            await settle(pilot)
            assert pane.diff.startswith("--- agents/analyst.toml (version 4, live)")
            history = pilot.app.query_one("#history", DataTable)
            when = list(history.columns.values())[1]
            for _ in range(100):  # the table sizes its columns to the rows a little later
                if when.content_width >= len("2026-12-05 16:42:10"):
                    break
                await pilot.pause(0.01)
            await pilot.pause()

        assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


class TestModals:
    def test_help(self, app: CaxtonApp, snap_compare: SnapCompare) -> None:
        async def run_before(pilot: Pilot[None]) -> None:
            await started(pilot)
            await pilot.press("f1")
            assert isinstance(pilot.app.screen, HelpScreen)

        assert snap_compare(app, terminal_size=SIZE, run_before=run_before)

    def test_command_palette_finds_an_agent(
        self, app: CaxtonApp, snap_compare: SnapCompare
    ) -> None:
        async def run_before(pilot: Pilot[None]) -> None:
            await started(pilot)
            await pilot.press("ctrl+p")
            assert isinstance(pilot.app.screen, CommandPalette)
            pilot.app.screen.query_one(Input).cursor_blink = False
            await pilot.press(*"talk")
            for _ in range(50):  # the palette searches as you type, a little later
                await pilot.pause(0.02)
                if pilot.app.screen.query_one(CommandList).option_count == 3:
                    break
            await pilot.pause(0.1)

        assert snap_compare(app, terminal_size=SIZE, run_before=run_before)

    def test_error_when_the_server_cannot_start(
        self, unreachable_app: CaxtonApp, snap_compare: SnapCompare
    ) -> None:
        async def run_before(pilot: Pilot[None]) -> None:
            steady(pilot)
            with contextlib.suppress(WorkerFailed):  # the server worker fails: that is the point
                await pilot.app.workers.wait_for_complete()
            await pilot.pause()
            assert isinstance(pilot.app.screen, ErrorScreen)
            assert pilot.app.sub_title == "the server did not start"

        assert snap_compare(unreachable_app, terminal_size=SIZE, run_before=run_before)
