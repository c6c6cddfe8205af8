"""Text from outside (requests, answers, tool results, names) placed inside Textual markup."""

from __future__ import annotations


def escape(text: str) -> str:
    """`text` shown exactly as it is inside markup. Every `[` is escaped: Textual's and Rich's
    own `escape` only touch what looks like a tag, and text such as `["status=open"]` then
    fails to parse and takes the app down."""
    return text.replace("[", "\\[")
