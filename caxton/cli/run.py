"""`caxton run "request"` and `caxton chat AGENT`: agents answering, in this process.

The answer streams to stdout as the model writes it; a short trace summary and any stop reason
go to stderr. Each request is then logged to the workspace's trace store (`caxton logs`), after
the answer is out, so logging never delays or fails a run. (The TUI and `caxton serve` run the
same runtime behind HTTP.)
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import typer

from caxton.cli import output

app = typer.Typer(add_completion=False)
chat_app = typer.Typer(add_completion=False)

MODEL_HELP = "Provider every agent uses for this run instead of its own, e.g. `test` (offline)."
RECORD_HELP = "Record every model turn to this cassette, for the `replay` model."
MAX_HISTORY = 20  # earlier exchanges a chat sends the model with each line


def _runtime(model: str | None, record: Path | None) -> Any:
    from caxton.runtime.runtime import Runtime
    from caxton.workspace.loader import require_root

    return Runtime(require_root(Path.cwd()), model=model, record=record)


def _stream() -> Any:
    def write(text: str) -> None:
        sys.stdout.write(text)
        sys.stdout.flush()

    return write


def _summary(result: Any) -> str:
    summary = result.trace.summary()
    cost = "unknown cost" if result.cost_usd is None else f"${result.cost_usd:.4f}"
    label = " (deterministic model)" if result.deterministic else ""
    return (
        f"{result.agent}: {result.turns} model call{'s' * (result.turns != 1)}{label}, "
        f"{result.tool_calls} tool call{'s' * (result.tool_calls != 1)}, "
        f"{summary['messages']} message{'s' * (summary['messages'] != 1)}, "
        f"{result.usage.input_tokens}+{result.usage.output_tokens} tokens, {cost}, "
        f"trace {result.trace.trace_id[:12]}"
    )


def _log(root: Path, result: Any, request: str) -> None:
    """Save the request to the local trace store; a failure is a warning, never the run's."""
    from caxton.observability.store import TraceStore, logging_enabled, store_path

    sys.stdout.flush()  # the answer is out before the store is opened
    if not logging_enabled(root):
        return
    try:
        with TraceStore.open(store_path(root)) as store:
            store.save(result, request)
    except Exception as exc:
        message = getattr(exc, "message", None) or f"{type(exc).__name__}: {exc}"
        hint = getattr(exc, "hint", None) or "`caxton logs off` stops logging local runs"
        output.warn(f"trace {result.trace.trace_id[:12]} not logged: {message}", hint)


def _finish(result: Any) -> None:
    from caxton.errors import ExitCode

    if result.stop_reason == "done":
        return
    if result.error is not None:
        raise result.error  # reported with its hint and exit code like any other error
    detail = result.detail.partition("\nhint: ")[0]
    output.warn(f"stopped at a limit ({result.stop_reason}): {detail}", None)
    raise typer.Exit(int(ExitCode.LIMIT))


@app.command(name="run")
def run(
    request: str = typer.Argument(..., help="The request, in quotes."),
    agent: str | None = typer.Option(None, "--agent", "-a", help="Agent to ask (default: routed)."),
    model: str | None = typer.Option(None, "--model", "-m", help=MODEL_HELP),
    record: Path | None = typer.Option(None, "--record", help=RECORD_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print the result and trace as JSON."),
) -> None:
    """Send one request to an agent (routed by capability unless --agent names one)."""
    runtime = _runtime(model, record)
    try:
        streamed: list[str] = []

        def on_text(text: str) -> None:
            streamed.append(text)
            if not as_json:
                _stream()(text)

        result = runtime.execute(request, agent=agent, on_text=on_text)
    finally:
        runtime.close()
    if as_json:
        data = result.to_json()
        data["spans"] = result.trace.to_json()
        output.emit_json(data)
        _log(runtime.root, result, request)
        _finish(result)
        return
    if not streamed and result.answer:
        output.echo(result.answer)
    elif streamed:
        sys.stdout.write("\n")
    if result.route is not None:
        output.say(f"routed to {result.agent}: {result.route['reason']}")
    if result.error is None:
        output.say(_summary(result))
    _log(runtime.root, result, request)
    _finish(result)


@chat_app.command(name="chat")
def chat(
    agent: str = typer.Argument(..., help="Agent to talk to."),
    model: str | None = typer.Option(None, "--model", "-m", help=MODEL_HELP),
    record: Path | None = typer.Option(None, "--record", help=RECORD_HELP),
) -> None:
    """Talk to one agent, a line at a time (empty line or Ctrl-D to stop). Each line is one
    request in one conversation; the model sees the earlier exchanges of the chat."""
    from caxton.runtime.executor import find_agent, new_conversation_id

    runtime = _runtime(model, record)
    find_agent(runtime.snapshot, agent)  # a wrong name fails before the prompt
    conversation = new_conversation_id()
    history: list[tuple[str, str]] = []
    output.say(f"chatting with {agent} (conversation {conversation[:12]}); empty line to stop")
    try:
        while True:
            try:
                line = input("> " if sys.stdin.isatty() else "")
            except EOFError:
                break
            if not line.strip():
                break
            runtime.reload()  # edits to the workspace apply from the next line on
            result = runtime.execute(
                line,
                agent=agent,
                on_text=_stream(),
                conversation_id=conversation,
                history=tuple(history[-MAX_HISTORY:]),
            )
            if result.answer:
                history.append((line, result.answer))
            sys.stdout.write("\n" if result.answer else "")
            output.say(_summary(result))
            if result.stop_reason != "done":
                detail = result.detail.partition("\nhint: ")[0]
                output.warn(f"stopped ({result.stop_reason}): {detail}", None)
            _log(runtime.root, result, line)
    finally:
        runtime.close()
