"""`caxton serve` killed with SIGKILL under load, then restarted on the same data: nothing
committed is lost, the stores open, and the server works on.

What "committed" means here. A memory write (the assistant's auto-stored interaction and its
`memory_store` call) commits in the execution, before the answer is sent: every answered
request's memory must survive. A trace is saved by the workspace's writer thread after the
answer, so a trace answered just before the kill may not have been saved; the guarantee is for
traces that `GET traces` had listed (a read waits for every save queued before it).
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from caxton.memory.embedder import Embedder
from tests.server.test_load import (
    API,
    ASSISTANT,
    Launch,
    Outcome,
    assert_remembers,
    jobs,
    launcher,
    listed_traces,
    make_workspace,
    problems,
    remembered,
    send_all,
    stored_traces,
)

CLIENTS = 20
LISTED_AT = 100  # answers: then `GET traces`, while the clients go on
KILL_AT = 200  # answers: then SIGKILL, with the other clients' requests in flight
SENT = 2_000  # more than are answered before the kill: the clients never run dry
AFTER_RESTART = 40


@pytest.fixture
def launch(tmp_path: Path) -> Iterator[Launch]:
    with launcher(tmp_path) as start:
        yield start


def test_sigkill_under_load_loses_nothing_committed(
    tmp_path: Path, launch: Launch, embedder: Embedder
) -> None:
    workspace, data = make_workspace(tmp_path), tmp_path / "data"
    server = launch(workspace, data)
    outcomes: list[Outcome] = []
    listed: set[str] = set()
    answered_then: set[str] = set()  # when `GET traces` was sent
    killed_at = 0.0

    async def list_then_kill(outcome: Outcome, n: int) -> None:
        nonlocal killed_at
        if n == LISTED_AT:
            answered_then.update(o.trace_id for o in outcomes if o.body is not None)
            async with httpx.AsyncClient(base_url=server.url, headers=server.headers) as http:
                response = await http.get(f"{API}/traces", params={"limit": 1000})
            listed.update(e["trace_id"] for e in response.json()["executions"])
        elif n == KILL_AT:
            killed_at = time.monotonic()
            os.kill(server.process.pid, signal.SIGKILL)

    asyncio.run(
        send_all(server, jobs(SENT, 4), CLIENTS, answered=list_then_kill, outcomes=outcomes)
    )
    assert server.process.wait(timeout=10) == -signal.SIGKILL

    answered = [o for o in outcomes if o.status is not None]
    assert len(answered) >= KILL_AT
    assert not problems(answered)  # every answer before the kill was a completed request
    in_flight = [o for o in outcomes if o.failure is not None and o.sent_at < killed_at]
    assert in_flight, "no request was in flight when the server was killed"
    # a read waits for the saves queued before it: all that was answered then is listed
    assert len(answered_then) >= LISTED_AT and answered_then <= listed

    restarted = launch(workspace, data)  # waits for GET /ready: 200
    with restarted.client() as client:
        kept = listed_traces(client)
        assert listed <= kept  # every trace listed before the kill is still there
        lost = {o.trace_id for o in answered} - kept
        print(f"\n{len(answered)} answered before the kill; {len(lost)} of their traces unsaved")

    more = asyncio.run(send_all(restarted, jobs(AFTER_RESTART, 2, prefix="after"), 4))
    assert len(more) == AFTER_RESTART and not problems(more)
    with restarted.client() as client:
        assert listed_traces(client) == kept | {o.trace_id for o in more}
    assert restarted.terminate() == 0, restarted.output()

    stored, _ = stored_traces(data)
    assert stored == kept | {o.trace_id for o in more}
    interactions, observations = remembered(workspace, embedder)
    assistant = [o.request for o in answered + more if o.agent == ASSISTANT]
    assert_remembers(assistant, interactions, observations)
    assert len(interactions) == len(set(interactions))  # nothing stored twice on replay
