"""How fast the TUI is: start to the first usable screen, a file save to "reloaded", and the
longest frame stall while a long answer streams and a 1,000-span trace is open.

    python benchmarks/bench_tui.py          # ~30 s; prints figures against their targets

1. Start: a fresh `python` process runs `caxton tui` headless (Textual's `run_test`) over a new
   workspace; times from the process start to (a) the first screen mounted with the prompt
   focused (usable: you can type) and (b) the agents listed (the embedded server answered).
   The reference is a bare Textual app with one Input in the same kind of process.
2. Reload: in-process, the real app over the real embedded server; an agent file is saved and
   the time until the sidebar shows the change is taken, repeated.
3. Responsiveness: the app with a stand-in backend that streams a 4,000-token answer as fast
   as it can and then opens a 1,000-span trace; a 5 ms timer on the event loop records the
   longest gap between its ticks (a frame stall), against the same timer in an idle app;
   then the same on going back to the chat with that answer.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

RUNS = 5
STALL_TARGET_MS = 100

START_PROBE = r"""
import sys, time, asyncio
t0 = float(sys.argv[1])
from pathlib import Path
from caxton_tui.app import make_app
from caxton_tui.prompt import Prompt

async def main():
    app = make_app(Path(sys.argv[2]), model="test", watch=False)
    async with app.run_test(size=(120, 40)) as pilot:
        while not app.query(Prompt) or app.focused is None:
            await asyncio.sleep(0.001)
        usable = time.time() - t0
        while app.overview is None:
            await asyncio.sleep(0.002)
        listed = time.time() - t0
    print(f"{usable} {listed}")

asyncio.run(main())
"""

BARE_PROBE = r"""
import sys, time, asyncio
t0 = float(sys.argv[1])
from textual.app import App
from textual.widgets import Input

class Bare(App):
    def compose(self):
        yield Input()
    def on_mount(self):
        self.query_one(Input).focus()

async def main():
    app = Bare()
    async with app.run_test(size=(120, 40)):
        while app.focused is None:
            await asyncio.sleep(0.001)
        print(time.time() - t0)

asyncio.run(main())
"""


def _workspace(folder: Path) -> Path:
    from caxton.workspace.scaffold import create_agent, create_workspace

    root = folder / "bench-tui"
    create_workspace(root)
    create_agent(root, "analyst", "data-analyzer")
    create_agent(root, "reviewer", "code-reviewer")
    return root


def _spawn(code: str, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", code, repr(time.time()), *args],
        capture_output=True,
        text=True,
        check=True,
        env=os.environ,
    )
    return done.stdout.strip()


def start_times(root: Path) -> tuple[list[float], list[float], list[float]]:
    usable, listed, bare = [], [], []
    for _ in range(RUNS):
        a, b = _spawn(START_PROBE, str(root)).split()
        usable.append(float(a) * 1000)
        listed.append(float(b) * 1000)
        bare.append(float(_spawn(BARE_PROBE)) * 1000)
    return usable, listed, bare


async def reload_times(root: Path) -> list[float]:
    from caxton_tui.app import make_app

    app = make_app(root, model="test", watch=True)
    seconds: list[float] = []
    async with app.run_test(size=(120, 40)):
        while app.overview is None:
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.3)  # the watcher is up
        agent = root / "agents" / "assistant.toml"
        text = agent.read_text()
        for i in range(RUNS):
            marker = f"Edited {i}."
            started = time.perf_counter()
            agent.write_text(text.replace('description = "', f'description = "{marker} ', 1))
            while not (
                app.overview is not None
                and any(r.description.startswith(marker) for r in app.overview.agents)
            ):
                await asyncio.sleep(0.002)
            seconds.append((time.perf_counter() - started) * 1000)
            await asyncio.sleep(0.2)
    return seconds


def _stand_in(root: Path) -> Any:
    """A backend that answers from memory (no server): the UI's own cost is what is timed."""
    from caxton_tui.backend import AgentRow, Backend, Overview

    class StandIn(Backend):  # type: ignore[misc]  # caxton_tui is Any to mypy (it is tui/)
        def start(self) -> None:
            self.workspace, self.url = "bench", "memory://"
            self.started.set()

        def overview(self) -> Overview:
            return Overview("bench", (AgentRow("assistant", "", ("help",), True, ()),), (), ())

        def traces(self, limit: int = 50) -> list[dict[str, Any]]:
            return []

        def problems(self) -> list[Any]:
            return []

        def send(self, text: str, **kwargs: Any) -> dict[str, Any]:
            on_event = kwargs["on_event"]
            for i in range(4_000):
                line = f"\n\n## Part {i // 100}\n\n" if i % 100 == 0 else ""
                on_event("token", {"text": f"{line}word{i} "})
            return {
                "agent": "assistant", "answer": "", "route": None, "models": ["test"],
                "deterministic": True, "trace_id": "f" * 32, "conversation_id": "c",
                "usage": {"input_tokens": 1, "output_tokens": 4000}, "cost_usd": 0.0,
                "tool_calls": 0, "trace": {"spans": 1000},
            }  # fmt: skip

        def trace(self, trace_id: str) -> dict[str, Any]:
            root: dict[str, Any] = {"trace_id": trace_id, "span_id": "root", "parent_id": None,
                    "name": "request", "kind": "request", "start": 0.0, "end": 10.0,
                    "status": "ok", "attributes": {}}  # fmt: skip
            spans: list[dict[str, Any]] = [root]
            for i in range(999):
                parent = "root" if i % 10 == 0 else f"s{i - i % 10}"
                spans.append({
                    "trace_id": trace_id, "span_id": f"s{i}", "parent_id": parent,
                    "name": f"execute_tool t{i}", "kind": "tool", "start": i * 0.01,
                    "end": i * 0.01 + 0.005, "status": "ok",
                    "attributes": {"caxton.tool.fuel": i * 1000},
                })  # fmt: skip
            execution = {
                "agent": "assistant",
                "request": "long",
                "seconds": 10.0,
                "input_tokens": 1,
                "output_tokens": 4000,
                "trace_id": trace_id,
            }
            return {"execution": execution, "spans": spans}

    return StandIn(root)


