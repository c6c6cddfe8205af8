"""`caxton trace [ID]` (a request's span tree) and `caxton logs [on|off]` (the execution log).

Both read the workspace's local trace store (`.caxton/traces.duckdb`), offline; with
`--remote NAME` they ask that server instead (`GET traces`, `GET traces/{id}`).
"""

from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from caxton.cli import output
from caxton.cli.session import REMOTE_HELP
from caxton.observability import trace as t

if TYPE_CHECKING:
    from caxton.observability.store import Execution, TraceStore
    from caxton.observability.trace import Span

app = typer.Typer(add_completion=False)
logs_app = typer.Typer(add_completion=False)


def _root() -> Path:
    from caxton.workspace.loader import require_root

    return require_root(Path.cwd())


def _open(root: Path) -> TraceStore | None:
    """The store for reading, or None when nothing was ever logged here."""
    from caxton.observability.store import TraceStore, store_path

    path = store_path(root)
    return TraceStore.open(path, read_only=True) if path.exists() else None


def _execution(data: dict[str, Any]) -> Execution:
    """An execution as the API sends it (`to_json`), back into the store's type."""
    from caxton.observability.store import Execution

    started = dt.datetime.fromisoformat(data["started_at"]).astimezone(dt.UTC)
    return Execution(
        **{
            **data,
            "started_at": started.replace(tzinfo=None),
            "models": tuple(data["models"]),
        }
    )


def _remote_trace(remote: str, trace_id: str | None) -> tuple[Execution, list[Span]]:
    from caxton.cli.session import connect
    from caxton.errors import NotFoundError
    from caxton.observability.trace import Span

    with connect(remote) as client:
        if trace_id is None:
            latest = client.traces(1)
            if not latest:
                raise NotFoundError(
                    f"no traces on remote {remote!r} for {client.workspace!r} yet",
                    f'send a request first: `caxton run --remote {remote} "hello"`',
                )
            trace_id = str(latest[0]["trace_id"])
        data = client.trace(trace_id)
    return _execution(data["execution"]), [Span(**s) for s in data["spans"]]


def _cost(cost: float | None) -> str:
    return "cost unknown" if cost is None else f"${cost:.4f}"


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


# ----- caxton trace ---------------------------------------------------------------------------


@app.command(name="trace")
def show_trace(
    trace_id: str | None = typer.Argument(
        None, metavar="[ID]", help="A trace id or its first 4+ characters (default: the latest)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the execution and its spans."),
    remote: str | None = typer.Option(None, "--remote", "-r", help=REMOTE_HELP),
) -> None:
    """Show a request's span tree: durations, tokens, cost, fuel (the latest by default)."""
    from caxton.errors import NotFoundError

    if remote is not None:
        execution, spans = _remote_trace(remote, trace_id)
    else:
        store = _open(_root())
        if store is None:
            raise NotFoundError(
                "no traces logged in this workspace yet",
                'run a request first, e.g. `caxton run --model test "hello"`',
            )
        with store:
            execution, spans = store.trace(trace_id)
    if as_json:
        output.emit_json({"execution": execution.to_json(), "spans": [s.to_json() for s in spans]})
        return
    output.echo(_header(execution))
    for depth, span in _tree(spans):
        output.echo("  " * depth + _line(span))


def _header(e: Execution) -> str:
    stop = e.stop_reason if e.stop_reason == "done" else f"stopped: {e.stop_reason}"
    label = " (deterministic)" if e.deterministic else ""
    return (
        f"trace {e.trace_id}  {e.agent}  {stop}  {e.seconds:.3f} s  "
        f"{e.input_tokens}+{e.output_tokens} tokens  {_cost(e.cost_usd)}{label}"
    )


def _tree(spans: list[Span]) -> Iterator[tuple[int, Span]]:
    """Spans depth first in start order; a span whose parent is missing is shown as a root."""
    ids = {s.span_id for s in spans}
    children: dict[str | None, list[Span]] = {}
    for span in spans:
        parent = span.parent_id if span.parent_id in ids else None
        children.setdefault(parent, []).append(span)
    stack = [(0, s) for s in reversed(children.get(None, []))]
    while stack:
        depth, span = stack.pop()
        yield depth, span
        stack.extend((depth + 1, c) for c in reversed(children.get(span.span_id, [])))


