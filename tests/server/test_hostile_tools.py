"""Hostile WASM tools called by an agent through the real server: each request ends with the
tools' failures as error results, and the server keeps serving, also concurrently."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from caxton.server.embedded import start_embedded
from tests.tools.test_attacks import ATTACKS, install

HOSTILE = [name for name in ATTACKS if name != "not_wasm"]  # a non-module fails validation


def test_the_server_keeps_serving_through_hostile_tools(workspace: Path) -> None:
    for name in HOSTILE:
        install(workspace, name, ATTACKS[name][0]())
    (workspace / "agents" / "victim.toml").write_text(
        'name = "victim"\ndescription = "Calls every hostile tool."\n'
        'capabilities = ["hostile-testing"]\n'
        f"tools = {json.dumps(HOSTILE)}\n"
        'system_prompt = "You call tools."\nuser_prompt_template = "{{request}}"\n'
        "[limits]\nmax_tool_calls = 20\n"
    )
    with (
        start_embedded(workspace, model="test") as server,
        httpx.Client(base_url=server.url, headers=server.headers, timeout=60) as client,
    ):
        messages = "/api/v1/workspaces/my-ws/messages"

        def attack(_: int) -> dict[str, object]:
            response = client.post(messages, json={"request": "go", "agent": "victim"})
            assert response.status_code == 200, response.text
            return response.json()  # type: ignore[no-any-return]

        def harmless(_: int) -> int:
            health = client.get("/health").status_code
            answer = client.post(messages, json={"request": "hello", "agent": "assistant"})
            assert answer.status_code == 200 and answer.json()["stop_reason"] == "done"
            return health

        with ThreadPoolExecutor(4) as pool:
            attacks = [pool.submit(attack, i) for i in range(2)]
            calm = [pool.submit(harmless, i) for i in range(6)]
            results = [f.result(timeout=120) for f in attacks]
            assert [f.result(timeout=120) for f in calm] == [200] * 6
        for result in results:
            assert result["stop_reason"] == "done" and result["tool_calls"] == len(HOSTILE)
            trace = client.get(f"/api/v1/workspaces/my-ws/traces/{result['trace_id']}")
            failed = {
                s["attributes"]["gen_ai.tool.name"]
                for s in trace.json()["spans"]
                if s["kind"] == "tool" and s["status"] == "error"
            }
            assert failed == set(HOSTILE)  # every attack failed alone, as an error result
        assert client.get("/ready").status_code == 200
