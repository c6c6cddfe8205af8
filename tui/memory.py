"""The memory pane: search the workspace's memory (entities, relations and past interactions)
in one scope, and see an entity's observations, relations and neighbours."""

from __future__ import annotations

from typing import Any, Literal

from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.suggester import SuggestFromList
from textual.widgets import Input, Label, OptionList, Select, Static
from textual.widgets.option_list import Option
from textual.worker import get_current_worker

from caxton.errors import CaxtonError
from caxton_tui.backend import Backend, Overview, Where
from caxton_tui.markup import escape

State = Literal["idle", "searching", "results", "no-results", "empty", "error"]

LIMIT = 50  # hits asked for; the API allows up to 100
WIDTH = 80  # characters of a result's text at most (the list also clips to its width)
EMPTY = "nothing in memory yet: agents with memory store what they learn; or `caxton memory add`"
KINDS = {"entities": "entity", "relations": "relation", "interactions": "interaction"}
HINT = "type words and press enter; enter on an empty search lists the entities"


class MemoryPane(Vertical):
    """Search box, scope filter, one line per result; the chosen entity's details beside."""

    DEFAULT_CSS = """
    MemoryPane { height: 1fr; }
    MemoryPane #memory-bar { height: auto; }
    MemoryPane #memory-query { width: 1fr; }
    MemoryPane #memory-scope { width: 18; }
    MemoryPane #memory-agent { width: 22; display: none; }
    MemoryPane #memory-status { padding: 0 1; color: $text-muted; }
    MemoryPane #memory-main { height: 1fr; }
    MemoryPane #memory-results {
        width: 1fr;
        border: none;
        text-wrap: nowrap;
        text-overflow: ellipsis;
    }
    MemoryPane #memory-details-box {
        width: 1fr;
        padding: 0 1;
        border-left: vkey $foreground 20%;
    }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.results: list[dict[str, Any]] = []
        self.entity: dict[str, Any] | None = None
        self.relations: list[dict[str, Any]] = []
        self.neighbours: list[dict[str, Any]] = []
        self.stats: dict[str, Any] | None = None
        self.state: State = "idle"
        self.last_query: str | None = None

    def compose(self) -> ComposeResult:
        with Horizontal(id="memory-bar"):
            yield Input(placeholder="search memory: meaning and keywords", id="memory-query")
            yield Select(
                [(kind, kind) for kind in ("workspace", "agent", "global")],
                value="workspace",
                allow_blank=False,
                id="memory-scope",
            )
            yield Input(placeholder="agent", id="memory-agent")
        yield Label(HINT, id="memory-status")
        with Horizontal(id="memory-main"):
            yield OptionList(id="memory-results")
            with VerticalScroll(id="memory-details-box"):
                yield Static("[dim]choose a result to see it here[/]", id="memory-details")

    def on_show(self) -> None:
        backend = getattr(self.app, "backend", None)
        if isinstance(backend, Backend) and backend.started.is_set():
            self._load_stats(backend)

    # ----- what tests and the app call -------------------------------------------------------

    @property
    def where(self) -> Where:
        """The scope chosen in the filter (the agent's name typed, or taken from the app)."""
        kind = self.query_one("#memory-scope", Select).value
        if kind == "agent":
            return Where("agent", self.query_one("#memory-agent", Input).value.strip() or None)
        return Where("global") if kind == "global" else Where()

    def search(self, text: str) -> None:
        """Search the chosen scope; an empty text lists its entities."""
        where = self.where
        if where.kind == "agent" and not where.agent:
            self.app.notify("type the agent whose memory to search", severity="warning")
            self.query_one("#memory-agent", Input).focus()
            return
        backend = self._backend()
        if backend is None:
            return
        self.last_query = text.strip()
        self._set_status("searching", f"searching {where} memory…")
        self._search(backend, self.last_query, where)

    def focus_search(self) -> None:
        """Focus the search box (inside a TabPane, that also shows the pane's tab)."""
        self.query_one("#memory-query", Input).focus()

    def choose(self, index: int) -> None:
        """Show the result at `index`: an entity (a relation opens its source), or an
        interaction's request and answer."""
        hit = self.results[index]
        if hit["kind"] == "interaction":
            self.entity, self.relations, self.neighbours = None, [], []
            self._details(_interaction_text(hit))
            return
        name = hit["name"] if hit["kind"] == "entity" else hit["from"]
        self.open_entity(name, Where.of(hit))

    def open_entity(self, name: str, where: Where | None = None) -> None:
        """Load an entity with its relations and neighbours (workspace scope by default)."""
        backend = self._backend()
        if backend is not None:
            self._details(f"[dim]loading {escape(name)}…[/]")
            self._load_entity(backend, name, where or Where())

    # ----- workers: the server, off the event loop; they never touch widgets -----------------

    @work(thread=True, group="memory-search", exclusive=True, exit_on_error=False)
    def _search(self, backend: Backend, text: str, where: Where) -> None:
        worker = get_current_worker()
        stats: dict[str, Any] | None = None
        try:
            if text:
                found = backend.memory_search(text, where, LIMIT)
            else:
                listed = backend.memory_entities(where)
                found = [{"kind": "entity", "score": None, **e} for e in listed]
            if not found:  # an empty store, or only nothing here: the stats tell which
                stats = backend.memory_stats()
        except CaxtonError as exc:
            if not worker.is_cancelled:
                self.app.call_from_thread(self._failed, exc)
            return
        if not worker.is_cancelled:
            self.app.call_from_thread(self._show_results, text, where, found, stats)

    @work(thread=True, group="memory-entity", exclusive=True, exit_on_error=False)
    def _load_entity(self, backend: Backend, name: str, where: Where) -> None:
        worker = get_current_worker()
        try:
            graph = backend.memory_entity(name, where)
        except CaxtonError as exc:
            if not worker.is_cancelled:
                self.app.call_from_thread(self._failed, exc, name)
            return
        if not worker.is_cancelled:
            self.app.call_from_thread(self._show_entity, name, graph)

    @work(thread=True, group="memory-stats", exclusive=True, exit_on_error=False)
    def _load_stats(self, backend: Backend) -> None:
        try:
            stats = backend.memory_stats()
        except CaxtonError as exc:
            self.app.call_from_thread(self._failed, exc)
            return
        self.app.call_from_thread(self._show_stats, stats)

    # ----- handing results to the widgets ----------------------------------------------------

    def _show_results(
        self, text: str, where: Where, found: list[dict[str, Any]], stats: dict[str, Any] | None
    ) -> None:
        self.results = found
        listing = self.query_one("#memory-results", OptionList)
        listing.clear_options()
        listing.add_options(Option(_line(hit), id=str(i)) for i, hit in enumerate(found))
        if found:
            what = f"for {text!r}" if text else "(every entity)"
            count = f"{len(found)} result{'s' * (len(found) != 1)}"
            self._set_status("results", f"{count} in {where} memory {what}")
            return
        if stats is not None:
            self.stats = stats
            if _total(stats) == 0:
                self._set_status("empty", EMPTY)
                return
        if text:
            message = f"nothing in {where} memory matches {text!r}: try other words or scope"
        else:
            message = f"no entities in {where} memory: try another scope"
        self._set_status("no-results", message)

    def _show_entity(self, name: str, graph: dict[str, Any]) -> None:
        entities = graph.get("entities") or []
        entity = next((e for e in entities if e["name"] == name), None)
        self.entity = entity
        self.relations = list(graph.get("relations") or [])
        self.neighbours = [e for e in entities if e["name"] != name]
        if entity is None:
            self._details(f"[dim]{escape(name)} is no longer in memory[/]")
            return
        self._details(_entity_text(entity, self.relations, self.neighbours))

    def _show_stats(self, stats: dict[str, Any]) -> None:
        self.stats = stats
        if self.state not in ("idle", "empty"):
            return
        if _total(stats) == 0:
            self._set_status("empty", EMPTY)
        else:
            counts = " · ".join(
                f"{stats[many]} {one if stats[many] == 1 else many}" for many, one in KINDS.items()
            )
            self._set_status("idle", f"{counts} in memory: {HINT}")

    def _failed(self, error: CaxtonError, entity: str | None = None) -> None:
        hint = f"\nhint: {error.hint}" if error.hint else ""
        self.app.notify(
            f"{error.message}{hint}", title="memory", severity="error", timeout=8, markup=False
        )
        if entity is not None:
            self._details(f"[dim]could not load {escape(entity)} (see the notification)[/]")
        elif self.state == "searching":
            self._set_status("error", "the search failed (see the notification)")

    def _set_status(self, state: State, text: str) -> None:
        self.state = state
        self.query_one("#memory-status", Label).update(escape(text))

    def _details(self, markup: str) -> None:
        self.query_one("#memory-details", Static).update(markup)

    def _backend(self) -> Backend | None:
        backend = getattr(self.app, "backend", None)
        assert isinstance(backend, Backend), "MemoryPane needs an app with a `backend`"
        if not backend.started.is_set():
            self.app.notify(
                "the server is still starting; try again in a moment", severity="warning"
            )
            return None
        return backend

    # ----- events ----------------------------------------------------------------------------

    @on(Input.Submitted, "#memory-query")
    def _query_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.search(event.value)

    @on(Input.Submitted, "#memory-agent")
    def _agent_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.search(self.last_query or "")

    @on(Select.Changed, "#memory-scope")
    def _scope_changed(self, event: Select.Changed) -> None:
        event.stop()
        agent = self.query_one("#memory-agent", Input)
        agent.display = event.value == "agent"
        if event.value == "agent":
            names = self._agent_names()
            agent.suggester = SuggestFromList(names, case_sensitive=False)
            if not agent.value:
                chosen = getattr(self.app, "agent", None)
                agent.value = chosen if isinstance(chosen, str) else (names[0] if names else "")
            if not agent.value:
                agent.focus()
                return
        if self.last_query is not None:
            self.search(self.last_query)

    @on(OptionList.OptionSelected, "#memory-results")
    def _result_chosen(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.choose(event.option_index)

    def _agent_names(self) -> list[str]:
        overview = getattr(self.app, "overview", None)
        return [row.name for row in overview.agents] if isinstance(overview, Overview) else []


def _total(stats: dict[str, Any]) -> int:
    return sum(int(stats.get(many) or 0) for many in KINDS)


def _when(item: dict[str, Any], key: str) -> str:
    """An ISO timestamp to the minute, readable."""
    return str(item.get(key) or "")[:16].replace("T", " ")


def _short(text: str, width: int = WIDTH) -> str:
    flat = " ".join(str(text).split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def _line(hit: dict[str, Any]) -> str:
    """One result on one line: kind, score (none when listing) and what was found."""
    kind = str(hit["kind"])
    score = f"{float(hit['score']):.2f}" if hit.get("score") is not None else "   ·"
    if kind == "entity":
        what = f"{escape(_short(hit['name']))} [dim]({escape(_short(hit['type'], 30))})[/]"
    elif kind == "relation":
        what = escape(_short(f"{hit['from']} → {hit['type']} → {hit['to']}"))
    else:
        what = f"[dim]{escape(str(hit.get('agent', '')))}:[/] {escape(_short(hit['request']))}"
    return f"[dim]{kind:<11}[/] {score}  {what}"


def _entity_text(
    entity: dict[str, Any], relations: list[dict[str, Any]], neighbours: list[dict[str, Any]]
) -> str:
    lines = [
        f"[b]{escape(entity['name'])}[/] ({escape(entity['type'])})",
        f"[dim]{Where.of(entity)} memory · updated {_when(entity, 'updated_at')}[/]",
        "",
        "[b]Observations[/]",
    ]
    lines += [
        "  • " + escape(str(o)).strip().replace("\n", "\n    ") for o in entity["observations"]
    ] or ["  [dim]none[/]"]
    lines += ["", "[b]Relations[/]"]
    lines += [
        f"  {escape(r['from'])} → {escape(r['type'])} → {escape(r['to'])} "
        f"[dim](strength {float(r['strength']):.2f})[/]"
        for r in relations
    ] or ["  [dim]none[/]"]
    lines += ["", "[b]Neighbours[/]"]
    lines += [f"  {escape(e['name'])} [dim]({escape(e['type'])})[/]" for e in neighbours] or [
        "  [dim]none[/]"
    ]
    return "\n".join(lines)


def _interaction_text(hit: dict[str, Any]) -> str:
    return "\n".join(
        [
            f"[b]interaction[/] with {escape(str(hit.get('agent', '')))}",
            f"[dim]{Where.of(hit)} memory · {_when(hit, 'created_at')}[/]",
            "",
            "[b]Request[/]",
            escape(str(hit.get("request", ""))),
            "",
            "[b]Answer[/]",
            escape(str(hit.get("response", ""))),
        ]
    )
