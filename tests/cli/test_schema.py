"""`caxton schema`: JSON Schemas that agree with the validator on real and broken files."""

from __future__ import annotations

import json
import tomllib

import jsonschema
import pytest

from caxton.workspace.templates import load_template, render, skeleton_file, template_names
from tests.conftest import Cli


def schema(cli: Cli, kind: str) -> dict[str, object]:
    result = cli("schema", kind)
    assert result.code == 0
    data: dict[str, object] = json.loads(result.out)
    jsonschema.Draft202012Validator.check_schema(data)
    return data


@pytest.mark.parametrize("name", template_names())
def test_agent_schema_accepts_every_template(cli: Cli, name: str) -> None:
    data = tomllib.loads(render(load_template(name).text, agent_name="helper"))
    jsonschema.validate(data, schema(cli, "agent"))


@pytest.mark.parametrize(
    "mutation",
    [
        {"name": "Bad Name"},
        {"capabilities": []},
        {"llm": {"temperature": 3}},
        {"limits": {"timeout": "forever"}},
        {"memory": {"scope": "team"}},
        {"surprise": 1},
        {"parameters": {"Bad-Key": 1}},
    ],
)
def test_agent_schema_rejects_what_the_validator_rejects(
    cli: Cli, mutation: dict[str, object]
) -> None:
    data = tomllib.loads(render(load_template("data-analyzer").text, agent_name="helper"))
    data.update(mutation)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(data, schema(cli, "agent"))


def test_agent_schema_offers_tool_names_for_completion(cli: Cli) -> None:
    tools = schema(cli, "agent")["properties"]["tools"]  # type: ignore[index]
    assert "csv_parser" in json.dumps(tools)


def test_workspace_schema_accepts_the_skeleton(cli: Cli) -> None:
    data = tomllib.loads(render(skeleton_file("caxton.toml"), workspace_name="demo-ws"))
    jsonschema.validate(data, schema(cli, "workspace"))


def test_workspace_schema_has_the_routing_table(cli: Cli) -> None:
    data = tomllib.loads(render(skeleton_file("caxton.toml"), workspace_name="demo-ws"))
    workspace = schema(cli, "workspace")
    routing = workspace["properties"]["routing"]  # type: ignore[index]
    assert routing["additionalProperties"] is False and "fallback" in routing["properties"]
    for bad in ({"fallback": "Not A Name"}, {"fallback": 3}, {"fallback": "ok", "threshold": 1}):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate({**data, "routing": bad}, workspace)
    jsonschema.validate({**data, "routing": {}}, workspace)
