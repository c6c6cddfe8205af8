"""`caxton run "request"` and `caxton chat AGENT`: agents answering, through a server.

Without `--remote`, the command starts the embedded server over the workspace you are in (on
127.0.0.1, for the command's life) and talks to it like to any other, so local and remote runs
share one path. The answer streams to stdout as the model writes it; a short trace summary and
any stop reason go to stderr. The embedded server logs each request to the workspace's trace
store (`caxton logs`).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import typer

from caxton.cli import output
from caxton.cli.session import REMOTE_HELP, connect

app = typer.Typer(add_completion=False)
chat_app = typer.Typer(add_completion=False)

MODEL_HELP = "Provider every agent uses for this run instead of its own, e.g. `test` (offline)."
RECORD_HELP = "Record every model turn to this cassette, for the `replay` model."
LIMIT_STOPS = ("max_turns", "max_tool_calls", "timeout", "max_cost_usd")


def _write(text: str) -> None:
    sys.stdout.write(text)
    sys.stdout.flush()


def _summary(result: dict[str, Any]) -> str:
    trace = result["trace"]
    cost = "unknown cost" if result["cost_usd"] is None else f"${result['cost_usd']:.4f}"
    label = " (deterministic model)" if result["deterministic"] else ""
    turns, tools, messages = result["turns"], result["tool_calls"], trace["messages"]
    usage = result["usage"]
    return (
        f"{result['agent']}: {turns} model call{'s' * (turns != 1)}{label}, "
        f"{tools} tool call{'s' * (tools != 1)}, "
        f"{messages} message{'s' * (messages != 1)}, "
        f"{usage['input_tokens']}+{usage['output_tokens']} tokens, {cost}, "
        f"trace {result['trace_id'][:12]}"
    )


def _failure(result: dict[str, Any]) -> Exception | None:
    """How a finished request that did not end well ends the command: its error (with the
    exit code its kind calls for), or exit 9 for a limit."""
    from caxton.client import RemoteError
    from caxton.errors import ExitCode

    if result["stop_reason"] == "done":
        return None
    error = result.get("error")
    if error is not None and result["stop_reason"] not in LIMIT_STOPS:
        return RemoteError.from_body(error, 0)  # the exit code follows its `error` kind
    detail = result["detail"].partition("\nhint: ")[0]
    output.warn(f"stopped at a limit ({result['stop_reason']}): {detail}", None)
    return typer.Exit(int(ExitCode.LIMIT))


@app.command(name="run")
def run(
    request: str = typer.Argument(..., help="The request, in quotes."),
    agent: str | None = typer.Option(None, "--agent", "-a", help="Agent to ask (default: routed)."),
    model: str | None = typer.Option(None, "--model", "-m", help=MODEL_HELP),
    record: Path | None = typer.Option(None, "--record", help=RECORD_HELP),
    remote: str | None = typer.Option(None, "--remote", "-r", help=REMOTE_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print the result and its spans as JSON."),
) -> None:
    """Send one request to an agent (routed by capability unless --agent names one)."""
    streamed: list[str] = []
    spans: list[dict[str, Any]] = []

    def on_event(name: str, data: dict[str, Any]) -> None:
        if name == "token":
            streamed.append(data["text"])
            if not as_json:
                _write(data["text"])
        elif name == "span":
            spans.append(data)

    with connect(remote, model=model, record=record) as client:
        result = client.send(request, agent=agent, on_event=on_event)
    if as_json:
        result["spans"] = sorted(spans, key=lambda s: s["start"])
        output.emit_json(result)
    else:
        if streamed:
            sys.stdout.write("\n")
        elif result["answer"]:
            output.echo(result["answer"])
        if result["route"] is not None:
            output.say(f"routed to {result['agent']}: {result['route']['reason']}")
        if result["error"] is None:
            output.say(_summary(result))
    failure = _failure(result)
    if failure is not None:
        raise failure


def _check_agent(agents: list[dict[str, Any]], name: str) -> None:
    from caxton.runtime.executor import agent_error

    found = next((a for a in agents if a["name"] == name), None)
    if found is None or not found["valid"]:
        problem = found["problems"][0] if found is not None else None
        raise agent_error(name, [a["name"] for a in agents if a["valid"]], problem)


@chat_app.command(name="chat")
def chat(
    agent: str = typer.Argument(..., help="Agent to talk to."),
    model: str | None = typer.Option(None, "--model", "-m", help=MODEL_HELP),
    record: Path | None = typer.Option(None, "--record", help=RECORD_HELP),
    remote: str | None = typer.Option(None, "--remote", "-r", help=REMOTE_HELP),
) -> None:
    """Talk to one agent, a line at a time (empty line or Ctrl-D to stop). Each line is one
    request in one conversation; the model sees the earlier exchanges of the chat."""
    from caxton.runtime.executor import new_conversation_id

    with connect(remote, model=model, record=record) as client:
        _check_agent(client.agents(), agent)  # a wrong name fails before the prompt
        conversation = new_conversation_id()
        output.say(f"chatting with {agent} (conversation {conversation[:12]}); empty line to stop")
        while True:
            try:
                line = input("> " if sys.stdin.isatty() else "")
            except EOFError:
                break
            if not line.strip():
                break
            if remote is None:
                client.reload()  # edits to the workspace apply from the next line on
            result = client.send(
                line,
                agent=agent,
                conversation_id=conversation,
                on_event=lambda name, data: _write(data["text"]) if name == "token" else None,
            )
            sys.stdout.write("\n" if result["answer"] else "")
            output.say(_summary(result))
            if result["stop_reason"] != "done":
                detail = result["detail"].partition("\nhint: ")[0]
                output.warn(f"stopped ({result['stop_reason']}): {detail}", None)
