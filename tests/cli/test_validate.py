"""`caxton validate`: every bad input gets a located, explained problem and the right exit code."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from caxton.errors import ExitCode
from tests.conftest import Cli

GOOD = """\
name = "helper"
description = "Helps."
capabilities = ["helping"]
tools = ["stats"]
system_prompt = "You help."

[llm]
temperature = 0.2

[parameters]
style = "brief"
"""


def write_agent(root: Path, text: str, name: str = "helper") -> Path:
    path = root / "agents" / f"{name}.toml"
    path.write_text(text)
    return path


def problems(cli: Cli, *paths: str) -> list[dict[str, object]]:
    result = cli("validate", "--json", *paths)
    data = json.loads(result.out)
    assert result.code == (ExitCode.INVALID if data["errors"] else ExitCode.OK)
    return list(data["problems"])


def only(cli: Cli, code: str) -> dict[str, object]:
    found = [p for p in problems(cli) if p["code"] == code]
    assert len(found) == 1, found
    return found[0]


def test_clean_workspace(workspace: Path, cli: Cli) -> None:
    write_agent(workspace, GOOD)
    result = cli("validate")
    assert result.code == 0
    assert "3 files checked, no problems" in result.err


def test_syntax_error_points_at_line_and_column(workspace: Path, cli: Cli) -> None:
    write_agent(workspace, GOOD.replace('style = "brief"', "style = brief"))
    result = cli("validate")
    assert result.code == ExitCode.INVALID
    assert "agents/helper.toml:11:9: error: TOML syntax error: Invalid value" in result.out
    assert "hint: strings need quotes" in result.out


def test_duplicate_key_is_located_at_the_second_definition(workspace: Path, cli: Cli) -> None:
    write_agent(workspace, GOOD + 'style = "long"\n')
    found = only(cli, "syntax")
    assert (found["line"], found["col"]) == (12, 1)
    assert "'parameters.style' is defined twice" in str(found["message"])


def test_unknown_key_suggests_the_closest(workspace: Path, cli: Cli) -> None:
    write_agent(workspace, GOOD.replace("temperature", "temprature"))
    found = only(cli, "unknown-key")
    assert (found["line"], found["col"]) == (8, 1)
    assert found["hint"] == "did you mean `temperature`?"


def test_wrong_type_with_quoted_number(workspace: Path, cli: Cli) -> None:
    write_agent(workspace, GOOD.replace("temperature = 0.2", 'temperature = "0.2"'))
    found = only(cli, "wrong-type")
    assert found["message"] == "llm.temperature must be a number, not a string"
    assert found["hint"] == "write it without quotes: temperature = 0.2"
    assert (found["line"], found["col"]) == (8, 15)


def test_string_where_an_array_belongs(workspace: Path, cli: Cli) -> None:
    write_agent(workspace, GOOD.replace('["helping"]', '"helping"'))
    found = only(cli, "wrong-type")
    assert found["hint"] == 'wrap it in brackets: capabilities = ["helping"]'


def test_missing_required_keys_are_all_named(workspace: Path, cli: Cli) -> None:
    write_agent(workspace, 'name = "helper"\n')
    missing = {str(p["message"]) for p in problems(cli) if p["code"] == "missing-key"}
    assert missing == {
        f"missing required key {k!r} in the top level"
        for k in ("description", "capabilities", "system_prompt")
    }


def test_bad_agent_name(workspace: Path, cli: Cli) -> None:
    write_agent(workspace, GOOD.replace('name = "helper"', 'name = "My Helper"'))
    found = only(cli, "bad-format")
    assert (found["line"], found["col"]) == (1, 8)
    assert "lowercase letters" in str(found["hint"])


def test_duplicate_agent_names_across_files(workspace: Path, cli: Cli) -> None:
    write_agent(workspace, GOOD)
    write_agent(workspace, GOOD, name="zz-helper")
    found = [p for p in problems(cli) if p["code"] == "duplicate-name"]
    assert len(found) == 1
    assert found[0]["path"] == "agents/zz-helper.toml"
    assert "already used by `helper.toml`" in str(found[0]["message"])


def test_values_out_of_range(workspace: Path, cli: Cli) -> None:
    write_agent(workspace, GOOD.replace("temperature = 0.2", "temperature = 3.5"))
    found = only(cli, "out-of-range")
    assert found["message"] == "llm.temperature is 3.5, out of range"
    assert found["hint"] == "use a value from 0 to 2"


def test_top_level_key_after_a_table(workspace: Path, cli: Cli) -> None:
    text = GOOD.replace('system_prompt = "You help."\n', "") + 'system_prompt = "You help."\n'
    write_agent(workspace, text)
    found = problems(cli)
    assert [p["code"] for p in found] == ["misplaced-key"], found
    assert "inside the [parameters] table" in str(found[0]["message"])
    assert "move `system_prompt = ...` above line 9" in str(found[0]["hint"])


def test_unknown_template_variable_is_located_inside_the_string(workspace: Path, cli: Cli) -> None:
    text = GOOD.replace(
        "[llm]", 'user_prompt_template = """\nAsk: {{request}}\nIn {{stlye}} style.\n"""\n\n[llm]'
    )
    write_agent(workspace, text)
    found = only(cli, "unknown-variable")
    assert (found["line"], found["col"]) == (9, 4)
    assert found["hint"] == "did you mean {{style}}?"


def test_unknown_tool(workspace: Path, cli: Cli) -> None:
    write_agent(workspace, GOOD.replace('["stats"]', '["stats", "csv_parse"]'))
    found = only(cli, "unknown-tool")
    assert (found["line"], found["col"]) == (4, 19)
    assert found["hint"] == "did you mean 'csv_parser'?"


def test_workspace_tools_and_mcp_tools_are_known(workspace: Path, cli: Cli) -> None:
    (workspace / "tools" / "weather").mkdir()
    (workspace / "tools" / "weather" / "tool.toml").write_text(
        'name = "weather"\ndescription = "Forecasts."\n\n[[tools]]\nname = "weather"\n'
        'description = "Forecast for a city."\n'
    )
    (workspace / "tools" / "weather" / "weather.wasm").write_bytes(b"\0asm\1\0\0\0")
    with (workspace / "caxton.toml").open("a") as handle:
        handle.write('\n[mcp_servers.gh]\ncommand = ["gh-mcp"]\ntools = ["search_issues"]\n')
    write_agent(workspace, GOOD.replace('["stats"]', '["weather", "search_issues"]'))
    assert problems(cli) == []


def test_empty_capabilities(workspace: Path, cli: Cli) -> None:
    write_agent(workspace, GOOD.replace('["helping"]', "[]"))
    found = only(cli, "empty")
    assert found["message"] == "capabilities is empty"
    assert found["hint"] == 'for example: capabilities = ["data-analysis", "report-generation"]'


def test_every_problem_is_reported_not_just_the_first(workspace: Path, cli: Cli) -> None:
    text = (
        GOOD.replace("temperature = 0.2", "temperature = 9")
        .replace('["stats"]', '["stat"]')
        .replace('"You help."', '"You help in {{tone}}."')
        + '\n[memory]\nscope = "team"\n'
    )
    write_agent(workspace, text)
    codes = sorted(str(p["code"]) for p in problems(cli))
    assert codes == ["bad-choice", "out-of-range", "unknown-tool", "unknown-variable"]


def test_unknown_provider_in_agent_and_workspace(workspace: Path, cli: Cli) -> None:
    write_agent(workspace, GOOD.replace("[llm]", '[llm]\nprovider = "opneai"'))
    config = workspace / "caxton.toml"
    config.write_text(
        config.read_text().replace('default_provider = "test"', 'default_provider = "local"')
    )
    found = [p for p in problems(cli) if p["code"] == "unknown-provider"]
    assert {p["path"] for p in found} == {"agents/helper.toml", "caxton.toml"}


def test_workspace_file_problems(workspace: Path, cli: Cli) -> None:
    (workspace / "caxton.toml").write_text('[workspace]\nname = "ok-name"\ncolour = 1\n')
    found = only(cli, "unknown-key")
    assert found["path"] == "caxton.toml"
    assert (found["line"], found["col"]) == (3, 1)


def test_binary_garbage(workspace: Path, cli: Cli) -> None:
    (workspace / "agents" / "junk.toml").write_bytes(b'name = "x"\n\x00\xff\xfe' + os.urandom(64))
    found = only(cli, "binary")
    assert (found["line"], found["col"]) == (2, 1)


def test_not_utf8(workspace: Path, cli: Cli) -> None:
    write_agent(workspace, "")
    (workspace / "agents" / "helper.toml").write_bytes(b'name = "caf\xe9"\n')
    found = only(cli, "encoding")
    assert (found["line"], found["col"]) == (1, 12)
    assert found["hint"] == "save the file as UTF-8"


def test_huge_file_is_refused_without_reading_it(workspace: Path, cli: Cli) -> None:
    path = workspace / "agents" / "huge.toml"
    with path.open("wb") as handle:
        handle.truncate(50 * 1024 * 1024)
    found = only(cli, "too-large")
    assert "50.0 MiB" in str(found["message"])


def test_directory_named_like_an_agent_file(workspace: Path, cli: Cli) -> None:
    (workspace / "agents" / "odd.toml").mkdir()
    found = only(cli, "not-a-file")
    assert "is a directory" in str(found["message"])


def test_unreadable_file(workspace: Path, cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write_agent(workspace, GOOD)
    real = Path.read_bytes

    def deny(self: Path) -> bytes:
        if self.name == path.name:
            raise PermissionError(13, "Permission denied", str(self))
        return real(self)

    monkeypatch.setattr(Path, "read_bytes", deny)
    found = only(cli, "unreadable")
    assert found["hint"] == f"check its permissions, e.g. `chmod u+r {path}`"


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
def test_unreadable_file_for_real(workspace: Path, cli: Cli) -> None:
    path = write_agent(workspace, GOOD)
    path.chmod(0)
    try:
        assert only(cli, "unreadable")["path"] == "agents/helper.toml"
    finally:
        path.chmod(0o644)


def test_no_workspace(tmp_path: Path, cli: Cli) -> None:
    result = cli("validate", cwd=tmp_path)
    assert result.code == ExitCode.NOT_FOUND
    assert "no Caxton workspace" in result.err
    assert "hint: create one with `caxton init`" in result.err


def test_named_files_and_missing_paths(workspace: Path, cli: Cli, tmp_path: Path) -> None:
    write_agent(workspace, GOOD)
    other = GOOD.replace("0.2", "7").replace('name = "helper"', 'name = "other"')
    write_agent(workspace, other, name="other")
    assert problems(cli, "agents/helper.toml") == []
    found = problems(cli, "agents/other.toml", "agents/nope.toml")
    assert [p["code"] for p in found] == ["out-of-range", "not-found"]


def test_a_file_outside_any_workspace(tmp_path: Path, cli: Cli) -> None:
    path = tmp_path / "loose.toml"
    path.write_text(GOOD.replace('name = "helper"', 'name = "loose"'))
    result = cli("validate", str(path), cwd=tmp_path)
    assert result.code == 0, result.out


def test_human_output_is_compiler_style_and_summarised(workspace: Path, cli: Cli) -> None:
    write_agent(workspace, GOOD.replace("temperature", "temprature"))
    result = cli("validate")
    assert result.out.splitlines() == [
        "agents/helper.toml:8:1: error: unknown key 'temprature' in [llm]",
        "  hint: did you mean `temperature`?",
    ]
    assert "1 error in 1 file (3 files checked)" in result.err


def test_warnings_do_not_fail(workspace: Path, cli: Cli) -> None:
    write_agent(workspace, GOOD.replace("[llm]", 'user_prompt_template = "Hi"\n\n[llm]'))
    result = cli("validate")
    assert result.code == 0
    assert "warning: user_prompt_template never uses {{request}}" in result.out


def test_duration_out_of_range(workspace: Path, cli: Cli) -> None:
    write_agent(workspace, GOOD + '\n[limits]\ntimeout = "2h"\n')
    found = only(cli, "out-of-range")
    assert found["message"] == "limits.timeout is 2h, out of range"
    assert found["hint"] == "use a value from 1 to 3600 (seconds)"


def test_parse_cache_is_used_and_never_stale(workspace: Path, cli: Cli) -> None:
    path = write_agent(workspace, GOOD)
    assert cli("validate").code == 0
    cache = workspace / ".caxton" / "cache"
    assert (cache / "toml-parse.marshal").is_file()
    assert (cache / ".gitignore").read_text().splitlines()[-1] == "*"
    # Same size, same second: only the content tells the two versions apart.
    path.write_text(GOOD.replace("temperature = 0.2", "temperature = 9.2"))
    assert only(cli, "out-of-range")["path"] == "agents/helper.toml"
    (cache / "toml-parse.marshal").write_bytes(b"\x00 not a cache")
    assert len(problems(cli)) == 1


def set_fallback(root: Path, value: str) -> int:
    """Rewrite `[routing] fallback` in the workspace's caxton.toml; returns its line."""
    config = root / "caxton.toml"
    text = config.read_text()
    assert 'fallback = "assistant"' in text  # `caxton init` wrote it
    config.write_text(text.replace('fallback = "assistant"', f"fallback = {value}"))
    return next(
        n
        for n, line in enumerate(config.read_text().splitlines(), 1)
        if line.startswith("fallback")
    )


