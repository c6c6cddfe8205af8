"""The message input: several lines (ctrl+j or alt+enter for a new line), Enter sends, and
up/down on the first/last line walk the history of what was sent."""

from __future__ import annotations

from dataclasses import dataclass

from textual import events
from textual.message import Message
from textual.widgets import TextArea


class Prompt(TextArea):
    @dataclass
    class Submitted(Message):
        text: str

    def __init__(self, **kwargs: object) -> None:
        super().__init__(
            soft_wrap=True,
            show_line_numbers=False,
            tab_behavior="focus",
            **kwargs,  # type: ignore[arg-type]
        )
        self.sent: list[str] = []
        self._at: int | None = None  # index into history while walking it

    async def _on_key(self, event: events.Key) -> None:
        if event.key == "enter":
            event.prevent_default()
            event.stop()
            text = self.text.strip()
            if text:
                self.sent.append(text)
                self._at = None
                self.clear()
                self.post_message(self.Submitted(text))
            return
        if event.key in ("ctrl+j", "alt+enter"):
            event.prevent_default()
            event.stop()
            self.insert("\n")
            return
        if event.key == "up" and self.cursor_location[0] == 0 and self.sent:
            event.prevent_default()
            event.stop()
            self._at = len(self.sent) - 1 if self._at is None else max(0, self._at - 1)
            self.text = self.sent[self._at]
            return
        last_line = self.document.line_count - 1
        if event.key == "down" and self._at is not None and self.cursor_location[0] == last_line:
            event.prevent_default()
            event.stop()
            self._at += 1
            if self._at >= len(self.sent):
                self._at = None
                self.clear()
            else:
                self.text = self.sent[self._at]
            return
        await super()._on_key(event)
