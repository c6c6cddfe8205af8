"""The chat pane: the conversation so far (requests, streamed Markdown answers, tool calls
folded with their arguments and results) above the prompt."""

from __future__ import annotations

import contextlib
import json
import threading
from typing import Any

from textual.app import ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.timer import Timer
from textual.widgets import Collapsible, Label, Static

from caxton_tui.answer import Answer
from caxton_tui.markup import escape
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
        self._tools: list[tuple[Collapsible, dict[str, Any]]] = []

    def compose(self) -> ComposeResult:
        yield Static(f"[b]you[/] → {self.target}\n{escape(self.request)}", classes="request")
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
        body = f"[b]arguments[/]\n{_pretty(tool.get('arguments'))}\n[b]result[/]\n"
        body += escape(str(tool.get("result") or tool.get("error") or ""))
        asked = None if self.target == "auto" else self.target
        folded = Collapsible(
            Static(body, classes="tool-body"), title=_tool_title(tool, asked), collapsed=True
        )
        self._tools.append((folded, tool))
        self.query_one(".tools", Vertical).mount(folded)

    def finish(self, result: dict[str, Any]) -> None:
        self._done()
        for folded, tool in self._tools:  # calls made by agents it delegated to say whose
            folded.title = _tool_title(tool, result["agent"])
        route = result.get("route") or {}
        model = ", ".join(result.get("models") or []) or "?"
        if result.get("deterministic"):
            model += " (deterministic test model: not a real LLM)"
        who = f"[b]{result['agent']}[/] answered · model {model}"
        stop = result.get("stop_reason") or "done"
        error = result.get("error") or {}
        if stop != "done":  # a limit, or a failure after the stream began
            detail = str(error.get("detail") or result.get("detail") or "").partition("\nhint:")
            who = f"[b yellow]{result['agent']} stopped ({escape(stop)})[/] · model {model}"
            who += f"\n{escape(detail[0])}"
            hint = error.get("hint") or detail[2].strip()
            if hint:
                who += f"\n[dim]hint: {escape(str(hint))}[/]"
        if route.get("reason") and route.get("method") != "named":
            who += f"\n[dim]routed: {escape(route['reason'])}[/]"
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
        self.query_one(".who", Label).update(f"[b red]error[/] {escape(message)}")
        if hint:
            self.query_one(".summary", Label).update(f"[dim]hint: {escape(hint)}[/]")

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


def _tool_title(tool: dict[str, Any], asked: str | None) -> str:
    mark = "✓" if tool.get("outcome") == "ok" else "✗"
    title = f"{mark} tool {tool.get('name')} · {float(tool.get('seconds') or 0) * 1000:.0f} ms"
    by = tool.get("agent")
    return title + (f" · by {by}" if by and asked and by != asked else "")


def _pretty(raw: object) -> str:
    if not raw:
        return "(none)"
    text = str(raw)
    with contextlib.suppress(ValueError):  # not JSON: shown as it came
        text = json.dumps(json.loads(text), indent=2)
    shown: str = escape(text)
    return shown
