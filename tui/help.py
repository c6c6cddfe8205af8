"""The help screen and the error modal."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Label, Static

from caxton_tui.markup import escape

KEYS = """\
[b]enter[/]        send            [b]ctrl+j[/]      new line in the message
[b]escape[/]       cancel the running request
[b]up / down[/]    earlier messages (at the first / last line)
[b]ctrl+t[/]       trace of the last answer     [b]ctrl+o[/]  chat
[b]ctrl+y[/]       memory                       [b]ctrl+g[/]  deploy
[b]ctrl+r[/]       reload the workspace         [b]ctrl+p[/]  command palette
[b]ctrl+l[/]       clear the chat               [b]f1[/]      this help
[b]f5[/]           restart the local server / retry the remote
[b]ctrl+q[/]       quit (stops the local server)

Saving a file in the workspace reloads it: errors show as
file:line:col, and agents that were working keep working.
Badges: ✓ valid, ✗ invalid, ● changed since the last deploy."""


class HelpScreen(ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        ("escape", "dismiss", "Close"),
        ("f1", "dismiss", "Close"),
    ]

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Label("[b]Caxton[/] · keys", classes="title")
            yield Static(KEYS)
            yield Button("Close", id="close")

    def on_button_pressed(self) -> None:
        self.dismiss()


class ErrorScreen(ModalScreen[None]):
    """One error, readable: what went wrong and the hint that fixes it."""

    BINDINGS: ClassVar[list[BindingType]] = [
        ("escape", "dismiss", "Close"),
        ("enter", "dismiss", "Close"),
    ]

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__()
        self.message = message
        self.hint = hint

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog", classes="error"):
            yield Label("[b red]error[/]", classes="title")
            yield Static(escape(self.message))
            if self.hint:
                yield Static(f"[cyan]hint[/]: {escape(self.hint)}")
            yield Button("Close", id="close", variant="error")

    def on_button_pressed(self) -> None:
        self.dismiss()
