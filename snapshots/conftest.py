"""Fixed data for the TUI's snapshot tests: a `Backend` that answers from recorded literals
(trimmed from real answers of the embedded server with the `test` model: a request, memory,
a deploy plan and history), with fixed ids, clocks and paths, so every SVG is the same on
every machine and every run."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from caxton.client import Client, OnEvent, RemoteError
from caxton.deploy.manifest import Changes
from caxton.errors import CaxtonError, ConfigError, Problem
from caxton_tui.app import CaxtonApp
from caxton_tui.backend import AgentRow, Backend, DeployPlan, Overview, Say, Where, unified

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

# A workspace whose agents were all removed (`caxton init` then `rm agents/*`): no remote yet.
EMPTY_OVERVIEW = Overview(workspace="demo", agents=(), tools=OVERVIEW.tools, remotes=())

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


# ----- memory: what the agents stored about naming the reports ----------------------------------

SEARCH = "report naming"  # what the hits below were recorded for
WORKSPACE_SCOPE = {"kind": "workspace", "owner": "demo"}


def _entity(name: str, kind: str, observations: list[str], at: str) -> dict[str, Any]:
    return {
        "name": name,
        "type": kind,
        "observations": observations,
        "scope": WORKSPACE_SCOPE,
        "created_at": "2026-12-01T10:12:40",
        "updated_at": at,
    }


def _relation(source: str, kind: str, target: str, strength: float) -> dict[str, Any]:
    return {
        "from": source,
        "to": target,
        "type": kind,
        "strength": strength,
        "confidence": 1.0,
        "valid_from": None,
        "valid_to": None,
        "scope": WORKSPACE_SCOPE,
    }


ENTITIES: tuple[dict[str, Any], ...] = (
    _entity("Dana Whitfield", "person", [
        "leads the data team",
        "reviews the weekly sales report every Monday",
    ], "2026-12-01T10:12:40"),
    _entity("data/sales.csv", "dataset", [
        "one row per order: date, region, product, amount",
        "12,480 rows on 2026-12-07",
    ], "2026-12-07T20:50:34"),
    _entity("report naming", "decision", [
        "reports are named YYYY-MM-DD-topic.md, under data/reports/",
        "the date in a report's name is in UTC",
        "agreed by Dana Whitfield on 2026-12-01",
    ], "2026-12-07T20:48:11"),
    _entity("weekly sales report", "report", [
        "built from data/sales.csv every Monday at 09:00 UTC",
        "its charts come from the `chart` tool, as ascii",
    ], "2026-12-04T09:00:12"),
)  # fmt: skip

RELATIONS: tuple[dict[str, Any], ...] = (
    _relation("Dana Whitfield", "decided", "report naming", 0.9),
    _relation("Dana Whitfield", "reviews", "weekly sales report", 0.85),
    _relation("weekly sales report", "follows", "report naming", 0.8),
    _relation("weekly sales report", "reads", "data/sales.csv", 0.7),
)

_BY_NAME = {e["name"]: e for e in ENTITIES}


def _hit(
    kind: str, score: float, vector: float, keyword: float, item: dict[str, Any]
) -> dict[str, Any]:
    return {"kind": kind, "score": score, "vector_score": vector, "keyword_score": keyword, **item}


MEMORY_HITS: tuple[dict[str, Any], ...] = (
    _hit("entity", 0.9369, 0.8738, 1.0, _BY_NAME["report naming"]),
    _hit("relation", 0.8456, 0.6912, 1.0, RELATIONS[0]),
    _hit("relation", 0.7712, 0.5424, 1.0, RELATIONS[2]),
    _hit("interaction", 0.6120, 0.5133, 0.4307, {
        "scope": WORKSPACE_SCOPE,
        "agent": "assistant",
        "request": EARLIER_TRACE["execution"]["request"],
        "response": EARLIER_TRACE["execution"]["answer"],
        "created_at": "2026-12-07T20:48:10",
    }),
    _hit("entity", 0.5503, 0.4471, 0.3691, _BY_NAME["weekly sales report"]),
    _hit("entity", 0.4187, 0.4187, 0.0, _BY_NAME["Dana Whitfield"]),
)  # fmt: skip

MEMORY_STATS: dict[str, Any] = {
    "workspace": "demo",
    "entities": len(ENTITIES),
    "relations": len(RELATIONS),
    "interactions": 2,
    "scopes": [{"scope": WORKSPACE_SCOPE, "entities": 4, "relations": 4, "interactions": 2}],
    "entity_types": {"dataset": 1, "decision": 1, "person": 1, "report": 1},
}

# ----- deploy: the plan against `prod`, one file's diff, the history -----------------------------

PROD = "https://caxton.example.com"
PLAN = DeployPlan(
    remote="prod",
    url=PROD,
    live_version=4,
    same=False,
    changes=Changes(
        added=("agents/broken.toml",),
        modified=("agents/analyst.toml",),
        deleted=("prompts/old-summary.md",),
    ),
    files_to_send=2,
    bytes_to_send=1_163,
)

ANALYST_LIVE = """\
name = "analyst"
version = "0.1.0"
description = "Analyzes CSV and JSON files from the workspace data dir."
capabilities = [
    "data-analysis",
    "descriptive-statistics",
    "csv-analysis",
    "report-generation",
]
tools = ["file_read", "csv_parser", "stats", "chart", "memory_search", "memory_store"]
system_prompt = "You are analyst, a careful data analyst."