async def stalls(root: Path) -> tuple[float, float, float, float]:
    """Longest gaps (ms) idle, while streaming then opening the trace, and on going back to
    the long chat; and the seconds the stream took."""
    from caxton_tui.app import CaxtonApp
    from caxton_tui.prompt import Prompt

    app = CaxtonApp(_stand_in(root), watch=False)
    gaps: list[float] = []
    last = time.perf_counter()

    def tick() -> None:
        nonlocal last
        now = time.perf_counter()
        gaps.append((now - last) * 1000)
        last = now

    async with app.run_test(size=(120, 40)) as pilot:
        while app.overview is None:
            await asyncio.sleep(0.01)
        app.set_interval(0.005, tick)
        await asyncio.sleep(1.0)
        idle = max(gaps[1:]) if len(gaps) > 1 else 0.0
        gaps.clear()
        last = time.perf_counter()
        prompt = app.query_one(Prompt)
        prompt.insert("a long answer please")
        started = time.perf_counter()
        await pilot.press("enter")
        while app.last_trace is None:
            await asyncio.sleep(0.01)
        await app.workers.wait_for_complete()
        await pilot.press("ctrl+t")
        await pilot.pause()
        streamed = time.perf_counter() - started
        await asyncio.sleep(0.3)
        busy = max(gaps) if gaps else 0.0
        gaps.clear()
        await pilot.press("ctrl+o")
        await pilot.pause()
        await asyncio.sleep(0.3)
        back = max(gaps) if gaps else 0.0
    return idle, busy, back, streamed


def _fmt(values: list[float]) -> str:
    return f"min {min(values):7.1f}  median {statistics.median(values):7.1f} ms"


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="caxton-bench-tui-") as tmp:
        folder = Path(tmp)
        os.environ["CAXTON_HOME"] = str(folder / "home")
        os.environ.setdefault("CAXTON_FORBID_REAL_LLM", "1")
        root = _workspace(folder)
        usable, listed, bare = start_times(root)
        print(f"1. start ({RUNS} fresh processes each; Python start included)")
        print(f"   caxton tui, first usable screen   {_fmt(usable)}   target <= 1,000 ms: "
              f"{'met' if statistics.median(usable) <= 1000 else 'NOT met'}")  # fmt: skip
        print(f"   caxton tui, agents listed         {_fmt(listed)}")
        print(f"   bare Textual app with an Input    {_fmt(bare)}")
        ratio = statistics.median(usable) / statistics.median(bare)
        print(f"   ratio usable / bare (medians)     {ratio:.2f}x")
        reloads = asyncio.run(reload_times(root))
        print(f"2. save -> reloaded in the sidebar   {_fmt(reloads)}   target <= 300 ms: "
              f"{'met' if statistics.median(reloads) <= 300 else 'NOT met'}")  # fmt: skip
        idle, busy, back, streamed = asyncio.run(stalls(root))
        print("3. longest gap between 5 ms timer ticks on the event loop")
        print(f"   idle app                          {idle:7.1f} ms")
        print(f"   4,000-token answer streaming, then a 1,000-span trace opened "
              f"({streamed:.2f} s): {busy:7.1f} ms   target <= {STALL_TARGET_MS} ms: "
              f"{'met' if busy <= STALL_TARGET_MS else 'NOT met'}")  # fmt: skip
        print(f"   then back to the chat with that answer          {back:7.1f} ms")


if __name__ == "__main__":
    main()
