"""`caxton quickstart`: the whole loop in one command, offline by default.

It creates a workspace from the templates in a new folder (three agents, a git commit),
starts a local server in this process, deploys the workspace to it with `caxton deploy`'s own
code, sends requests that the router gives to different agents, and prints the answers, each
trace's summary and what to do next. Agents answer with a real provider when an API key is
set (OPENAI_API_KEY or ANTHROPIC_API_KEY), otherwise with the deterministic `test` model,
and the output says which.
"""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path
from typing import Any

import typer

from caxton.cli import output

app = typer.Typer(add_completion=False)

AGENTS = (("analyst", "data-analyzer"), ("reviewer", "code-reviewer"))
REQUESTS = (
    "Describe the numbers 3, 5 and 8: their mean and spread.",
    "Review this Python function for bugs: def add(a, b): return a - b",
    "What can you help me with today?",
)
SERVER_DATA = "quickstart-server"  # under the workspace's .caxton/


def _provider() -> tuple[str, str]:
    """The provider the new workspace uses, and how to say it."""
    if os.environ.get("ANTHROPIC_API_KEY"):
        return "anthropic", "Anthropic (ANTHROPIC_API_KEY is set)"
    if os.environ.get("OPENAI_API_KEY"):
        return "openai", "OpenAI (OPENAI_API_KEY is set)"
    return "test", (
        "the deterministic `test` model: no API key is set, so answers are canned, offline "
        "and free (set OPENAI_API_KEY or ANTHROPIC_API_KEY for a real model)"
    )


def _commit(root: Path) -> None:
    identity: list[str] = []
    email = subprocess.run(
        ["git", "-C", str(root), "config", "user.email"], capture_output=True, text=True
    )
    if not email.stdout.strip():  # a fresh machine: commit under a stand-in identity
        identity = ["-c", "user.name=Caxton quickstart", "-c", "user.email=quickstart@localhost"]
    for args in (["add", "-A"], [*identity, "commit", "--quiet", "-m", "Caxton quickstart"]):
        subprocess.run(["git", "-C", str(root), *args], capture_output=True, check=True)


@app.command(name="quickstart")
def quickstart(
    folder: Path = typer.Argument(
        Path("caxton-quickstart"), help="The new workspace's folder (must not exist)."
    ),
) -> None:
    """Create a workspace, serve it locally, deploy it, and ask its agents three things."""
    from caxton.client import Client
    from caxton.deploy import local
    from caxton.deploy.manifest import build
    from caxton.deploy.push import push
    from caxton.errors import ConflictError
    from caxton.memory.local import workspace_name
    from caxton.paths import workspace_state_dir
    from caxton.server.embedded import start_embedded
    from caxton.workspace.edit import set_value
    from caxton.workspace.scaffold import create_agent, create_workspace

    if folder.exists():
        raise ConflictError(
            f"`{folder}` already exists",
            "pass another folder: `caxton quickstart my-agents`",
        )
    started = time.perf_counter()
    provider, said = _provider()
    result = create_workspace(folder)
    root = result.root
    for agent, template in AGENTS:
        create_agent(root, agent, template)
    if provider != "test":
        toml = root / "caxton.toml"
        toml.write_text(set_value(toml.read_text(), "llm.default_provider", provider))
    name = workspace_name(root)
    git = None
    if result.git_initialized:
        _commit(root)
        git = local.git_state(root, required=False)
    output.success(
        f"1/4 created workspace {name!r} in `{folder}`: agents assistant, analyst, reviewer"
    )
    data = workspace_state_dir(root) / SERVER_DATA
    with start_embedded(None, data_dir=data) as server:
        output.success(f"2/4 started a local server on {server.url} (data in `{data}`)")
        with Client(server.url, server.token, name) as client:
            outcome = push(client, root, build(root), base_version=0, git=git,
                           message="quickstart")  # fmt: skip
            assert outcome.deployment is not None
            c = outcome.plan.changes
            output.success(
                f"3/4 deployed version {outcome.deployment['version']}: {len(c.added)} files, "
                f"{outcome.bytes_sent:,} bytes in {outcome.seconds * 1000:.0f} ms; "
                f"{outcome.agents} agents live"
            )
            output.say(f"4/4 asking the agents (answers from {said}):")
            for request in REQUESTS:
                _ask(client, request)
    output.say()
    output.say(f"done in {time.perf_counter() - started:.1f} s. Next:")
    for line in (
        f"cd {folder}",
        "caxton tui                                          # chat, traces, hot reload",
        'caxton run "summarise 2, 4, 4, 4, 5, 5, 7 and 9"   # routed to the best agent',
        "caxton trace                                        # the last request's spans",
        "caxton serve --port 8421 --data-dir ../caxton-server &   # a server of your own",
        "caxton remote add prod http://127.0.0.1:8421 < ../caxton-server/server/admin-token",
        "caxton deploy --remote prod && caxton status && caxton log",
    ):
        output.echo(f"  {line}")


def _ask(client: Any, request: str) -> None:
    from caxton.cli.run import _summary

    result = client.send(request)
    answer = " ".join(str(result.get("answer") or "").split())
    route = result.get("route") or {}
    output.echo(f"\n> {request}")
    output.echo(f"  routed to {result['agent']}: {route.get('reason') or 'named'}")
    output.echo(f"  {answer[:300]}{'...' if len(answer) > 300 else ''}")
    output.echo(f"  {result['trace']['spans']} spans; {_summary(result)}")
