"""`caxton tool new|build`: scaffold a tool, compile it with zig for real, run it, validate it.

Real builds are slow the first time (zig compiles the WASI libc, about 40 s), so there is one
successful build per language; the compile-error tests come after them and reuse zig's cache.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from caxton.errors import ExitCode
from caxton.tools import authoring
from caxton.tools.sandbox import RunLimits, Sandbox
from tests.conftest import Cli
from tests.test_import_hygiene import run_probe


def test_c_tool_new_build_test_validate(workspace: Path, cli: Cli) -> None:
    created = cli("tool", "new", "hello")
    assert created.code == 0, created.err
    folder = workspace / "tools" / "hello"
    assert sorted(p.name for p in folder.iterdir()) == ["README.md", "hello.c", "tool.toml"]
    assert "`caxton tool build hello`" in created.err

    built = cli("tool", "build", "hello")
    assert built.code == 0, built.err
    assert "built `tools/hello/hello.wasm`: " in built.err and " ms" in built.err
    module = (folder / "hello.wasm").read_bytes()
    assert module.startswith(b"\0asm") and len(module) < 100_000
    assert "warning" not in built.err

    called = cli("tool", "test", "hello", "--call", '{"text": "héllo wörld\\n  again"}')
    assert called.code == 0, called.err
    assert called.out.strip() == "3 words, 19 characters"
    assert cli("validate").code == 0

    # the manifest and the module disagree: the build says so, both ways, and still succeeds
    manifest = folder / "tool.toml"
    manifest.write_text(
        manifest.read_text().replace('[[tools]]\nname = "hello"', '[[tools]]\nname = "greet"')
    )
    rebuilt = cli("tool", "build")
    assert rebuilt.code == 0, rebuilt.err
    assert "tool.toml declares 'greet' but the module does not answer for it" in rebuilt.err
    assert "the module answers for 'hello' but tool.toml does not declare it" in rebuilt.err


PROBE_ZIG = """\
const cx = @import("caxton_tool");

fn probe(args: *const cx.Args, out: *cx.Out) !void {
    if (args.boolean("boom") orelse false) return error.Boom;
    if (args.string("fail")) |why| return out.failf("failed: {s}", .{why});
    try out.writeJson(.{
        .s = args.string("s"),
        .n = args.number("n"),
        .i = args.integer("i"),
        .b = args.boolean("b"),
        .items = if (args.array("a")) |a| a.len else null,
    });
}

