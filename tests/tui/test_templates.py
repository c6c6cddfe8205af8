"""Every agent template chatted with in the TUI as a new user would: a fresh workspace with all
ten, one app over the real embedded server and the `test` model, each agent chosen in the
sidebar (one through the command palette's "Talk to AGENT") and asked something that fits it,
then requests to "auto" to see the router choose. What the user sees is checked: the answer,
who gave it with which model, the folded tool calls, no error, and that request's trace."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.command import CommandPalette
from textual.pilot import Pilot
from textual.widgets import Collapsible, Label, OptionList, TabbedContent, Tree

from caxton.workspace.scaffold import create_agent, create_workspace
from caxton.workspace.templates import load_template, template_names
from caxton_tui.app import CaxtonApp, make_app
from caxton_tui.chat import Turn
from caxton_tui.help import ErrorScreen
from caxton_tui.prompt import Prompt
from tests.tui.test_app import SIZE, started, synchronously, until

# A request that fits each template, as a new user would type it (several lines where a user
# would paste a snippet). Text with `["...x=y..."]` in it has its own test at the end.
REQUESTS = {
    "api-client": "GET /v1/customers/42/invoices with status open: number, amount and due date",
    "code-reviewer": "Any bugs here?\n```python\ndef mean(xs):\n    return sum(xs) / len(xs)\n```",
    "content-generator": "Write a short blog post announcing our new offline mode",
    "data-analyzer": "Which region had the best quarter?\nregion,q1,q2\nnorth,3,5\nsouth,8,2",
    "data-validator": "Check that every row of orders.csv has a valid email and a positive amount",
    "documentation-builder": "Write a README for the payments module",
    "pipeline-coordinator": "Plan a pipeline: validate orders.csv, analyse revenue, write a report",
    "system-monitor": "Is the disk on db-2 almost full? Check CPU and memory too",
    "task-automator": "Every Friday I pull the metrics, check them and tell the team: automate it",
    "test-runner": "Run the smoke tests in tests/smoke.json against http://localhost:8080",
}
DELEGATES = {"pipeline-coordinator": "data-analyzer", "task-automator": "system-monitor"}
PALETTE = "test-runner"  # chosen with ctrl+p "Talk to test-runner"; the others in the sidebar
# requests to "auto", and the agent the router gives each to
ROUTED = {
    "Does `for i in range(len(items) + 1):` have an off-by-one?": "code-reviewer",
    "Write a tweet announcing our launch": "content-generator",
    "What is the mean and standard deviation of the price column in sales.csv?": "data-analyzer",
}


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    """A fresh workspace with one agent per template, named after it, as `caxton init` makes."""
    root = tmp_path / "templates"
    create_workspace(root)
    for name in template_names():
        create_agent(root, name, name)
    return root


def test_there_is_a_request_for_every_template() -> None:
    assert len(template_names()) == 10
    assert sorted(REQUESTS) == template_names(), "a template was added: give it a request"
    assert set(ROUTED.values()) <= set(REQUESTS)


def shown(app: CaxtonApp, selector: str) -> str:
    return str(app.query_one(selector, Label).render())


def who(turn: Turn) -> str:
    return str(turn.query_one(".who", Label).render())


async def choose(app: CaxtonApp, pilot: Pilot[None], agent: str | None) -> None:
    """Pick an agent as a user does: the sidebar's list (enter), or the command palette."""
    if agent == PALETTE:
        await pilot.press("ctrl+p")
        await until(lambda: isinstance(app.screen, CommandPalette), "the command palette")
        await pilot.press(*agent)  # the best match: "Talk to test-runner"
        await pilot.pause(0.3)  # the palette searches as the user types
        await pilot.press("enter")
    else:
        agents = app.query_one("#agents", OptionList)
        agents.focus()
        agents.highlighted = agents.get_option_index(agent or "auto")
        await pilot.press("enter")
    await until(lambda: app.agent == agent, f"{agent} to be chosen")
    assert shown(app, "#target").endswith(agent or "auto (the router chooses)")


async def ask(app: CaxtonApp, pilot: Pilot[None], request: str) -> Turn:
    """Type a request (ctrl+j between its lines), send it, wait for its answer and trace."""
    before = app.last_trace
    prompt = app.query_one(Prompt)
    assert prompt.has_focus  # choosing an agent hands the focus to the prompt
    for i, line in enumerate(request.split("\n")):
        if i:
            await pilot.press("ctrl+j")
        prompt.insert(line)
    await pilot.press("enter")
    turn = app.query(Turn).last()
    await until(lambda: not who(turn).startswith("…"), "the answer")
    await until(lambda: app.last_trace not in (None, before), "the trace id")
    trace = app.last_trace or ""
    await until(lambda: trace[:12] in shown(app, "#trace-title"), "the trace in its pane")
    return turn


