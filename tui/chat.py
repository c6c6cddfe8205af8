"""The chat pane: the conversation so far (requests, streamed Markdown answers, tool calls
folded with their arguments and results) above the prompt."""

from __future__ import annotations

import json
import threading
from typing import Any

from textual.app import ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.timer import Timer
from textual.widgets import Collapsible, Label, Static

from caxton_tui.answer import Answer
from caxton_tui.prompt import Prompt

SHOW_SECONDS = 0.05  # streamed text reaches the screen this often
ASK = "Ask something. Enter sends, ctrl+j adds a line, escape cancels, up/down walk your history."
NO_AGENTS = (
    "No agents yet, so nothing can answer: add one from a template with "
    "`caxton init NAME --template T` (`caxton template list` shows the ten) and it appears "
    "on the left as soon as it is saved."
)


class Turn(Vertical):
    """One request and what answered it, filled in as events arrive."""

    def __init__(self, request: str, target: str) -> None:
        super().__init__(classes="turn")
        self.request = request
        self.target = target
        self.text = ""
        self._fed: list[str] = []  # streamed text not shown yet (written by the send worker)
        self._feeding = threading.Lock()
        self._ticker: Timer | None = None

    def compose(self) -> ComposeResult:
        yield Static(f"[b]you[/] → {self.target}\n{_escape(self.request)}", classes="request")
        yield Label("[dim]… working (escape cancels)[/]", classes="who")
        yield Vertical(classes="tools")
        yield Answer(classes="answer")
        yield Label("", classes="summary")

    def on_mount(self) -> None:
        self._ticker = self.set_interval(SHOW_SECONDS, self.show_fed)

    def feed(self, text: str) -> None:
        """More of the answer, from any thread: shown on the screen's next tick, so a fast
        stream costs one layout per tick and a slow one shows each word within a tick."""
        with self._feeding:
            self._fed.append(text)

    def show_fed(self) -> None:
        with self._feeding:
            text = "".join(self._fed)
            self._fed.clear()
        if text:
            self.add_text(text)

    def _done(self) -> None:
        self.show_fed()
        if self._ticker is not None:
            self._ticker.stop()
            self._ticker = None

    def add_text(self, text: str) -> None:
        """More of the answer: appended (only the last block is rendered again)."""
        self.text += text
        self.query_one(".answer", Answer).append(text)

    def add_tool(self, tool: dict[str, Any]) -> None:
        self.show_fed()  # the text before the call comes before it
        ok = tool.get("outcome") == "ok"
        mark = "✓" if ok else "✗"
        title = f"{mark} tool {tool.get('name')} · {float(tool.get('seconds') or 0) * 1000:.0f} ms"
        body = f"[b]arguments[/]\n{_pretty(tool.get('arguments'))}\n[b]result[/]\n"
        body += _escape(str(tool.get("result") or tool.get("error") or ""))
        self.query_one(".tools", Vertical).mount(
            Collapsible(Static(body, classes="tool-body"), title=title, collapsed=True)
        )

    def finish(self, result: dict[str, Any]) -> None:
        self._done()
        route = result.get("route") or {}
        model = ", ".join(result.get("models") or []) or "?"
        if result.get("deterministic"):
            model += " (deterministic test model: not a real LLM)"
        who = f"[b]{result['agent']}[/] answered · model {model}"
        if route.get("reason") and route.get("method") != "named":
            who += f"\n[dim]routed: {_escape(route['reason'])}[/]"
        self.query_one(".who", Label).update(who)
        if not self.text and result.get("answer"):
            self.add_text(str(result["answer"]))
        trace = result.get("trace") or {}
        usage = result.get("usage") or {}
        cost = result.get("cost_usd")
        self.query_one(".summary", Label).update(
            f"[dim]{trace.get('spans', 0)} spans · {result.get('tool_calls', 0)} tool calls · "
            f"{usage.get('input_tokens', 0)}+{usage.get('output_tokens', 0)} tokens · "
            f"{'unknown cost' if cost is None else f'${cost:.4f}'} · "
            f"trace {str(result.get('trace_id', ''))[:12]} (ctrl+t)[/]"
        )

    def fail(self, message: str, hint: str | None) -> None:
        self._done()
        self.query_one(".who", Label).update(f"[b red]error[/] {_escape(message)}")
        if hint:
            self.query_one(".summary", Label).update(f"[dim]hint: {_escape(hint)}[/]")

    def cancelled(self) -> None:
        self._done()
        self.query_one(".who", Label).update("[b yellow]cancelled[/] (the server finishes it)")


class ChatPane(Vertical):
    def compose(self) -> ComposeResult:
        yield VerticalScroll(
            Static(ASK, classes="hint"),
            id="turns",
        )
        yield Label("", id="target")
        yield Prompt(id="prompt")

    def on_mount(self) -> None:
        self.query_one("#turns", VerticalScroll).anchor()  # stay at the end while answers grow

    def start_turn(self, request: str, target: str) -> Turn:
        turn = Turn(request, target)
        turns = self.query_one("#turns", VerticalScroll)
        turns.mount(turn)
        turns.scroll_end(animate=False)
        return turn

    def show_hint(self, *, agents: int) -> None:
        self.query_one("#turns .hint", Static).update(ASK if agents else NO_AGENTS)

    def show_target(self, target: str) -> None:
        self.query_one("#target", Label).update(f"[dim]to[/] [b]{target}[/]")


def _pretty(raw: object) -> str:
    if not raw:
        return "(none)"
    try:
        return _escape(json.dumps(json.loads(str(raw)), indent=2))
    except ValueError:
        return _escape(str(raw))


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)
