"""Outside text inside Textual markup shows exactly as it is, whatever its brackets."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from textual.content import Content

from caxton_tui.markup import escape

BRACKETY = st.text(alphabet=st.sampled_from('[]\\/="ab =@#:\n'), max_size=30)


PRINTABLE = st.text(st.characters(exclude_categories=("Cc", "Cs")), max_size=40)  # as typed


@given(st.one_of(PRINTABLE, BRACKETY))
def test_escaped_text_reads_back_as_it_was(text: str) -> None:
    assert Content.from_markup(escape(text)).plain == text


@given(BRACKETY)
def test_escaped_text_keeps_the_markup_around_it(text: str) -> None:
    shown = Content.from_markup(f"[b]who[/] {escape(text)} [dim]end[/]")
    assert shown.plain == f"who {text} end"


def test_the_text_that_took_the_app_down() -> None:
    for text in ('params = ["status=open"]', '["a=b"]', "[b]not bold[/b]", "[/]", "\\[x]"):
        assert Content.from_markup(escape(text)).plain == text
