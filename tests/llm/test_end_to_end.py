"""`caxton run` through a real provider: the workspace's caxton.toml names the fake server."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import Cli
from tests.llm.fake_servers import FakeServer, Reply, openai_stream


def test_run_streams_an_answer_from_a_configured_server(
    workspace: Path, cli: Cli, server: FakeServer
) -> None:
    with (workspace / "caxton.toml").open("a") as f:
        f.write(
            f'\n[llm.providers.fake]\nkind = "openai"\nbase_url = "{server.url}/v1"\n'
            'model = "gpt-4o"\n\n[llm.prices."gpt-4o"]\ninput = 2.5\noutput = 10.0\n'
        )
    server.push(Reply(events=openai_stream(["Hello ", "from ", "the server."], usage=(400, 8))))
    result = cli("run", "--agent", "assistant", "--model", "fake", "say hello", "--json")
    assert result.code == 0, result.err
    data = json.loads(result.out)
    assert data["answer"] == "Hello from the server."
    llm = next(s for s in data["spans"] if s["kind"] == "llm")
    assert llm["attributes"]["gen_ai.provider.name"] == "fake"
    assert llm["attributes"]["gen_ai.usage.input_tokens"] == 400
    # local, but priced in caxton.toml: a proxy in front of a paid API is counted
    assert llm["attributes"]["caxton.cost_usd"] == (400 * 2.5 + 8 * 10.0) / 1e6
    (sent,) = server.requests
    assert sent.body["model"] == "gpt-4o"
    assert sent.body["messages"][-1]["content"].startswith("say hello")


def test_run_without_a_key_says_how_to_set_it(workspace: Path, cli: Cli, live: None) -> None:
    with (workspace / "caxton.toml").open("a") as f:
        f.write('\n[llm.providers.hosted]\nkind = "openai"\napi_key_env = "HOSTED_KEY"\n')
    result = cli("run", "--agent", "assistant", "--model", "hosted", "say hello")
    assert result.code != 0
    assert "HOSTED_KEY is not set" in result.err
    assert "export HOSTED_KEY=..." in result.err
