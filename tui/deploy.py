"""The deploy pane: choose a remote, see the plan as a file diff (and any file's unified diff
against the live version), deploy with progress, browse the history and roll back.

Every step is the one `caxton deploy`, `caxton log` and `caxton rollback` take, reached
through the app's `Backend`; they run in thread workers, which hand their results to this
pane's handlers with `call_from_thread` and never touch a widget.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal, ScrollableContainer, Vertical, VerticalScroll
from textual.widgets import Button, DataTable, Input, Label, OptionList, Select, Static
from textual.widgets.option_list import Option
from textual.worker import Worker, WorkerState, get_current_worker

from caxton.errors import CaxtonError
from caxton_tui.backend import Backend, DeployPlan

HISTORY_LIMIT = 50
EMPTY = (
    "No remote yet. Add one with `caxton remote add prod URL` (it asks for the server's "
    "token), then press Plan."
)
NO_WORKSPACE = "Deploying works on a workspace folder: start `caxton tui` inside one."
MARKS = {"added": ("+", "green"), "modified": ("~", "yellow"), "deleted": ("-", "red")}
ACTION = "deploy-action"  # the group of the workers that change the remote


class DeployPane(Vertical):
    DEFAULT_CSS = """
    DeployPane { height: 1fr; padding: 0 1; }
    DeployPane #deploy-controls { height: auto; }
    DeployPane #deploy-controls Button { margin-left: 1; }
    DeployPane #deploy-remote { width: 28; }
    DeployPane #deploy-message { width: 1fr; }
    DeployPane #deploy-empty { display: none; padding: 1 0; }
    DeployPane.-empty #deploy-empty { display: block; }
    DeployPane.-empty #deploy-body { display: none; }
    DeployPane.-empty #deploy-controls Button, DeployPane.-empty #deploy-message {
        display: none;
    }
    DeployPane #deploy-body { height: 1fr; }
    DeployPane #deploy-status { height: auto; margin: 0 0 1 0; }
    DeployPane #plan-row { height: 1fr; min-height: 5; }
    DeployPane #plan-files { width: 40%; height: 1fr; }
    DeployPane #file-diff-box { width: 1fr; height: 1fr; padding: 0 1; }
    DeployPane #file-diff { width: auto; }
    DeployPane #deploy-progress-box { height: auto; max-height: 7; }
    DeployPane #deploy-progress { color: $text-muted; }
    DeployPane #history-row { height: auto; }
    DeployPane #history-row Label { width: 1fr; padding-top: 1; }
    DeployPane #history { height: 9; }
    DeployPane .section { text-style: bold; color: $text-accent; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.plan: DeployPlan | None = None
        self.history: list[dict[str, Any]] = []
        self.progress: list[str] = []
        self.last_deployment: dict[str, Any] | None = None
        self.diff = ""  # the last diff shown, as plain text
        self.remote: str | None = None  # the chosen remote's name
        self.remotes: list[str] = []
        self.chosen_version: int | None = None  # the history row selected
        self.busy = False  # a deploy or rollback is running
        self.shown = False  # nothing touches the network before the tab is first opened

    @property
    def backend(self) -> Backend:
        backend = getattr(self.app, "backend", None)
        assert isinstance(backend, Backend), "DeployPane needs an app with a `backend`"
        return backend

    @property
    def root(self) -> Path | None:
        root: Path | None = self.backend.root
        return root

    def compose(self) -> ComposeResult:
        with Horizontal(id="deploy-controls"):
            yield Select[str]([], prompt="remote", id="deploy-remote")
            yield Button("Plan", id="plan-button")
            yield Input(placeholder="deploy message (optional)", id="deploy-message")
            yield Button("Deploy", id="deploy-button", variant="primary")
        yield Static(EMPTY, id="deploy-empty", markup=False)
        with Vertical(id="deploy-body"):
            yield Static("", id="deploy-status", markup=False)
            with Horizontal(id="plan-row"):
                yield OptionList(id="plan-files")
                with ScrollableContainer(id="file-diff-box"):  # long lines scroll, not wrap
                    yield Static("select a file to see its diff", id="file-diff", markup=False)
            with VerticalScroll(id="deploy-progress-box"):
                yield Static("", id="deploy-progress", markup=False)
            with Horizontal(id="history-row"):
                yield Label("History", classes="section", id="history-title")
                yield Button("Rollback", id="rollback-button", disabled=True)
            yield DataTable(id="history", cursor_type="row", zebra_stripes=True)

    def on_mount(self) -> None:
        table = self.query_one("#history", DataTable)
        table.add_columns("version", "when (UTC)", "who", "commit", "changes", "message")
        self.add_class("-empty")
        if self.root is None:
            self.query_one("#deploy-empty", Static).update(NO_WORKSPACE)
            return
        self.load_remotes()

    def on_show(self) -> None:
        """Opening the tab plans again: files may have changed since (remotes too)."""
        first, self.shown = not self.shown, True
        if self.root is None:
            return
        if not first:
            self.load_remotes()
        self.refresh_plan()
        self.refresh_history()

    # ----- remotes -----------------------------------------------------------------------------

    def load_remotes(self) -> Worker[None] | None:
        """Read the remotes again: the user's credentials and the workspace's caxton.toml."""
        return self._remotes_worker(self.backend) if self.root is not None else None

    @work(thread=True, group="deploy-remotes", exclusive=True, exit_on_error=False)
    def _remotes_worker(self, backend: Backend) -> None:
        try:
            names = list(backend.remotes())
        except CaxtonError as exc:
            self.app.call_from_thread(self._failed, exc, "remotes")
            return
        self.app.call_from_thread(self._show_remotes, names)

    def _show_remotes(self, names: list[str]) -> None:
        self.set_class(not names, "-empty")
        if names == self.remotes:
            return
        self.remotes = names
        select = self.query_one("#deploy-remote", Select)
        select.set_options([(name, name) for name in names])
        if names:
            select.value = self.remote if self.remote in names else names[0]

    @on(Select.Changed, "#deploy-remote")
    def _remote_changed(self, event: Select.Changed) -> None:
        event.stop()
        if not isinstance(event.value, str) or event.value == self.remote:
            return
        self.remote = event.value
        self.plan = None
        self.history = []
        self._show_status(f"{event.value}: planning…")
        self.query_one("#plan-files", OptionList).clear_options()
        self.query_one("#history", DataTable).clear()
        if self.shown:
            self.refresh_plan()
            self.refresh_history()

    # ----- the plan ----------------------------------------------------------------------------

    def refresh_plan(self) -> Worker[None] | None:
        """Plan against the chosen remote again (nothing without a remote)."""
        if self.root is None or self.remote is None:
            return None
        return self._plan_worker(self.backend, self.remote)

    @work(thread=True, group="deploy-plan", exclusive=True, exit_on_error=False)
    def _plan_worker(self, backend: Backend, remote_name: str) -> None:
        worker = get_current_worker()
        try:
            planned = backend.deploy_plan(remote_name)
        except CaxtonError as exc:
            if not worker.is_cancelled:
                self.app.call_from_thread(self._failed, exc, f"plan for {remote_name}")
            return
        if not worker.is_cancelled:
            self.app.call_from_thread(self._show_plan, planned)

    def _show_plan(self, planned: DeployPlan) -> None:
        if planned.remote != self.remote:
            return
        self.plan = planned
        c = planned.changes
        if planned.same:
            head = (
                f"{planned.remote} ({planned.url}) · live version {planned.live_version} · "
                "up to date: nothing to deploy"
            )
        else:
            head = (
                f"{planned.remote} ({planned.url}) · live version {planned.live_version} · "
                f"+{len(c.added)} ~{len(c.modified)} -{len(c.deleted)} · "
                f"{planned.files_to_send} file(s), {planned.bytes_to_send:,} bytes to send"
            )
        warning = planned.warning
        self._show_status(head + (f"\n{warning}" if warning else ""))
        files = self.query_one("#plan-files", OptionList)
        files.clear_options()
        for kind, paths in (("added", c.added), ("modified", c.modified), ("deleted", c.deleted)):
            mark, colour = MARKS[kind]
            for path in paths:
                files.add_option(Option(Text(f"{mark} {path}", style=colour), id=path))
        self.diff = ""
        self.query_one("#file-diff", Static).update(
            "select a file to see its diff" if not c.empty else "no file differs"
        )

    def _show_status(self, text: str) -> None:
        self.query_one("#deploy-status", Static).update(text)

    # ----- one file's diff ---------------------------------------------------------------------

    @on(OptionList.OptionHighlighted, "#plan-files")
    def _file_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        event.stop()
        path, planned = event.option.id, self.plan
        if path is None or planned is None or self.root is None or self.remote is None:
            return
        self.query_one("#file-diff", Static).update(f"{path}: fetching…")
        self._diff_worker(self.backend, planned, path)

    @work(thread=True, group="deploy-diff", exclusive=True, exit_on_error=False)
    def _diff_worker(self, backend: Backend, planned: DeployPlan, path: str) -> None:
        worker = get_current_worker()
        try:
            diff = backend.deploy_diff(planned, path)
        except CaxtonError as exc:
            if not worker.is_cancelled:
                self.app.call_from_thread(self._failed, exc, f"diff of {path}")
            return
        if not worker.is_cancelled:
            self.app.call_from_thread(self._show_diff, diff)

    def _show_diff(self, diff: str) -> None:
        self.diff = diff
        text = Text()
        for line in diff.splitlines():
            style = (
                "bold" if line.startswith(("+++", "---")) else
                "green" if line.startswith("+") else
                "red" if line.startswith("-") else
                "cyan" if line.startswith("@@") else ""
            )  # fmt: skip
            text.append(line + "\n", style=style)
        self.query_one("#file-diff", Static).update(text)

    # ----- deploy and rollback -------------------------------------------------------------------

    @on(Button.Pressed, "#plan-button")
    def _plan_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.load_remotes()
        self.refresh_plan()
        self.refresh_history()

    @on(Button.Pressed, "#deploy-button")
    def _deploy_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.deploy(self.query_one("#deploy-message", Input).value.strip())

    @on(Button.Pressed, "#rollback-button")
    def _rollback_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if self.chosen_version is None:
            self.app.notify("select a version in the history first", severity="warning")
            return
        self.rollback(self.chosen_version, self.query_one("#deploy-message", Input).value.strip())

    def _start_action(self, what: str) -> bool:
        if self.root is None or self.remote is None:
            self.app.notify(EMPTY if self.root else NO_WORKSPACE, severity="warning")
            return False
        if self.busy:
            self.app.notify("a deploy or rollback is running; wait for it", severity="warning")
            return False
        self.busy = True
        for button in ("#deploy-button", "#rollback-button"):
            self.query_one(button, Button).disabled = True
        self.progress = []
        self._add_progress(f"{what} to {self.remote}…")
        return True

    def deploy(self, message: str = "") -> Worker[None] | None:
        """Deploy the workspace to the chosen remote, as `caxton deploy -m MESSAGE` does."""
        if not self._start_action("deploying"):
            return None
        assert self.root is not None and self.remote is not None
        return self._deploy_worker(self.backend, self.remote, message)

    def rollback(self, version: int, message: str = "") -> Worker[None] | None:
        """Make `version`'s files live again as a new version, as `caxton rollback` does."""
        if not self._start_action(f"rolling back to version {version}"):
            return None
        assert self.root is not None and self.remote is not None
        return self._rollback_worker(self.backend, self.remote, version, message)

    @work(thread=True, group=ACTION, exit_on_error=False)
    def _deploy_worker(self, backend: Backend, remote_name: str, message: str) -> None:
        try:
            summary = backend.deploy(remote_name, message, self._say)
        except CaxtonError as exc:
            self.app.call_from_thread(self._action_failed, exc, "deploy")
            return
        self.app.call_from_thread(self._finished, summary)

    @work(thread=True, group=ACTION, exit_on_error=False)
    def _rollback_worker(
        self, backend: Backend, remote_name: str, version: int, message: str
    ) -> None:
        try:
            summary = backend.rollback(remote_name, version, message, self._say)
        except CaxtonError as exc:
            self.app.call_from_thread(self._action_failed, exc, "rollback")
            return
        self.app.call_from_thread(self._finished, summary)

    def _say(self, line: str) -> None:
        """The progress callback, called from the worker's thread."""
        self.app.call_from_thread(self._add_progress, line)

    def _add_progress(self, line: str) -> None:
        self.progress.append(line)
        self.query_one("#deploy-progress", Static).update("\n".join(self.progress))
        self.query_one("#deploy-progress-box", VerticalScroll).scroll_end(animate=False)

    def _finished(self, summary: dict[str, Any] | None) -> None:
        if summary is not None:
            self.last_deployment = summary
            for line in summary_lines(summary):
                self._add_progress(line)
            self.query_one("#deploy-message", Input).value = ""
            self.app.notify(summary_lines(summary)[0], title="deployed", timeout=4)
        self.refresh_plan()
        self.refresh_history()

    def _action_failed(self, exc: CaxtonError, what: str) -> None:
        self._add_progress(f"{what} refused: {exc.message}")
        for problem in getattr(exc, "problems", None) or []:
            self._add_progress(f"  {problem.location(self.root)}: {problem.message}")
        if exc.hint:
            self._add_progress(f"hint: {exc.hint}")
        self._failed(exc, what)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        # not stopped: the app shows a bug's traceback-free modal for workers in ERROR
        if event.worker.group == ACTION and event.state in (
            WorkerState.SUCCESS, WorkerState.ERROR, WorkerState.CANCELLED,
        ):  # fmt: skip
            self.busy = False
            self.query_one("#deploy-button", Button).disabled = False
            self.query_one("#rollback-button", Button).disabled = not self.history

    # ----- history -----------------------------------------------------------------------------

    def refresh_history(self) -> Worker[None] | None:
        """Fetch the chosen remote's history again (nothing without a remote)."""
        if self.root is None or self.remote is None:
            return None
        return self._history_worker(self.backend, self.remote)

    @work(thread=True, group="deploy-history", exclusive=True, exit_on_error=False)
    def _history_worker(self, backend: Backend, remote_name: str) -> None:
        worker = get_current_worker()
        try:
            deployments, fetched_at = backend.deploy_history(remote_name, HISTORY_LIMIT)
        except CaxtonError as exc:
            from caxton.client import RemoteError

            if not worker.is_cancelled and not (isinstance(exc, RemoteError) and exc.status == 0):
                self.app.call_from_thread(self._failed, exc, f"history of {remote_name}")
            return  # a server that does not answer: the plan already said so
        if not worker.is_cancelled:
            self.app.call_from_thread(self._show_history, remote_name, deployments, fetched_at)

    def _show_history(
        self, remote_name: str, deployments: list[dict[str, Any]], fetched_at: str | None
    ) -> None:
        from caxton.deploy.actions import short as _short
        from caxton.deploy.actions import when as _when

        if remote_name != self.remote:
            return
        self.history = deployments
        title = f"History of {remote_name}" + (
            f" (the server does not answer: as fetched at {_when(fetched_at)})"
            if fetched_at
            else ""
        )
        self.query_one("#history-title", Label).update(title)
        table = self.query_one("#history", DataTable)
        table.clear()
        for d in deployments:
            what = d["message"] or (
                f"rollback to v{d['rollback_of']}" if d["kind"] == "rollback" else ""
            )
            table.add_row(
                str(d["version"]), _when(d["at"]), d["who"],
                _short(d["commit"]) + ("*" if d["dirty"] else ""),
                f"+{d['added']} ~{d['modified']} -{d['deleted']}", what,
                key=str(d["version"]),
            )  # fmt: skip
        # the live version is no rollback target: the one before it is where a rollback goes
        self.chosen_version = deployments[1]["version"] if len(deployments) > 1 else None
        if len(deployments) > 1:
            table.move_cursor(row=1)
        self._update_rollback_button()

    @on(DataTable.RowHighlighted, "#history")
    def _row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        event.stop()
        key = event.row_key.value
        self.chosen_version = int(key) if key is not None else None
        self._update_rollback_button()

    def _update_rollback_button(self) -> None:
        button = self.query_one("#rollback-button", Button)
        live = self.history[0]["version"] if self.history else None
        chosen = self.chosen_version
        if chosen is not None and chosen == live:
            button.label = f"v{chosen} is live"
        else:
            button.label = f"Rollback to v{chosen}" if chosen else "Rollback"
        button.disabled = self.busy or chosen is None or chosen == live

    # ----- errors ------------------------------------------------------------------------------

    def _failed(self, exc: CaxtonError, doing: str) -> None:
        from caxton.client import RemoteError

        lines = [exc.message]
        problems = getattr(exc, "problems", None) or []
        for problem in problems[:5]:
            lines.append(f"{problem.location(self.root)}: {problem.message}")
        if len(problems) > 5:
            lines.append(f"(+{len(problems) - 5} more)")
        hint = exc.hint or (problems[0].hint if problems else None)
        if hint:
            lines.append(f"hint: {hint}")
        if isinstance(exc, RemoteError) and exc.status == 0:
            self._show_status(f"{self.remote}: {exc.message}" + (f"\nhint: {hint}" if hint else ""))
        elif doing.startswith("plan"):
            self._show_status(f"no plan: {exc.message}" + (f"\nhint: {hint}" if hint else ""))
        self.app.notify(
            "\n".join(lines), title=f"{doing} failed", severity="error", timeout=8, markup=False
        )


# ----- presenting a deploy's summary ------------------------------------------------------------


def summary_lines(summary: dict[str, Any]) -> list[str]:
    c = summary["changes"]
    what = (
        f"rolled back {summary['remote']} to version {summary['rollback_of']}'s files as "
        f"version {summary['version']}"
        if summary.get("rollback_of")
        else f"deployed version {summary['version']} of {summary['workspace']!r} to "
        f"{summary['remote']}"
    )
    lines = [
        f"{what}: {len(c['added'])} added, {len(c['modified'])} modified, "
        f"{len(c['deleted'])} deleted",
        f"  {summary['files_sent']} file(s), {summary['bytes_sent']:,} bytes sent in "
        f"{summary['ms']} ms; {summary['agents']} agent(s) running",
    ]
    for agent, problem in summary["invalid"].items():
        lines.append(f"  agent {agent!r} is not running: {problem}")
    return lines
