"""The trace pane over a big trace: it opens at its first level, and a folded span's own
spans appear when it is unfolded."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from textual.app import App, ComposeResult
from textual.widgets import Label, Tree

from caxton_tui.trace import LIVE_SECONDS, OPEN_ALL_UP_TO, TracePane


def _trace(groups: int, each: int) -> dict[str, Any]:
    spans: list[dict[str, Any]] = [
        {"span_id": "root", "parent_id": None, "name": "request", "kind": "request",
         "start": 0.0, "end": 10.0, "status": "ok", "attributes": {}}
    ]  # fmt: skip
    for g in range(groups):
        spans.append({"span_id": f"g{g}", "parent_id": "root", "name": f"llm call {g}",
                      "kind": "llm", "start": g * 0.1, "end": g * 0.1 + 0.09, "status": "ok",
                      "attributes": {"gen_ai.usage.input_tokens": 10}})  # fmt: skip
        for i in range(each):
            spans.append({"span_id": f"g{g}t{i}", "parent_id": f"g{g}",
                          "name": f"execute_tool t{g}.{i}", "kind": "tool",
                          "start": g * 0.1 + i * 0.001, "end": g * 0.1 + i * 0.001 + 0.0005,
                          "status": "ok" if i else "error",
                          "attributes": {"caxton.tool.fuel": 1000 * i}})  # fmt: skip
    execution = {"agent": "assistant", "request": "many tools", "seconds": 10.0,
                 "input_tokens": 10, "output_tokens": 20, "trace_id": "t" * 32}  # fmt: skip
    return {"execution": execution, "spans": spans}


class Host(App[None]):
    def compose(self) -> ComposeResult:
        yield TracePane()


def test_a_big_trace_builds_folded_spans_when_they_are_unfolded() -> None:
    async def run() -> None:
        app = Host()
        async with app.run_test(size=(120, 40)) as pilot:
            trace = _trace(groups=40, each=9)
            assert len(trace["spans"]) > OPEN_ALL_UP_TO
            app.query_one(TracePane).show(trace)
            await pilot.pause()
            tree = app.query_one("#spans", Tree)
            assert str(tree.root.label) == "401 spans"
            (request,) = tree.root.children
            assert request.is_expanded and len(request.children) == 40
            group = request.children[3]
            assert not group.is_expanded and not group.children and group.allow_expand
            group.expand()
            await pilot.pause()
            names = [str(child.label) for child in group.children]
            assert len(names) == 9 and "execute_tool t3.0 ✗" in names[0]
            assert "fuel 8,000" in names[8]
            group.collapse()
            group.expand()  # unfolding again does not add them twice
            await pilot.pause()
            assert len(group.children) == 9

    asyncio.run(run())


def test_a_small_trace_opens_whole() -> None:
    async def run() -> None:
        app = Host()
        async with app.run_test(size=(120, 40)) as pilot:
            app.query_one(TracePane).show(_trace(groups=3, each=2))
            await pilot.pause()
            (request,) = app.query_one("#spans", Tree).root.children
            assert all(group.is_expanded and len(group.children) == 2 for group in request.children)

    asyncio.run(run())


def _labels(tree: Tree[Any]) -> list[str]:
    found, pending = [], list(tree.root.children)
    while pending:
        node = pending.pop(0)
        found.append(str(node.label))
        pending += node.children
    return found


def test_the_running_request_shows_its_spans_as_they_end() -> None:
    async def run() -> None:
        app = Host()
        async with app.run_test(size=(120, 40)) as pilot:
            pane = app.query_one(TracePane)
            title = pane.query_one("#trace-title", Label)
            live = pane.start_live("many tools", "assistant")
            assert "running" in str(title.render())
            spans = _trace(groups=2, each=2)["spans"]
            ended = [s for s in spans if s["span_id"] in ("g0t0", "g0t1", "g0")]
            feeder = threading.Thread(target=lambda: [live.feed(s) for s in ended])
            feeder.start()
            feeder.join()
            await asyncio.sleep(LIVE_SECONDS * 2)
            await pilot.pause()
            tree = app.query_one("#spans", Tree)
            assert str(tree.root.label) == "3 spans"
            labels = _labels(tree)
            assert "llm call 0" in labels[0] and "execute_tool t0.1" in labels[-1]
            assert "3 spans ended so far" in str(title.render())
            pane.show(_trace(groups=2, each=2))  # the saved trace replaces it
            await pilot.pause()
            assert str(tree.root.label) == "7 spans" and "running" not in str(title.render())
            live.feed(spans[-1])  # a late span from the finished request changes nothing
            await asyncio.sleep(LIVE_SECONDS * 2)
            assert str(tree.root.label) == "7 spans"

            other = pane.start_live("cancel me", "auto")
            pane.end_live(live, "cancelled")  # an older request's end: not this one's
            assert "running" in str(title.render())
            pane.end_live(other, "cancelled")
            assert "cancelled" in str(title.render())

    asyncio.run(run())
