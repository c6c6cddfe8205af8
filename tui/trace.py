"""The trace pane: earlier requests on the left; the selected one's span tree (route, LLM
calls, tool calls, memory, messages between agents) with durations, tokens, cost and fuel as
a waterfall; the selected span's details below."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.timer import Timer
from textual.widgets import Label, OptionList, Static, Tree
from textual.widgets.option_list import Option
from textual.widgets.tree import TreeNode

from caxton_tui.markup import escape

BAR = 24  # characters of the waterfall
LIVE_SECONDS = 0.25  # how often the running request's tree is drawn again
OPEN_ALL_UP_TO = 200  # spans: a bigger trace opens with its first level only
ICONS = {"llm": "◇", "tool": "⚙", "memory": "▤", "route": "➜", "message": "✉", "agent": "●"}


@dataclass
class LiveTrace:
    """The request being answered: the spans that have ended so far (fed by the send worker)."""

    request: str
    target: str
    started: float
    spans: list[dict[str, Any]] = field(default_factory=list)
    fresh: bool = False  # spans came since the tree was last drawn
    lock: threading.Lock = field(default_factory=threading.Lock)

    def feed(self, span: dict[str, Any]) -> None:
        """A span that ended, from any thread: drawn on the pane's next tick."""
        with self.lock:
            self.spans.append(span)
            self.fresh = True


