"""The sidebar: "auto" and the workspace's agents (valid, invalid, changed since deploy), or
how to add one when there is none; its tools (sandboxed or not) and its remotes. Choosing an
agent posts `AgentChosen`."""

from __future__ import annotations

from dataclasses import dataclass

from textual import on
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import Label, OptionList, Static
from textual.widgets.option_list import Option

from caxton_tui.backend import Overview
from caxton_tui.markup import escape

AUTO = "auto"
TIP_CHARS = 24  # one line under the agent's name
NO_AGENTS = (
    "No agents yet: a request has no one to go to. Add one from a template:\n\n"
    "  [b]caxton init NAME -t TEMPLATE[/]\n\n"
    "[dim]`caxton template list` shows the templates; a saved agent appears here.[/]"
)
NO_AGENTS_REMOTE = (
    "No agents deployed yet: a request has no one to go to. Add one in the workspace:\n\n"
    "  [b]caxton init NAME -t TEMPLATE[/]\n\n"
    "[dim]then `caxton deploy` it here.[/]"
)


class Sidebar(Vertical):
    """Agents to talk to, then tools and remotes (read-only lists)."""

    DEFAULT_CSS = """
    Sidebar #no-agents { display: none; height: auto; margin-top: 1; }
    Sidebar.-no-agents #no-agents { display: block; }
    """

    @dataclass
    class AgentChosen(Message):
        agent: str | None  # None: let the router choose

    def compose(self) -> ComposeResult:
        yield Label("Agents", classes="section")
        yield OptionList(Option("◆ auto (router chooses)", id=AUTO), id="agents")
        yield Static(NO_AGENTS, id="no-agents")
        yield Label("Tools", classes="section")
        yield OptionList(id="tools")
        yield Label("Remotes", classes="section")
        yield OptionList(id="remotes")

    def show(self, overview: Overview) -> None:
        agents = self.query_one("#agents", OptionList)
        chosen = agents.highlighted
        agents.clear_options()
        agents.add_option(Option("◆ auto (router chooses)", id=AUTO))
        for row in overview.agents:
            badge = "✓" if row.valid else "✗"
            changed = " ●" if row.changed else ""
            tip = ", ".join(row.capabilities[:3]) if row.valid else row.problems[0]
            tip = tip if len(tip) <= TIP_CHARS else tip[: TIP_CHARS - 1] + "…"
            agents.add_option(
                Option(f"{badge} {row.name}{changed}\n  [dim]{escape(tip)}[/]", id=row.name)
            )
        if chosen is not None and chosen < agents.option_count:
            agents.highlighted = chosen
        self.set_class(not overview.agents, "-no-agents")
        if not overview.agents:
            remote = getattr(getattr(self.app, "backend", None), "remote", None)
            self.query_one("#no-agents", Static).update(NO_AGENTS_REMOTE if remote else NO_AGENTS)
        tools = self.query_one("#tools", OptionList)
        tools.clear_options()
        for name, where in overview.tools:
            tools.add_option(Option(f"{name} [dim]{where}[/]"))
        remotes = self.query_one("#remotes", OptionList)
        remotes.clear_options()
        for name in overview.remotes or ("none: `caxton remote add`",):
            remotes.add_option(Option(name))

    @on(OptionList.OptionSelected, "#agents")
    def _chosen(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        chosen = event.option.id
        self.post_message(self.AgentChosen(None if chosen == AUTO else chosen))
