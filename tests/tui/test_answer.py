"""The streamed answer widget: Markdown cut into blocks that render alike apart and together,
drawn from kept lines, catching up over frames when a lot arrives at once."""

from __future__ import annotations

import asyncio
import threading

from hypothesis import given
from hypothesis import strategies as st
from textual.app import App, ComposeResult

from caxton_tui.answer import Answer, blocks
from caxton_tui.chat import SHOW_SECONDS, ChatPane

LINES = st.sampled_from(
    ["", " ", "text", "## Head", "- item", "1. first", "   continued", "    code", "```",
     "```python", "~~~", "| a | b |", "> quote"]
)  # fmt: skip


def _kept(text: str) -> list[str]:
    return [line for line in text.split("\n") if line.strip()]


@given(st.lists(LINES, max_size=40))
def test_blocks_keep_every_line_in_order(lines: list[str]) -> None:
    text = "\n".join(lines)
    found = blocks(text)
    assert _kept("\n".join(found)) == _kept(text)
    for block in found:
        assert block.strip()
        assert block.split("\n")[0].strip()
        if "```" not in block and "~~~" not in block:  # an open fence keeps its blank lines
            assert block.split("\n")[-1].strip()


@given(st.lists(LINES, max_size=40))
def test_a_fenced_block_is_never_cut(lines: list[str]) -> None:
    found = blocks("\n".join(lines))
    for block in found[:-1]:  # only the last may be open: its fence is still streaming
        fence = ""  # the opening fence's character while inside a fenced block
        for line in block.split("\n"):
            stripped = line.strip()
            if fence:
                if len(stripped) >= 3 and set(stripped) == {fence}:
                    fence = ""
            elif stripped.startswith(("```", "~~~")):
                fence = stripped[0]
        assert not fence, block


def test_blocks_of_an_answer() -> None:
    text = (
        "## Plan\n\nFirst paragraph\nstill first.\n\n1. one\n\n   more about one\n2. two\n\n"
        "```python\nx = 1\n\ny = 2\n```\n\nlast"
    )
    assert blocks(text) == [
        "## Plan",
        "First paragraph\nstill first.",
        "1. one\n\n   more about one\n2. two",
        "```python\nx = 1\n\ny = 2\n```",
        "last",
    ]


class Host(App[None]):
    def compose(self) -> ComposeResult:
        yield Answer()


def _shown(answer: Answer) -> str:
    return "\n".join(answer.render_line(y).text for y in range(answer.size.height))


def test_a_long_answer_appended_at_once_is_drawn_over_frames() -> None:
    async def run() -> None:
        app = Host()
        async with app.run_test(size=(80, 400)) as pilot:
            answer = app.query_one(Answer)
            answer.BUDGET_SECONDS = 0.0  # one new block per frame
            parts = [f"## Part {i}\n\nword{i} **bold{i}** `code{i}`\n\n" for i in range(30)]
            answer.append("".join(parts))
            await pilot.pause()
            assert "code29" not in _shown(answer)  # not all at once
            for _ in range(100):
                if "code29" in _shown(answer):
                    break
                await pilot.pause()
            shown = _shown(answer)
            assert all(f"word{i} bold{i} code{i}" in shown for i in range(30))
            assert "**" not in shown and "`" not in shown and "##" not in shown

    asyncio.run(run())


def test_streamed_text_shows_as_it_grows_and_in_either_theme() -> None:
    async def run() -> None:
        app = Host()
        async with app.run_test(size=(60, 40)) as pilot:
            answer = app.query_one(Answer)
            for word in ("Hello", " there,", " friend.\n\n- a\n- b"):
                answer.append(word)
                await pilot.pause()
            assert "Hello there, friend." in _shown(answer)
            assert "• a" in _shown(answer) and "• b" in _shown(answer)
            app.theme = "textual-light"
            await pilot.pause()
            assert "Hello there, friend." in _shown(answer)
            assert answer.size.height == 4  # the paragraph, one blank line, two items

    asyncio.run(run())


class ChatHost(App[None]):
    def compose(self) -> ComposeResult:
        yield ChatPane()


def test_text_fed_from_a_thread_shows_without_waiting_for_more() -> None:
    """A model that sends a word and then thinks: the word shows within a tick."""

    async def run() -> None:
        app = ChatHost()
        async with app.run_test(size=(80, 30)) as pilot:
            turn = app.query_one(ChatPane).start_turn("hi", "assistant")
            await pilot.pause()
            feeder = threading.Thread(target=turn.feed, args=("Thinking about it",))
            feeder.start()
            feeder.join()
            await asyncio.sleep(SHOW_SECONDS * 3)
            await pilot.pause()
            assert "Thinking about it" in _shown(turn.query_one(Answer))
            turn.feed(" and done.")
            turn.finish({"agent": "assistant", "models": ["test"], "deterministic": True})
            await pilot.pause()
            assert turn.text == "Thinking about it and done."
            assert "Thinking about it and done." in _shown(turn.query_one(Answer))

    asyncio.run(run())