class TracePane(Horizontal):
    _children: dict[str | None, list[dict[str, Any]]]  # spans by their parent's id
    _start = 0.0
    _total = 1.0
    _open_all = True
    _live: LiveTrace | None = None
    _live_ticker: Timer | None = None

    @dataclass
    class TraceChosen(Message):
        trace_id: str

    def compose(self) -> ComposeResult:
        with Vertical(id="trace-list-box"):
            yield Label("Requests", classes="section")
            yield OptionList(id="trace-list")
        with Vertical(id="trace-main"):
            yield Label("No request yet: send one in Chat.", id="trace-title")
            yield Tree("spans", id="spans")
            yield VerticalScroll(Static("", id="span-details"), id="span-details-box")

    def list_traces(self, executions: list[dict[str, Any]]) -> None:
        listing = self.query_one("#trace-list", OptionList)
        listing.clear_options()
        for e in executions:
            stamp = str(e.get("started_at", ""))[11:19]
            listing.add_option(
                Option(
                    f"{stamp} {e['agent']} · {float(e['seconds']) * 1000:.0f} ms\n"
                    f"  [dim]{escape(_cut(str(e['request']), 22))}[/]",
                    id=e["trace_id"],
                )
            )

    def show(self, trace: dict[str, Any]) -> None:
        """A finished request's trace, as the server saved it."""
        self._stop_live()
        execution, spans = trace["execution"], trace["spans"]
        self.query_one("#trace-title", Label).update(
            f"[b]{execution['agent']}[/] · {escape(execution['request'][:60])} · "
            f"{float(execution['seconds']) * 1000:.0f} ms · "
            f"{execution['input_tokens']}+{execution['output_tokens']} tokens · "
            f"trace {execution['trace_id'][:12]}"
        )
        self._show_spans(spans)

    # ----- the running request: its spans as they end -----------------------------------------

    def start_live(self, request: str, target: str) -> LiveTrace:
        """Show the spans of the request being answered as they end (a span's parent shows
        when it ends in turn); `show` replaces them with the saved trace. The sender feeds
        the returned `LiveTrace`."""
        self._stop_live()
        self._live = live = LiveTrace(request, target, time.monotonic())
        self._live_ticker = self.set_interval(LIVE_SECONDS, self._show_live)
        self._show_spans([])  # the earlier request's tree and details go
        self.query_one("#span-details", Static).update("[dim]spans show here as they end[/]")
        self._show_live()
        return live

    def end_live(self, live: LiveTrace, how: str) -> None:
        """The request ended without a saved trace to show (cancelled, failed)."""
        if self._live is live:
            self._show_live()
            self._stop_live()
            self.query_one("#trace-title", Label).update(
                f"[b]{live.target}[/] · {escape(live.request[:60])} · [b yellow]{how}[/]"
            )

    def _show_live(self) -> None:
        live = self._live
        if live is None:
            return
        with live.lock:
            spans, fresh, live.fresh = list(live.spans), live.fresh, False
        seconds = time.monotonic() - live.started
        self.query_one("#trace-title", Label).update(
            f"[b]{live.target}[/] · {escape(live.request[:60])} · [b yellow]running[/] "
            f"{seconds:.1f} s · {_spans(len(spans))} ended so far"
        )
        if fresh:
            self._show_spans(spans)

    def _stop_live(self) -> None:
        if self._live_ticker is not None:
            self._live_ticker.stop()
        self._live, self._live_ticker = None, None

    def _show_spans(self, spans: list[dict[str, Any]]) -> None:
        tree = self.query_one("#spans", Tree)
        tree.clear()
        tree.root.label = _spans(len(spans))
        self._children = {}
        if not spans:
            return
        start = min(float(s["start"]) for s in spans)
        end = max(float(s["end"] or s["start"]) for s in spans)
        ids = {s["span_id"] for s in spans}
        children: dict[str | None, list[dict[str, Any]]] = {}
        for span in spans:
            parent = span["parent_id"] if span["parent_id"] in ids else None
            children.setdefault(parent, []).append(span)
        self._children, self._start, self._total = children, start, max(end - start, 1e-9)
        self._open_all = len(spans) <= OPEN_ALL_UP_TO
        self._add(tree.root, None, 0)
        tree.root.expand()
        self.query_one("#span-details", Static).update("[dim]select a span to see its details[/]")

    def _add(self, node: TreeNode[dict[str, Any]], parent: str | None, depth: int) -> None:
        """The spans under `parent`; a folded span's own are added when it is unfolded, so a
        big trace opens without building nodes nobody looks at."""
        for span in self._children.get(parent, []):
            label = _label(span, self._start, self._total)
            if span["span_id"] not in self._children:
                node.add_leaf(label, data=span)
            elif self._open_all or depth == 0:
                self._add(node.add(label, data=span, expand=True), span["span_id"], depth + 1)
            else:
                node.add(label, data=span, expand=False)

    @on(Tree.NodeExpanded, "#spans")
    def _unfolded(self, event: Tree.NodeExpanded[dict[str, Any]]) -> None:
        node, span = event.node, event.node.data
        if span is not None and not node.children and span["span_id"] in self._children:
            self._add(node, span["span_id"], 1)

    @on(Tree.NodeHighlighted, "#spans")
    def _span(self, event: Tree.NodeHighlighted[Any]) -> None:
        span = event.node.data
        if span is None:
            return
        attributes = json.dumps(span.get("attributes") or {}, indent=2, ensure_ascii=False)
        seconds = float(span["end"] or span["start"]) - float(span["start"])
        self.query_one("#span-details", Static).update(
            f"[b]{escape(span['name'])}[/] ({span['kind']}, {span['status']}) "
            f"{seconds * 1000:.1f} ms\n{escape(attributes)}"
        )

    @on(OptionList.OptionSelected, "#trace-list")
    def _chosen(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        if event.option.id:
            self.post_message(self.TraceChosen(event.option.id))


def _spans(count: int) -> str:
    return f"{count} span" + ("" if count == 1 else "s")


def _cut(text: str, chars: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= chars else text[: chars - 1] + "…"


def _label(span: dict[str, Any], start: float, total: float) -> Text:
    """A span's line: waterfall bar, icon, name, duration and what it used (built as Text:
    a thousand spans must not each go through the markup parser)."""
    begin = float(span["start"]) - start
    seconds = float(span["end"] or span["start"]) - float(span["start"])
    at = min(BAR - 1, int(begin / total * BAR))
    width = max(1, round(seconds / total * BAR))
    bar = " " * at + "█" * min(width, BAR - at)
    attrs = span.get("attributes") or {}
    extra = []
    tokens_in, tokens_out = (
        attrs.get("gen_ai.usage.input_tokens"),
        attrs.get("gen_ai.usage.output_tokens"),
    )
    if tokens_in is not None:
        extra.append(f"{tokens_in}+{tokens_out or 0} tok")
    if attrs.get("caxton.cost_usd") is not None:
        extra.append(f"${float(attrs['caxton.cost_usd']):.4f}")
    if attrs.get("caxton.tool.fuel") is not None:
        extra.append(f"fuel {attrs['caxton.tool.fuel']:,}")
    icon = ICONS.get(str(span["kind"]), "·")
    return Text.assemble(
        (f"{bar:<{BAR}}", "dim"),
        f" {icon} {span['name']}",
        (" ✗" if span["status"] != "ok" else "", "red"),
        (f" {seconds * 1000:.1f} ms{' · ' + ' · '.join(extra) if extra else ''}", "dim"),
    )
