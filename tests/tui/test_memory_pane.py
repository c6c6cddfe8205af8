"""The memory pane driven by a Textual pilot against the real embedded server over a real
workspace: memory put there through the API (and by the starter agent's auto-store), then
searched, filtered by scope and opened."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any

import pytest
from textual.app import App, ComposeResult
from textual.content import Content
from textual.pilot import Pilot
from textual.widgets import Input, Label, OptionList, Select, Static

from caxton.workspace.scaffold import create_agent, create_workspace
from caxton_tui.backend import Backend, Overview
from caxton_tui.memory import EMPTY, MemoryPane, Where

SIZE = (140, 40)


def synchronously(test: Callable[..., Coroutine[Any, Any, None]]) -> Callable[..., None]:
    """Run an async test on its own event loop (no pytest async plugin needed)."""

    @functools.wraps(test)
    def run(*args: Any, **kwargs: Any) -> None:
        asyncio.run(test(*args, **kwargs))

    return run


class Host(App[None]):
    """The least of `CaxtonApp` the pane uses: a started backend and the overview."""

    def __init__(self, backend: Backend) -> None:
        super().__init__()
        self.backend = backend
        self.overview: Overview | None = None

    def compose(self) -> ComposeResult:
        yield MemoryPane(id="memory")


@pytest.fixture
def backend(tmp_path: Path) -> Iterator[Backend]:
    root = tmp_path / "demo"
    create_workspace(root)
    create_agent(root, "analyst", "data-analyzer")
    served = Backend(root, model="test")
    served.start()
    try:
        yield served
    finally:
        served.stop()


def remember(backend: Backend) -> None:
    """Two related entities in the workspace's memory, and one in the assistant's own."""
    with backend.client() as client:
        client.post(
            "memory/entities",
            {
                "entities": [
                    {
                        "name": "Ada Lovelace",
                        "type": "person",
                        "observations": ["wrote the first program", "worked with Babbage"],
                    },
                    {
                        "name": "Analytical Engine",
                        "type": "machine",
                        "observations": ["designed by Babbage"],
                    },
                ]
            },
        )
        client.post(
            "memory/relations",
            {
                "relations": [
                    {
                        "from": "Ada Lovelace",
                        "to": "Analytical Engine",
                        "type": "programmed",
                        "strength": 0.9,
                    }
                ]
            },
        )
        client.post(
            "memory/entities",
            {"entities": [{"name": "Secret Plan", "type": "plan", "observations": ["hush"]}]},
            scope="agent",
            agent="assistant",
        )


async def settle(pilot: Pilot[None]) -> None:
    """Let pending messages start their workers, wait for every worker, then for the screen."""
    await pilot.pause()
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


def status(pane: MemoryPane) -> str:
    return str(pane.query_one("#memory-status", Label).render())


def details(pane: MemoryPane) -> str:
    return str(pane.query_one("#memory-details", Static).render())


def line(pane: MemoryPane, index: int) -> str:
    """A result as shown (its markup rendered)."""
    prompt = pane.query_one("#memory-results", OptionList).get_option_at_index(index).prompt
    return Content.from_markup(str(prompt)).plain


def names(pane: MemoryPane) -> list[str]:
    return [str(h.get("name") or h.get("from") or h.get("request")) for h in pane.results]


@synchronously
async def test_search_then_choose_an_entity_shows_its_details(backend: Backend) -> None:
    remember(backend)
    app = Host(backend)
    async with app.run_test(size=SIZE) as pilot:
        pane = app.query_one(MemoryPane)
        await settle(pilot)
        assert pane.state == "idle" and "3 entities · 1 relation · 0 interactions" in status(pane)
        await pilot.click("#memory-query")
        await pilot.press(*"Ada", "enter")
        await settle(pilot)
        assert pane.state == "results"
        kinds = {(h["kind"], h.get("name") or h.get("from")) for h in pane.results}
        assert ("entity", "Ada Lovelace") in kinds and ("relation", "Ada Lovelace") in kinds
        assert "Secret Plan" not in names(pane)  # the assistant's own memory, another scope
        listing = pane.query_one("#memory-results", OptionList)
        assert listing.option_count == len(pane.results)
        first = line(pane, 0)
        assert "\n" not in first and first.split()[0] in ("entity", "relation")

        index = next(i for i, h in enumerate(pane.results) if h["kind"] == "entity")
        listing.focus()
        listing.highlighted = index
        await pilot.press("enter")
        await settle(pilot)
        assert pane.entity is not None and pane.entity["name"] == "Ada Lovelace"
        assert [n["name"] for n in pane.neighbours] == ["Analytical Engine"]
        shown = details(pane)
        assert "• wrote the first program" in shown and "• worked with Babbage" in shown
        assert "Ada Lovelace → programmed → Analytical Engine (strength 0.90)" in shown
        assert "Analytical Engine (machine)" in shown

        pane.choose(next(i for i, h in enumerate(pane.results) if h["kind"] == "relation"))
        await settle(pilot)
        assert pane.entity is not None and pane.entity["name"] == "Ada Lovelace"


@synchronously
async def test_the_scope_filter_searches_one_scope(backend: Backend) -> None:
    remember(backend)
    app = Host(backend)
    async with app.run_test(size=SIZE) as pilot:
        pane = app.query_one(MemoryPane)
        app.overview = await asyncio.to_thread(backend.overview)
        pane.search("secret plan")
        await settle(pilot)
        assert pane.state == "results" and "Secret Plan" not in names(pane)

        pane.query_one("#memory-scope", Select).value = "agent"  # searches again
        await pilot.pause()
        agent = pane.query_one("#memory-agent", Input)
        assert agent.display and agent.value == "analyst"  # the first agent of the overview
        await settle(pilot)
        assert pane.state == "no-results" and pane.results == []
        assert "nothing in agent:analyst memory matches 'secret plan'" in status(pane)

        agent.value = "assistant"
        agent.focus()
        await pilot.press("enter")
        await settle(pilot)
        assert names(pane)[0] == "Secret Plan" and Where.of(pane.results[0]).agent == "assistant"
        pane.choose(0)
        await settle(pilot)
        assert pane.entity is not None and pane.entity["observations"] == ["hush"]

        pane.query_one("#memory-scope", Select).value = "global"
        await settle(pilot)
        assert not agent.display
        assert pane.state == "no-results" and "in global memory" in status(pane)

        pane.query_one("#memory-scope", Select).value = "workspace"
        await pilot.pause()
        pane.search("")  # an empty search lists the scope's entities
        await settle(pilot)
        assert names(pane) == ["Ada Lovelace", "Analytical Engine"]


@synchronously
async def test_an_interaction_stored_by_an_agent_is_found(backend: Backend) -> None:
    await asyncio.to_thread(
        backend.send,
        "remember that the sky is blue",
        agent="assistant",
        conversation_id=None,
        on_event=lambda name, data: None,
    )
    app = Host(backend)
    async with app.run_test(size=SIZE) as pilot:
        pane = app.query_one(MemoryPane)
        pane.search("sky")
        await settle(pilot)
        index = next(i for i, h in enumerate(pane.results) if h["kind"] == "interaction")
        assert "assistant: remember that the sky is blue" in line(pane, index)
        pane.choose(index)
        assert pane.entity is None
        assert "remember that the sky is blue" in details(pane)


@synchronously
async def test_a_search_matching_nothing_says_so(backend: Backend) -> None:
    remember(backend)
    app = Host(backend)
    async with app.run_test(size=SIZE) as pilot:
        pane = app.query_one(MemoryPane)
        pane.search("French capital")  # no shared word, and no closeness of meaning
        await settle(pilot)
        assert pane.results == [] and pane.state == "no-results"
        assert "nothing in workspace memory matches 'French capital'" in status(pane)


@synchronously
async def test_an_empty_store_shows_how_memory_fills(backend: Backend) -> None:
    app = Host(backend)
    async with app.run_test(size=SIZE) as pilot:
        pane = app.query_one(MemoryPane)
        await settle(pilot)
        assert pane.state == "empty" and status(pane) == EMPTY
        pane.search("anything")
        await settle(pilot)
        assert pane.state == "empty" and status(pane) == EMPTY


@synchronously
async def test_server_errors_are_notifications(backend: Backend) -> None:
    app = Host(backend)
    async with app.run_test(size=SIZE) as pilot:
        pane = app.query_one(MemoryPane)
        pane.open_entity("Nobody")
        await settle(pilot)
        errors = [n for n in app._notifications if n.severity == "error"]
        assert errors and "no entity 'Nobody'" in errors[0].message
        assert "hint: " in errors[0].message
        assert "could not load Nobody" in details(pane)  # not "loading…" for ever

        pane.query_one("#memory-scope", Select).value = "agent"
        await pilot.pause()
        pane.query_one("#memory-agent", Input).value = "not a name!"
        pane.search("x")
        await settle(pilot)
        assert pane.state == "error"
        assert len([n for n in app._notifications if n.severity == "error"]) == 2