def test_a_fallback_naming_no_agent_is_located_with_the_agents(workspace: Path, cli: Cli) -> None:
    write_agent(workspace, GOOD)
    line = set_fallback(workspace, '"asistant"')
    result = cli("validate")
    assert result.code == ExitCode.INVALID
    assert result.out.splitlines() == [
        f"caxton.toml:{line}:12: error: [routing] fallback names no agent: 'asistant'",
        "  hint: did you mean 'assistant'? the workspace's agents: assistant, helper; "
        "or remove `fallback`",
    ]
    config = workspace / "caxton.toml"
    config.write_text(config.read_text().replace('"asistant"', '"zzz"'))
    found = only(cli, "unknown-agent")
    assert found["hint"] == "the workspace's agents: assistant, helper; or remove `fallback`"


def test_a_fallback_in_a_workspace_without_agents(workspace: Path, cli: Cli) -> None:
    (workspace / "agents" / "assistant.toml").unlink()
    found = only(cli, "unknown-agent")
    assert found["path"] == "caxton.toml"
    assert "has no agents yet: add one with `caxton init NAME --template T`" in str(found["hint"])


def test_a_fallback_naming_an_invalid_agent_is_a_warning_beside_its_errors(
    workspace: Path, cli: Cli
) -> None:
    assistant = workspace / "agents" / "assistant.toml"
    assistant.write_text(assistant.read_text().replace("capabilities = [", "capabilitys = ["))
    found = problems(cli)
    fallback = next(p for p in found if p["path"] == "caxton.toml")
    assert fallback["code"] == "invalid-fallback" and fallback["severity"] == "warning"
    assert "fallback names 'assistant', which is invalid" in str(fallback["message"])
    assert fallback["hint"] == "fix `agents/assistant.toml` (its problems are listed with it)"
    assert {p["path"] for p in found if p["severity"] == "error"} == {"agents/assistant.toml"}
    broken = workspace / "agents" / "assistant.toml"
    broken.write_text("name = [\n")  # not even TOML: the file's name stands for the agent
    assert only(cli, "invalid-fallback")["path"] == "caxton.toml"


def test_a_badly_written_fallback_and_unknown_routing_keys(workspace: Path, cli: Cli) -> None:
    line = set_fallback(workspace, '"Assistant"\nthreshold = 0.3')
    found = problems(cli)
    assert sorted((p["line"], p["col"], p["code"], p["message"]) for p in found) == [
        (line, 12, "bad-format", "routing.fallback 'Assistant' is not valid"),
        (line + 1, 1, "unknown-key", "unknown key 'threshold' in [routing]"),
    ]