[llm]
max_tokens = 2048
temperature = 0.2
"""
ANALYST_HERE = ANALYST_LIVE.replace('version = "0.1.0"', 'version = "0.2.0"').replace(
    '    "csv-analysis",\n', '    "csv-analysis",\n    "correlation-analysis",\n'
)
LIVE_FILES = {
    "agents/analyst.toml": ANALYST_LIVE.encode(),
    "prompts/old-summary.md": b"Summarise the report in five bullets.\nKeep every number.\n",
}
HERE_FILES = {
    "agents/analyst.toml": ANALYST_HERE.encode(),
    "agents/broken.toml": b'name = "broken"\ndescription = "Summarises reports."\n'
    b'tols = ["file_read"]\n',
}


def _deployment(
    version: int,
    at: str,
    who: str,
    commit: str,
    message: str,
    changes: tuple[int, int, int],
    *,
    dirty: bool = False,
    rollback_of: int | None = None,
) -> dict[str, Any]:
    return {
        "version": version, "root": f"{version:x}" * 64, "at": at, "who": who,
        "commit": commit, "branch": "main", "dirty": dirty, "message": message,
        "kind": "rollback" if rollback_of else "deploy", "rollback_of": rollback_of,
        "added": changes[0], "modified": changes[1], "deleted": changes[2], "bytes": 9_418,
    }  # fmt: skip


HISTORY: tuple[dict[str, Any], ...] = (
    _deployment(4, "2026-12-05T16:42:10.118+00:00", "dana",
                "1f3a9c2e7b5d4e6f8a9b0c1d2e3f4a5b6c7d8e9f", "analyst: percentiles in reports",
                (0, 1, 0)),
    _deployment(3, "2026-12-03T09:05:31.402+00:00", "dana",
                "5c9a1f7e3b2d4c6e8f0a1b3c5d7e9f1a2b4c6d8e", "rollback to version 1", (0, 1, 1),
                rollback_of=1),
    _deployment(2, "2026-12-02T17:48:02.915+00:00", "ci",
                "8e2f60c4d1a3b5c7d9e1f3a5b7c9d1e3f5a7b9c1", "summary prompt", (1, 1, 0),
                dirty=True),
    _deployment(1, "2026-12-01T11:20:05.730+00:00", "dana",
                "5c9a1f7e3b2d4c6e8f0a1b3c5d7e9f1a2b4c6d8e", "first deploy", (3, 0, 0)),
)  # fmt: skip


def _commit_of(version: int) -> str:
    return str(next(d["commit"] for d in HISTORY if d["version"] == version))


ROLLBACK_PROGRESS = (
    "plan: 1 added, 1 modified, 0 deleted; 0 files to upload",
    "applying version 5 on version 4",
)


# ----- the backend -----------------------------------------------------------------------------


class FixedBackend(Backend):  # type: ignore[misc]  # caxton_tui is Any to this mypy config
    """Fixed data for snapshots: the `Backend` surface answered from the literals above, with
    no server, no network and no file read. `overview` is the workspace shown (OVERVIEW or
    EMPTY_OVERVIEW); `start_error` makes `start()` fail with it."""

    def __init__(
        self,
        root: Path | None,
        *,
        remote: str | None = None,
        overview: Overview = OVERVIEW,
        start_error: CaxtonError | None = None,
        hold_at: int | None = None,
    ) -> None:
        super().__init__(root, remote=remote, model="test")
        self.fixed = overview
        self.start_error = start_error
        self.sent: list[str] = []
        self.hold_at = hold_at  # `send` waits before this event until `stop()`: mid-stream
        self.held = threading.Event()
        self._release = threading.Event()

    def start(self) -> None:
        if self.start_error is not None:
            raise self.start_error
        self.workspace = "demo"
        self.url = URL
        self.started.set()

    def stop(self) -> None:
        self._release.set()

    def client(self) -> Client:
        raise AssertionError("FixedBackend answers from fixed data: nothing may reach a server")

    def overview(self) -> Overview:
        return self.fixed

    def problems(self) -> list[Problem]:
        return list(self.fixed.problems)

    def remotes(self) -> tuple[str, ...]:
        return self.fixed.remotes

    def traces(self, limit: int = 50) -> list[dict[str, Any]]:
        if not self.fixed.agents:  # a workspace without agents has answered nothing
            return []
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
        for number, (name, data) in enumerate(EVENTS):
            if number == self.hold_at:
                self.held.set()
                self._release.wait(timeout=60)
                return RESULT  # the app is quitting: nothing shows this
            on_event(name, data)
        self.sent.append(text)
        return RESULT

    def reload(self) -> dict[str, Any]:
        invalid = {row.name: row.problems[0] for row in self.fixed.agents if not row.valid}
        return {
            "workspace": "demo",
            "agents": len(self.fixed.agents),
            "invalid": invalid,
            "seconds": 0.012,
        }

    # memory: the workspace scope holds ENTITIES and RELATIONS; the other scopes are empty

    def memory_search(self, text: str, where: Where, limit: int = 50) -> list[dict[str, Any]]:
        return list(MEMORY_HITS[:limit]) if where.kind == "workspace" else []

    def memory_entities(self, where: Where) -> list[dict[str, Any]]:
        return list(ENTITIES) if where.kind == "workspace" else []

    def memory_entity(self, name: str, where: Where) -> dict[str, Any]:
        if where.kind != "workspace" or name not in _BY_NAME:
            raise RemoteError(
                f"no entity {name!r} in {where} memory",
                "`caxton memory search` finds entities by meaning",
                404,
                "not_found",
            )
        relations = [r for r in RELATIONS if name in (r["from"], r["to"])]
        ends = {name} | {r["from"] for r in relations} | {r["to"] for r in relations}
        return {"entities": [e for e in ENTITIES if e["name"] in ends], "relations": relations}

    def memory_stats(self) -> dict[str, Any]:
        return MEMORY_STATS

    # deploy: `prod` is at version 4; deploying is refused for the broken agent

    def deploy_plan(self, remote: str) -> DeployPlan:
        return PLAN

    def deploy_diff(self, plan: DeployPlan, path: str) -> str:
        old, new = LIVE_FILES.get(path, b""), HERE_FILES.get(path, b"")
        return unified(path, old, new, plan.live_version)

    def deploy(self, remote: str, message: str, say: Say) -> dict[str, Any] | None:
        raise ConfigError([BROKEN], "1 error in 1 file: nothing was deployed")

    def rollback(self, remote: str, version: int, message: str, say: Say) -> dict[str, Any] | None:
        for line in ROLLBACK_PROGRESS:
            say(line)
        deployment = _deployment(
            5, "2026-12-07T20:52:00.000+00:00", "dana", _commit_of(version),
            message or f"rollback to version {version}", (1, 1, 0), rollback_of=version,
        )  # fmt: skip
        return {
            "remote": remote, "url": PROD, "workspace": "demo", "deployment": deployment,
            "changes": {"added": ["agents/broken.toml"], "modified": ["agents/analyst.toml"],
                        "deleted": []},
            "files_sent": 0, "bytes_sent": 0, "protocol_seconds": 0.041, "seconds": 0.052,
            "reload_seconds": 0.012, "agents": 2, "invalid": {}, "git": None, "version": 5,
            "ms": 52, "rollback_of": version,
        }  # fmt: skip

    def deploy_history(
        self, remote: str, limit: int = 50
    ) -> tuple[list[dict[str, Any]], str | None]:
        return list(HISTORY[:limit]), None


@pytest.fixture(autouse=True)
def isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An empty CAXTON_HOME: should a pane ever read the user's state (remotes, credentials)
    around `Backend`, it sees none of this machine's."""
    monkeypatch.setenv("CAXTON_HOME", str(tmp_path / "caxton-home"))


@pytest.fixture
def app() -> CaxtonApp:
    """The app over the fixed workspace `/ws/demo`."""
    return CaxtonApp(FixedBackend(ROOT), watch=False)


@pytest.fixture
def streaming_app() -> CaxtonApp:
    """The app whose answer stops streaming after its tool calls and four pieces of text."""
    return CaxtonApp(FixedBackend(ROOT, hold_at=len(TOOL_CALLS) + 4), watch=False)


@pytest.fixture
def empty_app() -> CaxtonApp:
    """The app over a workspace without agents (and without remotes)."""
    return CaxtonApp(FixedBackend(ROOT, overview=EMPTY_OVERVIEW), watch=False)


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