pub fn main() void {
    cx.serve("probe", "1.0.0", &.{.{ .name = "probe", .description = "Echo.", .handler = probe }});
}
"""


def test_zig_tool_new_build_test_validate(workspace: Path, cli: Cli) -> None:
    assert cli("tool", "new", "words", "--lang", "zig").code == 0
    folder = workspace / "tools" / "words"
    assert (folder / "words.zig").is_file() and not (folder / "words.c").exists()
    probe = workspace / "tools" / "probe"  # every helper of the Zig SDK
    probe.mkdir()
    (probe / "probe.zig").write_text(PROBE_ZIG)
    (probe / "tool.toml").write_text(
        'name = "probe"\ndescription = "Echo."\n[[tools]]\nname = "probe"\ndescription = "Echo."\n'
    )

    built = cli("tool", "build")  # no names: every tool with a source
    assert built.code == 0, built.err
    assert "built `tools/words/words.wasm`: " in built.err and "warning" not in built.err
    assert "built `tools/probe/probe.wasm`: " in built.err
    module = (folder / "words.wasm").read_bytes()
    assert module.startswith(b"\0asm") and len(module) < 100_000

    called = cli("tool", "test", "words", "--call", '{"text": "héllo wörld"}')
    assert called.code == 0, called.err
    assert called.out.strip() == "2 words, 11 characters"
    assert cli("validate").code == 0

    def call(arguments: str) -> tuple[int, str]:
        result = cli("tool", "test", "probe", "--call", arguments)
        return result.code, result.out.strip()

    assert call('{"s": "x", "n": 2.5, "i": 3.0, "b": true, "a": [1, "two", null]}') == (
        0,
        '{"s":"x","n":2.5,"i":3,"b":true,"items":3}',
    )
    assert call('{"s": 3, "n": -1e3, "i": 2.5, "b": "yes", "a": {}}') == (
        0,
        '{"s":null,"n":-1000,"i":null,"b":null,"items":null}',
    )
    assert call('{"i": -12}')[1] == '{"s":null,"n":null,"i":-12,"b":null,"items":null}'
    assert call('{"boom": true}') == (ExitCode.TOOL_FAILED, "probe failed: Boom")
    assert call('{"fail": "why"}') == (ExitCode.TOOL_FAILED, "failed: why")

    # the Zig SDK's protocol, beyond what `caxton tool test` sends
    lines = [
        '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{}}',
        '{"jsonrpc":"2.0","method":"notifications/initialized"}',
        '{"jsonrpc":"2.0","id":"two","method":"tools/list"}',
        '{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"words","arguments":{}}}',
        '{"jsonrpc":"2.0","id":4,"method":"tools/call","params":{"name":"nope"}}',
        '{"jsonrpc":"2.0","id":5,"method":"resources/list"}',
        "not json",
        "",
        '{"jsonrpc":"2.0","id":6,"method":"tools/call",'
        '"params":{"name":"words","arguments":{"text":"a \\"b\\"\\u00e9"}}}',
    ]
    sandbox = Sandbox()
    run = sandbox.run(
        sandbox.module(module), "\n".join(lines).encode(), limits=RunLimits(fuel=10**8)
    )
    assert run.ok, run
    answers = [json.loads(line) for line in run.stdout.decode().splitlines()]
    by_id = {a["id"]: a for a in answers}
    assert len(answers) == 7, "one answer per request; none for the notification or blank line"
    assert by_id[1]["result"]["serverInfo"] == {"name": "words", "version": "0.1.0"}
    assert by_id[1]["result"]["capabilities"] == {"tools": {}}
    (listed,) = by_id["two"]["result"]["tools"]
    assert listed["name"] == "words" and listed["inputSchema"]["required"] == ["text"]
    assert by_id[3]["result"] == {
        "content": [{"type": "text", "text": "`text` (a string) is required"}],
        "isError": True,
    }
    assert by_id[4]["error"]["code"] == -32602 and "nope" in by_id[4]["error"]["message"]
    assert by_id[5]["error"]["code"] == -32601
    assert by_id[None]["error"]["code"] == -32700
    assert by_id[6]["result"]["content"][0]["text"] == "2 words, 6 characters"


@pytest.mark.parametrize(
    ("lang", "broken", "where"),
    [
        ("c", "size_t words = nope, characters = 0;", "tools/broken/broken.c:"),
        ("zig", "var words: usize = nope;", "tools/broken/broken.zig:"),
    ],
)
def test_compiler_errors_are_shown(
    workspace: Path, cli: Cli, lang: str, broken: str, where: str
) -> None:
    assert cli("tool", "new", "broken", "--lang", lang).code == 0
    source = workspace / "tools" / "broken" / f"broken.{lang}"
    text = source.read_text()
    line = next(x for x in text.splitlines() if x.strip().startswith(broken.split(" = ")[0]))
    source.write_text(text.replace(line, "    " + broken))
    result = cli("tool", "build", "broken")
    assert result.code == ExitCode.INVALID
    assert where in result.err and "nope" in result.err, "the compiler's own message"
    assert "error: tool 'broken' did not build" in result.err
    assert "`caxton tool build broken`" in result.err
    assert sorted(p.name for p in source.parent.iterdir()) == [
        "README.md",
        f"broken.{lang}",
        "tool.toml",
    ], "no module and no temporary file left behind"


def test_new_refuses_bad_names_and_existing_folders(workspace: Path, cli: Cli) -> None:
    bad = cli("tool", "new", "Word-Count")
    assert bad.code == ExitCode.USAGE
    assert "lowercase letters" in bad.err and "`caxton tool new word_count`" in bad.err
    builtin = cli("tool", "new", "csv_parser")
    assert builtin.code == ExitCode.CONFLICT and "built-in tool's name" in builtin.err
    lang = cli("tool", "new", "hello", "--lang", "rust")
    assert lang.code == ExitCode.USAGE and "--lang must be c or zig" in lang.err

    assert cli("tool", "new", "hello").code == 0
    folder = workspace / "tools" / "hello"
    (folder / "hello.c").write_text("/* mine */\n")
    again = cli("tool", "new", "hello")
    assert again.code == ExitCode.CONFLICT
    assert "README.md, hello.c, tool.toml" in again.err and "--force" in again.err
    assert (folder / "hello.c").read_text() == "/* mine */\n"
    switch = cli("tool", "new", "hello", "--lang", "zig", "--force")
    assert switch.code == ExitCode.CONFLICT and "remove `hello.c` first" in switch.err
    assert cli("tool", "new", "hello", "--force").code == 0
    assert "handle_hello" in (folder / "hello.c").read_text()

    # a tool name is unique in the workspace, whichever folder declares it
    other = workspace / "tools" / "other"
    other.mkdir()
    (other / "tool.toml").write_text(
        'name = "other"\ndescription = "x"\n[[tools]]\nname = "greet"\ndescription = "x"\n'
    )
    taken = cli("tool", "new", "greet")
    assert taken.code == ExitCode.CONFLICT and "tools/other/tool.toml" in taken.err


def test_build_errors(workspace: Path, cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    nothing = cli("tool", "build")
    assert nothing.code == ExitCode.NOT_FOUND and "`caxton tool new NAME`" in nothing.err
    assert cli("tool", "new", "hello").code == 0
    typo = cli("tool", "build", "helo")
    assert typo.code == ExitCode.NOT_FOUND and "did you mean 'hello'?" in typo.err
    (workspace / "tools" / "prebuilt").mkdir()
    no_source = cli("tool", "build", "prebuilt")
    assert no_source.code == ExitCode.NOT_FOUND
    assert "expected `prebuilt.c` or `prebuilt.zig`" in no_source.err

    monkeypatch.setattr(authoring, "ZIGLANG", "caxton_no_such_ziglang")
    no_zig = cli("tool", "build", "hello")
    assert no_zig.code == ExitCode.NOT_FOUND
    assert "zig is not installed" in no_zig.err and "`pip install ziglang`" in no_zig.err


def test_outside_a_workspace(tmp_path: Path, cli: Cli) -> None:
    for args in (["tool", "new", "hello"], ["tool", "build"]):
        result = cli(*args, cwd=tmp_path)
        assert result.code == ExitCode.NOT_FOUND and "`caxton init`" in result.err
    assert not (tmp_path / "tools").exists()


def test_debug_builds_keep_debug_information() -> None:
    c_release = authoring.compile_command(Path("t.c"), Path("t.wasm"), release=True)
    c_debug = authoring.compile_command(Path("t.c"), Path("t.wasm"), release=False)
    assert "-O2" in c_release and "-s" in c_release and "-g" in c_debug
    zig_debug = authoring.compile_command(Path("t.zig"), Path("t.wasm"), release=False)
    assert "Debug" in zig_debug and "-fstrip" not in zig_debug
    assert all("1048576" in " ".join(c) for c in (c_release, c_debug, zig_debug))


def test_new_stays_light(workspace: Path) -> None:
    result = run_probe(["tool", "new", "hello"], workspace)
    assert result["code"] == 0
    assert result["loaded"] == []
