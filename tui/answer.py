"""A streamed Markdown answer as one widget that keeps its rendered lines.

Textual's `Markdown` widget mounts a widget per block, and a long answer's hundreds of blocks
make every layout (each streamed chunk, each tab switch) slow enough to stall frames. Here the
text is cut into blocks at blank lines; each finished block is rendered once (Rich's Markdown)
and kept per width, and only the last block, which may still be growing, is rendered again
when text arrives. The widget draws its lines through the line API, so the screen lays out
one widget per answer however long the answer is.
"""

from __future__ import annotations

import time
from functools import cache

from rich.markdown import Markdown
from rich.segment import Segment
from rich.theme import Theme
from textual.geometry import Size
from textual.strip import Strip
from textual.widget import Widget

FENCES = ("```", "~~~")


def blocks(text: str) -> list[str]:
    """The Markdown in `text` cut at blank lines into blocks that render the same apart as
    together: never inside a fenced code block, nor before an indented line (a list item's
    next paragraph, which alone would read as code)."""
    found: list[str] = []
    current: list[str] = []
    fence = ""
    blank = False
    for line in text.split("\n"):
        stripped = line.lstrip()
        if fence:
            current.append(line)
            if stripped.startswith(fence) and not stripped.rstrip().strip(fence[0]):
                fence = ""
            continue
        if not stripped:
            blank = bool(current)
            continue
        if blank:
            if line[0] in " \t":
                current.append("")
            else:
                found.append("\n".join(current))
                current = []
            blank = False
        if stripped.startswith(FENCES):
            fence = stripped[:3]
        current.append(line)
    if current:
        found.append("\n".join(current))
    return found


class Answer(Widget):
    """Markdown that grows at its end (`append`), drawn from kept lines."""

    DEFAULT_CSS = "Answer { height: auto; }"
    BUDGET_SECONDS = 0.02  # rendering per frame; the rest waits for the next frames
    LOOKS = 2  # (width, theme) pairs whose lines are kept: a tab switch comes back to one

    def __init__(self, *, classes: str | None = None) -> None:
        super().__init__(classes=classes)
        self.text = ""
        self._kept: dict[tuple[int, str], dict[str, list[Strip]]] = {}
        self._lines: list[Strip] = []
        self._drawn: tuple[int, int, str] | None = None  # (text length, width, theme) drawn
        self._behind = False  # blocks left to render on the next frames

    def append(self, text: str) -> None:
        if text:
            self.text += text
            self.refresh(layout=True)

    def _draw(self, width: int) -> list[Strip]:
        theme = self.app.theme
        if self._drawn == (len(self.text), width, theme):
            return self._lines
        look = (width, theme)
        old = self._kept.pop(look, {})
        kept: dict[str, list[Strip]] = {}
        lines: list[Strip] = []
        deadline = time.perf_counter() + self.BUDGET_SECONDS
        behind = False
        rendered = 0  # at least one block a frame, whatever the budget
        for block in blocks(self.text):
            strips = old.get(block)
            if strips is None:
                if rendered and time.perf_counter() > deadline:
                    behind = True
                    break
                strips = self._render_block(block, width)
                rendered += 1
            kept[block] = strips
            if lines:
                lines.append(Strip.blank(width))
            lines.extend(strips)
        self._kept[look] = kept
        while len(self._kept) > self.LOOKS:
            del self._kept[next(iter(self._kept))]
        self._lines, self._drawn = lines, (len(self.text), width, theme)
        if behind and not self._behind:
            self._behind = True
            self.call_after_refresh(self._catch_up)
        return lines

    def _catch_up(self) -> None:
        self._behind = False
        self._drawn = None
        self.refresh(layout=True)

    def _render_block(self, block: str, width: int) -> list[Strip]:
        console = self.app.console
        options = console.options.update_width(max(width, 1))
        code_theme = "monokai" if self.app.current_theme.dark else "friendly"
        colors = self.app.theme_variables
        theme = _markdown_theme(
            colors["text-primary"], colors["text-secondary"], colors["text-accent"]
        )
        with console.use_theme(theme):
            rendered = Segment.split_and_crop_lines(
                console.render(Markdown(block, code_theme=code_theme), options),
                width,
                pad=False,
                include_new_lines=False,
            )
            strips = [Strip(line).extend_cell_length(width) for line in rendered]
        while strips and _blank(strips[0]):  # Rich sets some blocks apart with blank lines
            strips.pop(0)
        while strips and _blank(strips[-1]):
            strips.pop()
        return strips

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        return len(self._draw(width))

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        lines = self._draw(width)
        if y < len(lines):
            return lines[y].apply_style(self.rich_style)
        return Strip.blank(width, self.rich_style)


def _blank(strip: Strip) -> bool:
    return not strip.text.strip() and not any(
        segment.style is not None and segment.style.bgcolor is not None for segment in strip
    )


@cache
def _markdown_theme(primary: str, secondary: str, accent: str) -> Theme:
    """Rich's Markdown styles in the app theme's colors, so answers read in light and dark."""
    return Theme(
        {
            "markdown.h1": f"bold underline {primary}",
            "markdown.h1.border": primary,
            "markdown.h2": f"bold {primary}",
            "markdown.h3": f"bold {secondary}",
            "markdown.h4": f"italic {secondary}",
            "markdown.code": f"bold {accent}",
            "markdown.code_block": secondary,
            "markdown.block_quote": f"italic {secondary}",
            "markdown.list": primary,
            "markdown.item.number": primary,
            "markdown.link": f"underline {primary}",
            "markdown.link_url": secondary,
            "markdown.table.border": secondary,
            "markdown.table.header": f"bold {primary}",
        }
    )