def _line(span: Span) -> str:
    a = span.attributes
    parts = [span.name, f"[{span.kind}]", _ms(span.seconds) if span.end is not None else "open"]
    if span.kind == "llm":
        model = a.get(t.RESPONSE_MODEL) or a.get(t.REQUEST_MODEL) or ""
        parts.append(f"{a.get(t.PROVIDER, '?')}/{model}" if model else str(a.get(t.PROVIDER, "?")))
        parts.append(f"{a.get(t.INPUT_TOKENS, 0)}+{a.get(t.OUTPUT_TOKENS, 0)} tokens")
        parts.append(_cost(a.get(t.COST_USD)))
        if a.get(t.DETERMINISTIC):
            parts.append("(deterministic)")
    elif span.kind == "tool":
        if a.get("caxton.tool.refused"):
            parts.append("refused")
        elif a.get(t.SANDBOXED):
            parts.append(f"fuel {a.get(t.FUEL, 0):,}")
        elif a.get(t.TOOL_TYPE) == "mcp":
            parts.append("unsandboxed")
    elif span.kind == "agent":
        parts.append(f"depth {a.get('caxton.depth', 0)}")
    elif span.kind == "route" and a.get("caxton.route.chosen"):  # else: its error says why
        parts.append(f"-> {a['caxton.route.chosen']} ({a.get('caxton.route.method', '?')})")
    elif span.kind == "message":
        parts.append(
            f"{a.get('caxton.message.performative', '?')} "
            f"{a.get('caxton.message.sender', '?')} -> "
            + (
                a.get("caxton.message.receiver")
                or f"agents able to {a.get('caxton.message.capability') or '?'!r}"
            )
        )
    elif span.kind == "memory":
        parts.append(f"scope {a.get('caxton.memory.scope', '?')}")
        if "caxton.memory.hits" in a:
            parts.append(f"{a['caxton.memory.hits']} hits")
    if span.status == "error":
        error = " ".join(str(a.get(t.ERROR) or "failed").split())
        parts.append(f"error: {error if len(error) <= 120 else error[:119] + '…'}")
    return "  ".join(parts)


# ----- caxton logs ----------------------------------------------------------------------------


@logs_app.callback(invoke_without_command=True)
def logs(
    ctx: typer.Context,
    limit: int = typer.Option(20, "--limit", "-n", min=1, help="How many executions to show."),
    as_json: bool = typer.Option(False, "--json", help="Print the executions as JSON."),
    remote: str | None = typer.Option(None, "--remote", "-r", help=REMOTE_HELP),
) -> None:
    """List recent requests, newest first; `caxton logs off|on` stops or resumes logging."""
    if ctx.invoked_subcommand is not None:
        return
    from caxton.observability.store import logging_enabled

    if remote is not None:
        from caxton.cli.session import connect

        with connect(remote) as client:
            found = [_execution(e) for e in client.traces(limit)]
        if as_json:
            output.emit_json({"logging": True, "executions": [e.to_json() for e in found]})
        elif not found:
            output.say(f"no executions on remote {remote!r} yet")
        else:
            _table(found)
        return

    root = _root()
    store = _open(root)
    executions: list[Execution] = []
    if store is not None:
        with store:
            executions = store.executions(limit)
    if as_json:
        output.emit_json(
            {"logging": logging_enabled(root), "executions": [e.to_json() for e in executions]}
        )
        return
    if not logging_enabled(root):
        output.warn("logging is off for this workspace", "`caxton logs on` turns it back on")
    if not executions:
        output.say('no executions logged yet; `caxton run --model test "hello"` logs one')
        return
    _table(executions)
    if len(executions) == limit:
        output.say(f"the {limit} most recent shown; `--limit N` shows more")


def _table(executions: list[Execution]) -> None:
    headers = ("time", "agent", "stop", "seconds", "tokens", "cost", "trace", "request")
    rows = [
        [
            e.started_at.replace(tzinfo=dt.UTC).astimezone().strftime("%Y-%m-%d %H:%M:%S"),
            e.agent,
            e.stop_reason,
            f"{e.seconds:.2f}",
            f"{e.input_tokens}+{e.output_tokens}",
            "unknown" if e.cost_usd is None else f"${e.cost_usd:.4f}",
            e.trace_id[:12],
        ]
        for e in executions
    ]
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers[:-1])]
    room = shutil.get_terminal_size((120, 24)).columns - sum(widths) - 2 * len(widths)
    room = max(room, 20)
    for row, e in zip(rows, executions, strict=True):
        request = " ".join(e.request.split())
        row.append(request if len(request) <= room else request[: room - 1] + "…")
    output.table(rows, headers)


@logs_app.command(name="off")
def logs_off() -> None:
    """Stop logging this workspace's requests (writes `.caxton/logs-off`)."""
    from caxton.observability.store import logs_off_path, set_logging

    root = _root()
    set_logging(root, False)
    output.success(f"logging off: requests are no longer saved (`{logs_off_path(root)}`)")


@logs_app.command(name="on")
def logs_on() -> None:
    """Log this workspace's requests again (the default)."""
    from caxton.observability.store import set_logging, store_path

    root = _root()
    set_logging(root, True)
    output.success(f"logging on: requests are saved to `{store_path(root)}`")