def check_answer(app: CaxtonApp, turn: Turn, agent: str, request: str) -> None:
    """The answer is there, from `agent` and the test model, with each of its tools called."""
    assert who(turn).startswith(f"{agent} answered"), who(turn)
    assert "model test/test" in who(turn) and "deterministic" in who(turn)
    assert turn.text.startswith("[test model] request: ")
    assert request.split("\n")[0] in " ".join(turn.text.split()), turn.text[:300]
    assert (app.last_trace or "")[:12] in str(turn.query_one(".summary", Label).render())
    titles = [str(c.title) for c in turn.query(".tools Collapsible").results(Collapsible)]
    for tool in load_template(agent).tools:  # the test model calls each of them once
        assert any(f"tool {tool} " in title and " · by " not in title for title in titles), (
            tool,
            titles,
        )
    if agent in DELEGATES:  # the calls of the agent it delegated to say whose they are
        assert any(title.endswith(f" · by {DELEGATES[agent]}") for title in titles), titles
        assert f"- tool {tool}" in turn.text  # and lists each result on a line of its own
    assert not any(isinstance(screen, ErrorScreen) for screen in app.screen_stack)
    assert not [n.message for n in app._notifications if n.severity == "error"]


async def check_trace(app: CaxtonApp, pilot: Pilot[None], agent: str, *, look: bool) -> None:
    """The trace pane has this request's span tree, listed first; with `look`, seen as a user
    does: ctrl+t, then ctrl+o back to the chat (a tab switch costs a third of a second)."""
    if look:
        await pilot.press("ctrl+t")
        assert app.query_one(TabbedContent).active == "trace-tab"
    assert shown(app, "#trace-title").startswith(f"{agent} · ")
    listing = app.query_one("#trace-list", OptionList)
    await until(
        lambda: listing.option_count > 0 and listing.get_option_at_index(0).id == app.last_trace,
        "the request at the top of the list",
    )
    labels: list[str] = []
    pending = list(app.query_one("#spans", Tree).root.children)
    while pending:
        node = pending.pop()
        labels.append(str(node.label))
        pending += node.children
    assert any(f"invoke_agent {agent}" in label for label in labels), labels
    assert any("execute_tool" in label for label in labels), labels
    assert any(" ms" in label and "tok" in label for label in labels), labels  # an LLM call
    if look:
        await pilot.press("ctrl+o")


@synchronously
async def test_chat_with_every_template_agent_then_let_the_router_choose(workspace: Path) -> None:
    app = make_app(workspace, model="test", watch=False)
    app.animation_level = "none"  # tab switches are not waited for
    async with app.run_test(size=SIZE) as pilot:
        await started(app)
        assert app.overview is not None
        assert [r.name for r in app.overview.agents] == sorted([*template_names(), "assistant"])
        assert all(r.valid for r in app.overview.agents)
        for agent, request in REQUESTS.items():
            await choose(app, pilot, agent)
            turn = await ask(app, pilot, request)
            check_answer(app, turn, agent, request)
            await check_trace(app, pilot, agent, look=True)
            await pilot.press("ctrl+l")  # a clear chat for the next one
        await choose(app, pilot, None)
        for request, chosen in ROUTED.items():
            turn = await ask(app, pilot, request)
            check_answer(app, turn, chosen, request)
            assert f"routed: '{chosen}' scores" in who(turn)
            await check_trace(app, pilot, chosen, look=False)


@synchronously
async def test_a_request_with_a_json_list_is_shown_as_typed(tmp_path: Path) -> None:
    root = tmp_path / "brackets"
    create_workspace(root)
    app = make_app(root, model="test", watch=False)
    request = 'what does params = ["status=open"] do?'
    async with app.run_test(size=SIZE) as pilot:
        await started(app)
        await choose(app, pilot, "assistant")
        # what enter in the prompt sends: a pilot's key press waits long on a crashed app
        app.query_one(Prompt).post_message(Prompt.Submitted(request))
        await until(lambda: app.last_trace is not None or not app.is_running, "the answer")
        if not app.is_running:
            return  # it crashed: leaving `run_test` raises why
        await pilot.pause()
        turn = app.query(Turn).last()
        assert request in str(turn.query_one(".request").render())
        for folded in turn.query(".tools Collapsible").results(Collapsible):
            folded.collapsed = False  # each tool call opened, as a user clicks it
        await pilot.pause()
        await check_trace(app, pilot, "assistant", look=True)
        await pilot.press("ctrl+t", "down", "down", "down")  # each span's details, highlighted
