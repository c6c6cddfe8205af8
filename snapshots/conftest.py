"""Fixed data for the TUI's snapshot tests: a `Backend` that answers from recorded literals
(trimmed from one real request to the embedded server with the `test` model), with fixed ids,
clocks and paths, so every SVG is the same on every machine and every run."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from caxton.client import Client, OnEvent, RemoteError
from caxton.errors import CaxtonError, Problem
from caxton_tui.app import CaxtonApp
from caxton_tui.backend import AgentRow, Backend, Overview

ROOT = Path("/ws/demo")  # never read: FixedBackend touches no file
URL = "http://127.0.0.1:8765"
CONVERSATION = "5f5116a148e02641c3c648243d5f2b95"

# ----- the workspace -----------------------------------------------------------------------

BROKEN = Problem(
    ROOT / "agents" / "broken.toml",
    3,
    1,
    "unknown key 'tols' at the top level",
    "did you mean `tools`?",
    code="unknown-key",
)

OVERVIEW = Overview(
    workspace="demo",
    agents=(
        AgentRow(
            "analyst",
            "Analyzes CSV and JSON files from the workspace data dir.",
            ("data-analysis", "descriptive-statistics", "csv-analysis", "report-generation"),
            valid=True,
            problems=(),
            changed=True,
        ),
        AgentRow(
            "assistant",
            "The workspace's general-purpose assistant.",
            ("general-assistance", "question-answering", "knowledge-recall", "request-triage"),
            valid=True,
            problems=(),
        ),
        AgentRow(
            "broken",
            "Summarises reports.",
            ("summarisation",),
            valid=False,
            problems=(f"agents/broken.toml:3:1: {BROKEN.message}",),
        ),
    ),
    tools=(
        ("chart", "sandboxed"),
        ("csv_parser", "sandboxed"),
        ("delegate", "messaging, outside"),
        ("file_read", "sandboxed"),
        ("memory_search", "memory, outside"),
        ("stats", "sandboxed"),
    ),
    remotes=("prod",),
    problems=(BROKEN,),
)

# ----- the request sent in the snapshots, as it streams --------------------------------------

REQUEST = "describe the numbers 3, 5 and 8"
TRACE = "39f7e050d2e2f0b291207b070e571a72"
AGENT_SPAN = "99e95337b79ef113"
T0 = 1796676633.25  # 2026-12-07T20:50:33.25Z

TOKENS = (
    "## The numbers 3, 5 and 8\n\n",
    "Three values with a **mean of 5.33** and a median of 5:\n\n",
    "| statistic | value |\n|---|---:|\n",
    "| count | 3 |\n| mean | 5.33 |\n| std | 2.05 |\n| min – max | 3 – 8 |\n\n",
    "- the spread is *5* (`max - min`)\n",
    "- the mean sits above the median: a slight right skew\n\n",
    "`numbers.csv` was not found, so I used the numbers in the request.",
)

STATS = '{"count":3,"mean":5.33,"std":2.05,"min":3,"p25":4,"median":5,"p75":6.5,"max":8,"sum":16}'
CHART = (
    "3 |############### 3\n"
    "5 |######################### 5\n"
    "8 |######################################## 8\n"
)
# name, arguments, result, error, seconds, span id
ToolCall = tuple[str, str, str, str | None, float, str]
TOOL_CALLS: tuple[ToolCall, ...] = (
    (
        "file_read",
        '{"path": "numbers.csv"}',
        "cannot open numbers.csv: No such file or directory",
        "cannot open numbers.csv: No such file or directory",
        0.192,
        "14f750e7b3d48019",
    ),
    ("stats", '{"op": "describe", "values": [3, 5, 8]}', STATS, None, 0.082, "2164d001aeab9980"),
    (
        "chart",
        '{"values": [3, 5, 8], "type": "bar", "format": "ascii"}',
        CHART,
        None,
        0.062,
        "6221d9cdf48f856a",
    ),
)


def _tool_event(call: ToolCall) -> dict[str, Any]:
    name, arguments, result, error, seconds, span_id = call
    return {
        "name": name,
        "outcome": "error" if error else "ok",
        "error": error,
        "arguments": arguments,
        "result": result,
        "span_id": span_id,
        "seconds": seconds,
    }


# The first LLM call asks for the tools, the second writes the answer.
EVENTS: tuple[tuple[str, dict[str, Any]], ...] = (
    *(("tool", _tool_event(call)) for call in TOOL_CALLS),
    *(("token", {"text": text}) for text in TOKENS),
)

ROUTE_REASON = (
    "'analyst' scores 0.51 (capability 'descriptive-statistics' 0.45; profile 0.47; "
    "examples 0.39; words: describe, numbers)"
)

RESULT: dict[str, Any] = {
    "workspace": "demo",
    "agent": "analyst",
    "answer": "".join(TOKENS),
    "stop_reason": "done",
    "detail": "",
    "conversation_id": CONVERSATION,
    "trace_id": TRACE,
    "usage": {"input_tokens": 1719, "output_tokens": 322},
    "cost_usd": 0.0,
    "turns": 2,
    "tool_calls": 3,
    "deterministic": True,
    "models": ["test"],
    "route": {
        "chosen": "analyst",
        "method": "embedding",
        "reason": ROUTE_REASON,
        "candidates": [
            {"agent": "analyst", "score": 0.507},
            {"agent": "assistant", "score": 0.388},
        ],
    },
    "trace": {
        "spans": 10,
        "llm_calls": 2,
        "tool_calls": 3,
        "messages": 0,
        "input_tokens": 1719,
        "output_tokens": 322,
        "cost_usd": 0.0,
        "errors": 1,
    },
    "error": None,
}


def _span(
    trace_id: str,
    span_id: str,
    parent_id: str | None,
    name: str,
    kind: str,
    start: float,
    end: float,
    attributes: dict[str, Any],
    status: str = "ok",
) -> dict[str, Any]:
    return {
        "trace_id": trace_id,
        "span_id": span_id,
        "parent_id": parent_id,
        "name": name,
        "kind": kind,
        "start": start,
        "end": end,
        "status": status,
        "attributes": attributes,
    }


def _llm(agent: str, tokens_in: int, tokens_out: int, finish: str) -> dict[str, Any]:
    return {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "test",
        "gen_ai.agent.name": agent,
        "gen_ai.response.model": "test",
        "gen_ai.usage.input_tokens": tokens_in,
        "gen_ai.usage.output_tokens": tokens_out,
        "gen_ai.response.finish_reasons": [finish],
        "caxton.cost_usd": 0.0,
        "caxton.model.deterministic": True,
    }


def _tool_span(call: ToolCall, number: int, fuel: int, start: float) -> dict[str, Any]:
    name, arguments, result, error, seconds, span_id = call
    attributes: dict[str, Any] = {
        "gen_ai.operation.name": "execute_tool",
        "gen_ai.tool.name": name,
        "gen_ai.tool.call.id": f"call_{number}",
        "gen_ai.tool.type": "wasm",
        "gen_ai.tool.call.arguments": arguments,
        "caxton.tool.sandboxed": True,
        "caxton.tool.fuel": fuel,
        "gen_ai.tool.call.result": result,
    }
    if error:
        attributes["caxton.error"] = error
    status = "error" if error else "ok"
    return _span(
        TRACE, span_id, AGENT_SPAN, f"execute_tool {name}", "tool", start, start + seconds,
        attributes, status,
    )  # fmt: skip


def _main_spans() -> list[dict[str, Any]]:
    root, agent = "199ce5d0ad66354d", AGENT_SPAN
    spans = [
        _span(TRACE, root, None, "request", "request", T0, T0 + 1.24,
              {"gen_ai.conversation.id": CONVERSATION, "caxton.stop_reason": "done"}),
        _span(TRACE, "bc2ebd5a92649aec", root, "route", "route", T0, T0 + 0.42,
              {"caxton.route.chosen": "analyst", "caxton.route.method": "embedding",
               "caxton.route.reason": ROUTE_REASON}),
        _span(TRACE, agent, root, "invoke_agent analyst", "agent", T0 + 0.425, T0 + 1.238,
              {"gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": "analyst",
               "caxton.depth": 0, "caxton.stop_reason": "done"}),
        _span(TRACE, "ab0f14fd02215509", agent, "memory search", "memory", T0 + 0.426,
              T0 + 0.47, {"caxton.memory.scope": "workspace:demo", "caxton.memory.hits": 0}),
        _span(TRACE, "56d0a47d1de92736", agent, "chat test", "llm", T0 + 0.48, T0 + 0.52,
              _llm("analyst", 751, 67, "tool_calls")),
    ]  # fmt: skip
    at = T0 + 0.522
    for number, (call, fuel) in enumerate(zip(TOOL_CALLS, (37510, 108952, 50212), strict=True)):
        spans.append(_tool_span(call, number + 1, fuel, at))
        at += call[4] + 0.001
    spans += [
        _span(TRACE, "97ac6538baab2ed7", agent, "chat test", "llm", T0 + 0.862, T0 + 1.18,
              _llm("analyst", 968, 255, "stop")),
        _span(TRACE, "95b6c5cbd7b70781", agent, "memory store", "memory", T0 + 1.182,
              T0 + 1.236, {"caxton.memory.scope": "workspace:demo"}),
    ]  # fmt: skip
    return spans


def _execution(
    trace_id: str,
    agent: str,
    request: str,
    answer: str,
    started_at: str,
    seconds: float,
    tokens: tuple[int, int],
    tool_calls: int,
    turns: int,
) -> dict[str, Any]:
    return {
        "trace_id": trace_id,
        "conversation_id": CONVERSATION,
        "agent": agent,
        "request": request,
        "answer": answer,
        "stop_reason": "done",
        "detail": "",
        "started_at": started_at,
        "seconds": seconds,
        "input_tokens": tokens[0],
        "output_tokens": tokens[1],
        "cost_usd": 0.0,
        "deterministic": True,
        "models": ["test"],
        "tool_calls": tool_calls,
        "turns": turns,
    }


EARLIER = "8d0c2b6a4e1f4a7b9c3d2e1f0a9b8c7d"
E0 = 1796676490.5  # 2026-12-07T20:48:10.5Z
EARLIER_TRACE: dict[str, Any] = {
    "execution": _execution(
        EARLIER, "assistant", "what did we decide about naming the reports?",
        "[test model] request: what did we decide about naming the reports?",
        "2026-12-07T20:48:10.500000+00:00", 0.412, (402, 58), 0, 1,
    ),
    "spans": [
        _span(EARLIER, "0a1b2c3d4e5f6071", None, "request", "request", E0, E0 + 0.412, {}),
        _span(EARLIER, "1a1b2c3d4e5f6071", "0a1b2c3d4e5f6071", "route", "route", E0,
              E0 + 0.31, {"caxton.route.chosen": "assistant", "caxton.route.method": "embedding"}),
        _span(EARLIER, "2a1b2c3d4e5f6071", "0a1b2c3d4e5f6071", "invoke_agent assistant",
              "agent", E0 + 0.312, E0 + 0.41, {"gen_ai.agent.name": "assistant"}),
        _span(EARLIER, "3a1b2c3d4e5f6071", "2a1b2c3d4e5f6071", "chat test", "llm", E0 + 0.33,
              E0 + 0.4, _llm("assistant", 402, 58, "stop")),
    ],
}  # fmt: skip

MAIN_TRACE: dict[str, Any] = {
    "execution": _execution(
        TRACE, "analyst", REQUEST, RESULT["answer"], "2026-12-07T20:50:33.250000+00:00",
        1.24, (1719, 322), 3, 2,
    ),
    "spans": _main_spans(),
}  # fmt: skip


# ----- the backend -----------------------------------------------------------------------------


class FixedBackend(Backend):  # type: ignore[misc]  # caxton_tui is Any to this mypy config
    """Fixed data for snapshots: the `Backend` surface answered from the literals above, with
    no server, no network and no file read. `start_error` makes `start()` fail with it."""

    def __init__(
        self,
        root: Path | None,
        *,
        remote: str | None = None,
        start_error: CaxtonError | None = None,
    ) -> None:
        super().__init__(root, remote=remote, model="test")
        self.start_error = start_error
        self.sent: list[str] = []

    def start(self) -> None:
        if self.start_error is not None:
            raise self.start_error
        self.workspace = "demo"
        self.url = URL
        self.started.set()

    def stop(self) -> None:
        pass

    def client(self) -> Client:
        raise AssertionError("FixedBackend answers from fixed data: nothing may reach a server")

    def overview(self) -> Overview:
        return OVERVIEW

    def problems(self) -> list[Problem]:
        return [BROKEN]

    def traces(self, limit: int = 50) -> list[dict[str, Any]]:
        done = [MAIN_TRACE] if self.sent else []
        return [t["execution"] for t in (*done, EARLIER_TRACE)][:limit]

    def trace(self, trace_id: str) -> dict[str, Any]:
        return {TRACE: MAIN_TRACE, EARLIER: EARLIER_TRACE}[trace_id]

    def send(
        self,
        text: str,
        *,
        agent: str | None,
        conversation_id: str | None,
        on_event: OnEvent,
    ) -> dict[str, Any]:
        for name, data in EVENTS:
            on_event(name, data)
        self.sent.append(text)
        return RESULT

    def reload(self) -> dict[str, Any]:
        return {
            "workspace": "demo",
            "agents": 3,
            "invalid": {"broken": BROKEN.message},
            "seconds": 0.012,
        }


@pytest.fixture(autouse=True)
def isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An empty CAXTON_HOME: panes that read the user's state (the Deploy tab's remotes) must
    not see this machine's."""
    monkeypatch.setenv("CAXTON_HOME", str(tmp_path / "caxton-home"))


@pytest.fixture
def app() -> CaxtonApp:
    """The app over the fixed workspace `/ws/demo`."""
    return CaxtonApp(FixedBackend(ROOT), watch=False)


@pytest.fixture
def unreachable_app() -> CaxtonApp:
    """The app over a remote that does not answer (the error as the client raises it)."""
    error = RemoteError(
        "https://caxton.example.com does not answer: [Errno 111] Connection refused",
        "check the URL, and that `caxton serve` is running there (`caxton health URL`)",
        0,
        "unavailable",
    )
    return CaxtonApp(FixedBackend(ROOT, remote="prod", start_error=error), watch=False)


SnapCompare = Callable[..., bool]
