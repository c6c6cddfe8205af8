"""The Caxton TUI: chat with a workspace's agents and watch every step they take.

The app starts the embedded server (a thread) over the workspace, or talks to a remote, through
`Backend`; every call to it runs in a thread worker, and workers hand results back with
`call_from_thread`, so typing never waits on the network, a model or the disk. Saving a file
in the workspace reloads it.
"""

from __future__ import annotations

import gc
import threading
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any, ClassVar

from textual import on, work
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.screen import Screen
from textual.widgets import Footer, Header, Static, TabbedContent, TabPane, Tree
from textual.worker import Worker, WorkerState, get_current_worker

from caxton.errors import CaxtonError
from caxton_tui.backend import Backend, Overview
from caxton_tui.chat import ChatPane, Turn
from caxton_tui.deploy import DeployPane
from caxton_tui.help import ErrorScreen, HelpScreen
from caxton_tui.memory import MemoryPane
from caxton_tui.prompt import Prompt
from caxton_tui.sidebar import Sidebar
from caxton_tui.trace import TracePane

WATCHED = ("caxton.toml", "agents", "tools", "prompts", ".caxtonignore")


class Cancelled(Exception):
    """The user pressed escape: the stream is dropped (the server finishes the request)."""


class CaxtonApp(App[None]):
    CSS_PATH = "app.tcss"
    TITLE = "Caxton"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+q", "quit", "Quit", priority=True),
        Binding("f1", "help", "Help"),
        Binding("escape", "cancel", "Cancel"),
        # the tabs' keys come first, before the focused widget's (the prompt's ctrl+y redo)
        Binding("ctrl+o", "show_chat", "Chat", priority=True),
        Binding("ctrl+t", "show_trace", "Trace", priority=True),
        Binding("ctrl+y", "show_memory", "Memory", priority=True),
        Binding("ctrl+g", "show_deploy", "Deploy", priority=True),
        Binding("ctrl+r", "reload", "Reload"),
        Binding("ctrl+l", "clear_chat", "Clear", show=False),
        Binding("f5", "restart", "Restart server", show=False),
    ]
    HEALTH_SECONDS = 2.0  # how often the server (embedded or remote) is checked

    def __init__(self, backend: Backend, *, watch: bool = True) -> None:
        super().__init__()
        self.backend = backend
        self.watch_files = watch and backend.root is not None
        self.agent: str | None = None  # None: the router chooses
        self.conversation_id: str | None = None
        self.last_trace: str | None = None
        self.overview: Overview | None = None
        self._stop_watching = threading.Event()
        self._watching = False
        self._health: Any = None

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("", id="banner")
        with Horizontal(id="body"):
            yield Sidebar(id="sidebar")
            with TabbedContent(id="tabs"):
                with TabPane("Chat", id="chat-tab"):
                    yield ChatPane(id="chat")
                with TabPane("Trace", id="trace-tab"):
                    yield TracePane(id="trace")
                with TabPane("Memory", id="memory-tab"):
                    yield MemoryPane(id="memory")
                with TabPane("Deploy", id="deploy-tab"):
                    yield DeployPane(id="deploy")
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = (
            "starting the local server…"
            if self.backend.remote is None
            else (f"connecting to {self.backend.remote}…")
        )
        self.query_one(ChatPane).show_target("auto (the router chooses)")
        self.query_one(Prompt).focus()
        self.start_backend()

    # ----- the server ------------------------------------------------------------------------

    @work(thread=True, group="server", exit_on_error=False)
    def start_backend(self) -> None:
        self.backend.start()
        self.call_from_thread(self._started)

    def _started(self) -> None:
        self.sub_title = self.backend.label
        self._banner(None)
        self.refresh_overview()
        self.refresh_traces()
        if self.watch_files and not self._watching:
            self._watching = True
            self.watch_workspace()
        if self._health is None:
            self._health = self.set_interval(self.HEALTH_SECONDS, self.check_health)

    @work(thread=True, group="health", exclusive=True, exit_on_error=False)
    def check_health(self) -> None:
        """A server thread that died, or a remote that stopped answering, becomes a banner
        with the way back (F5); nothing crashes."""
        problem = None
        if not self.backend.alive:
            problem = "the local server stopped: press F5 to restart it"
        elif self.backend.remote is not None:
            try:
                with self.backend.client() as client:
                    client.health()
            except CaxtonError as exc:
                problem = f"{self.backend.remote} does not answer ({exc.message}): F5 retries"
        self.call_from_thread(self._banner, problem)

    def _banner(self, text: str | None) -> None:
        banner = self.query_one("#banner", Static)
        banner.update(text or "")
        banner.display = text is not None

    def action_restart(self) -> None:
        self._banner("restarting…")
        self.restart_backend()

    @work(thread=True, group="server", exclusive=True, exit_on_error=False)
    def restart_backend(self) -> None:
        self.backend.stop()
        self.backend.started.clear()
        self.backend.start()
        self.call_from_thread(self._started)

    @work(thread=True, group="overview", exclusive=True, exit_on_error=False)
    def refresh_overview(self) -> None:
        overview = self.backend.overview()
        self.call_from_thread(self._show_overview, overview)

    def _show_overview(self, overview: Overview) -> None:
        first = self.overview is None
        self.overview = overview
        if first:
            # what is alive now (modules, the runtime, the screen) lives as long as the app:
            # out of the collector's sight, a full collection no longer stalls a frame
            gc.freeze()
        self.query_one(Sidebar).show(overview)
        self.query_one(ChatPane).show_hint(agents=len(overview.agents))
        errors = [p for p in overview.problems if p.severity == "error"]
        if first and errors:
            self._notify_problems("the workspace has problems", errors)

    def _notify_problems(self, title: str, errors: list[Any]) -> None:
        first = errors[0]
        self.notify(
            f"{first.location(self.backend.root)}: {first.message}"
            + (f"\nhint: {first.hint}" if first.hint else "")
            + (f"\n(+{len(errors) - 1} more)" if len(errors) > 1 else ""),
            title=title,
            severity="error",
            timeout=8,
            markup=False,  # messages quote the files: `[parameters]` is a TOML table here
        )

    @work(thread=True, group="traces", exclusive=True, exit_on_error=False)
    def refresh_traces(self) -> None:
        executions = self.backend.traces()
        self.call_from_thread(self.query_one(TracePane).list_traces, executions)

    @work(thread=True, group="watch", exit_on_error=False)
    def watch_workspace(self) -> None:
        """Reload on every save under the workspace's deployable folders."""
        import watchfiles

        root = self.backend.root
        assert root is not None
        paths = [root / name for name in WATCHED if (root / name).exists()]

        def relevant(change: watchfiles.Change, path: str) -> bool:
            return "/.caxton/" not in path and not Path(path).name.startswith(".")

        for changes in watchfiles.watch(
            *paths, watch_filter=relevant, stop_event=self._stop_watching, debounce=50,
            step=20, raise_interrupt=False,
        ):  # fmt: skip
            self._reload_and_report(sorted({Path(p).name for _, p in changes}))

    def _reload_and_report(self, names: list[str]) -> None:
        """On a worker: reload, then the new overview (its problems are the validation)."""
        started = time.perf_counter()
        answer = self.backend.reload()
        overview = self.backend.overview()
        seconds = time.perf_counter() - started
        self.call_from_thread(self._reloaded, names, answer, overview, seconds)

    def _reloaded(
        self, names: list[str], answer: dict[str, Any], overview: Overview, seconds: float
    ) -> None:
        self._show_overview(overview)
        errors = [p for p in overview.problems if p.severity == "error"]
        if errors:
            self._notify_problems(f"reloaded {', '.join(names)}: {len(errors)} error(s)", errors)
        else:
            self.notify(
                f"{answer['agents']} agents ready ({seconds * 1000:.0f} ms)",
                title=f"reloaded {', '.join(names)}",
                timeout=3,
            )

    # ----- chat ------------------------------------------------------------------------------

    @on(TabbedContent.TabActivated)
    def _tab(self, event: TabbedContent.TabActivated) -> None:
        # the sidebar is for choosing whom to talk to; the other tabs need the width
        self.query_one(Sidebar).display = event.pane.id == "chat-tab"

    def _switch_to(self, tab: str) -> None:
        """The sidebar set first, so the chat is laid out once, at its own width (the long
        answers in it are drawn again for each new width)."""
        self.query_one(Sidebar).display = tab == "chat-tab"
        self.query_one(TabbedContent).active = tab

    @on(Sidebar.AgentChosen)
    def _agent_chosen(self, event: Sidebar.AgentChosen) -> None:
        self.agent = event.agent
        self.conversation_id = None
        self.query_one(ChatPane).show_target(event.agent or "auto (the router chooses)")
        self.query_one(Prompt).focus()

    @on(Prompt.Submitted)
    def _submitted(self, event: Prompt.Submitted) -> None:
        if not self.backend.started.is_set():
            self.notify("the server is still starting; try again in a moment", severity="warning")
            return
        turn = self.query_one(ChatPane).start_turn(event.text, self.agent or "auto")
        self.send(turn, event.text)

    @work(thread=True, group="send", exclusive=True, exit_on_error=False)
    def send(self, turn: Turn, text: str) -> None:
        worker = get_current_worker()
        pane = self.query_one(TracePane)
        live = self.call_from_thread(pane.start_live, text, self.agent or "auto")

        def on_event(name: str, data: dict[str, Any]) -> None:
            if worker.is_cancelled:
                raise Cancelled
            if name == "token":
                turn.feed(str(data.get("text", "")))  # the screen takes it on its next tick
            elif name == "tool":
                self.call_from_thread(turn.add_tool, data)
            elif name == "span":
                live.feed(data)  # the Trace tab draws the running request's tree

        try:
            result = self.backend.send(
                text, agent=self.agent, conversation_id=self.conversation_id, on_event=on_event
            )
        except Cancelled:
            self.call_from_thread(turn.cancelled)
            self.call_from_thread(pane.end_live, live, "cancelled")
            return
        except CaxtonError as exc:
            self.call_from_thread(turn.fail, exc.message, exc.hint)
            self.call_from_thread(pane.end_live, live, "failed")
            return
        self.conversation_id = result.get("conversation_id")
        self.last_trace = result.get("trace_id")
        self.call_from_thread(turn.finish, result)
        if not self.last_trace:
            self.call_from_thread(pane.end_live, live, "done (no trace)")
            return
        try:
            saved = self.backend.trace(self.last_trace)
        except CaxtonError:
            self.call_from_thread(pane.end_live, live, "done (its trace could not be read)")
            raise
        self.call_from_thread(pane.show, saved)
        self.call_from_thread(pane.list_traces, self.backend.traces())

    def action_cancel(self) -> None:
        running = [w for w in self.workers if w.group == "send" and w.is_running]
        for worker in running:
            worker.cancel()
        if running:
            self.notify("cancelled: the answer stops here", timeout=2)

    # ----- traces ----------------------------------------------------------------------------

    @on(TracePane.TraceChosen)
    def _trace_chosen(self, event: TracePane.TraceChosen) -> None:
        self.load_trace(event.trace_id)

    @work(thread=True, group="trace", exclusive=True, exit_on_error=False)
    def load_trace(self, trace_id: str) -> None:
        trace = self.backend.trace(trace_id)
        self.call_from_thread(self.query_one(TracePane).show, trace)

    # ----- actions ---------------------------------------------------------------------------

    def action_help(self) -> None:
        self.push_screen(HelpScreen())

    def action_show_chat(self) -> None:
        self._switch_to("chat-tab")
        self.query_one(Prompt).focus()

    def action_show_trace(self) -> None:
        # focus moves with the tab: focus left in the chat would bring the chat tab back
        self._switch_to("trace-tab")
        self.query_one("#spans", Tree).focus()

    def action_show_memory(self) -> None:
        self._switch_to("memory-tab")
        self.query_one(MemoryPane).focus_search()

    def action_show_deploy(self) -> None:
        self._switch_to("deploy-tab")
        first = next((w for w in self.query_one(DeployPane).query("*") if w.focusable), None)
        if first is not None:
            first.focus()

    def action_reload(self) -> None:
        if self.backend.started.is_set():
            self.reload_now()

    @work(thread=True, group="reload", exclusive=True, exit_on_error=False)
    def reload_now(self) -> None:
        self._reload_and_report(["workspace"])

    def action_clear_chat(self) -> None:
        for turn in self.query(Turn):
            turn.remove()
        self.conversation_id = None

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        for title, help_text, action in (
            ("Chat", "Show the chat (ctrl+o)", self.action_show_chat),
            ("Trace", "Show the last request's trace (ctrl+t)", self.action_show_trace),
            ("Memory", "Search the workspace's memory (ctrl+y)", self.action_show_memory),
            (
                "Deploy",
                "The plan against a remote, deploy, history, rollback (ctrl+g)",
                self.action_show_deploy,
            ),
            ("Reload", "Read the workspace's files again (ctrl+r)", self.action_reload),
            ("Clear chat", "Start a new conversation (ctrl+l)", self.action_clear_chat),
            ("Cancel", "Stop the running request (escape)", self.action_cancel),
            ("Help", "Keys and badges (f1)", self.action_help),
            (
                "Restart server",
                "Start the local server again, or retry the remote (f5)",
                self.action_restart,
            ),
        ):
            yield SystemCommand(title, help_text, action)
        for row in self.overview.agents if self.overview else ():
            yield SystemCommand(
                f"Talk to {row.name}",
                row.description or ", ".join(row.capabilities),
                lambda name=row.name: self.post_message(Sidebar.AgentChosen(name)),
            )

    # ----- errors and the end ----------------------------------------------------------------

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state != WorkerState.ERROR:
            return
        error = event.worker.error
        if event.worker.group == "server":
            self.sub_title = "the server did not start"
        if isinstance(error, CaxtonError):
            self.push_screen(ErrorScreen(error.message, error.hint))
        else:
            self.push_screen(
                ErrorScreen(
                    f"internal error: {type(error).__name__}: {error}",
                    "this is a bug in Caxton; please report it",
                )
            )

    def on_unmount(self) -> None:
        self._stop_watching.set()
        self.backend.stop()


def make_app(
    root: Path | None, *, remote: str | None = None, model: str | None = None, watch: bool = True
) -> CaxtonApp:
    """The app over the workspace at `root` (embedded server) or a remote (tests reuse it)."""
    return CaxtonApp(Backend(root, remote=remote, model=model), watch=watch)


def run(root: Path | None, *, remote: str | None = None, model: str | None = None) -> None:
    make_app(root, remote=remote, model=model).run()
