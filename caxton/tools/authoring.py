"""Writing workspace tools: `caxton tool new` scaffolds one, `caxton tool build` compiles it.

A workspace tool is `tools/<name>/` with `tool.toml` and one source, `<name>.c` or `<name>.zig`,
compiled with zig (`pip install ziglang`) for wasm32-wasi against the SDK shipped in this
package (`caxton/tools/sdk/`), so a tool folder holds no copy of it.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from string import Template
from typing import Literal

from caxton.errors import CaxtonError, ConflictError, ExitCode, NotFoundError, UsageError
from caxton.paths import TOOLS_DIR
from caxton.tools.catalog import BUILTIN_TOOL_NAMES
from caxton.tools.manifest import TOOL_NAME, TOOL_NAME_HINT, ToolManifest, load_tool

Lang = Literal["c", "zig"]
LANGS: tuple[Lang, ...] = ("c", "zig")
SDK_DIR = Path(__file__).parent / "sdk"
ZIGLANG = "ziglang"  # the PyPI package that ships zig; `python -m ziglang` runs it
ZIG_SDK_VERSION = "0.17."  # the zig std the Zig SDK is written against
STACK_BYTES = 1 << 20  # zig's default 16 MiB stack would start every instance at 16 MiB
COMPILE_TIMEOUT = 600  # seconds; a first build compiles the WASI libc (about 40 s)

_TOOL_NAME = re.compile(TOOL_NAME)


class BuildError(CaxtonError):
    """The compiler rejected a tool's source: the user's code must change."""

    exit_code = ExitCode.INVALID

    def __init__(self, message: str, hint: str | None, compiler_output: str = "") -> None:
        super().__init__(message, hint)
        self.compiler_output = compiler_output


class BuildFailed(CaxtonError):
    """The summary of a `caxton tool build` where some tools did not build."""

    def __init__(self, message: str, hint: str | None, exit_code: ExitCode) -> None:
        super().__init__(message, hint)
        self.exit_code = exit_code


@dataclass(frozen=True, slots=True)
class Built:
    """One tool compiled: where the module went, its size, and what is worth a warning."""

    name: str
    source: Path
    module: Path
    size: int
    seconds: float
    warnings: list[tuple[str, str | None]] = field(default_factory=list)  # (message, hint)
    compiler_output: str = ""  # the compiler's warnings, if any


# ---- caxton tool new ----------------------------------------------------------------------


def scaffold(root: Path, name: str, lang: Lang, *, force: bool = False) -> list[Path]:
    """Write `tools/<name>/` (tool.toml, the example source, README.md); the paths written."""
    from caxton.workspace.files import write_all

    check_new_name(root, name)
    folder = root / TOOLS_DIR / name
    if folder.exists() and not folder.is_dir():
        raise ConflictError(
            f"`{TOOLS_DIR}/{name}` exists and is not a folder", "choose another name"
        )
    present = sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []
    if present and not force:
        shown = ", ".join(present[:6]) + (
            f" and {len(present) - 6} more" if len(present) > 6 else ""
        )
        raise ConflictError(
            f"`{TOOLS_DIR}/{name}/` already exists and holds {shown}",
            f"choose another name, or pass `--force` to rewrite tool.toml, {name}.{lang} and "
            "README.md there",
        )
    other = folder / f"{name}.{'zig' if lang == 'c' else 'c'}"
    if other.is_file():
        raise ConflictError(
            f"`{other.relative_to(root)}` is there: a tool has one source, C or Zig",
            f"to switch `{name}` to {'C' if lang == 'c' else 'Zig'}, remove `{other.name}` first",
        )
    values = {"name": name, "ext": lang, "lang": "C" if lang == "c" else "Zig"}
    files = {
        folder / "tool.toml": Template(TOOL_TOML).substitute(values),
        folder / f"{name}.{lang}": Template(C_SOURCE if lang == "c" else ZIG_SOURCE).substitute(
            values
        ),
        folder / "README.md": Template(README).substitute(values),
    }
    return write_all(files, force=force)


def check_new_name(root: Path, name: str) -> None:
    if not _TOOL_NAME.fullmatch(name):
        fixed = re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")
        raise UsageError(
            f"tool name {name!r} is not valid: {TOOL_NAME_HINT}",
            f"try `caxton tool new {fixed}`" if _TOOL_NAME.fullmatch(fixed) else None,
        )
    if name in BUILTIN_TOOL_NAMES:
        raise ConflictError(
            f"{name!r} is a built-in tool's name",
            "choose another name; built-in tools cannot be replaced",
        )
    for manifest in sorted((root / TOOLS_DIR).glob("*/tool.toml")):
        if manifest.parent.name != name and name in load_tool(manifest).names:
            raise ConflictError(
                f"tool {name!r} is already declared by `{manifest.relative_to(root)}`",
                "tool names are unique in a workspace: choose another name",
            )


# ---- caxton tool build --------------------------------------------------------------------


def tool_folders(root: Path, names: list[str]) -> list[Path]:
    """The folders to build: those named, or every folder under tools/ with a source."""
    base = root / TOOLS_DIR
    folders = sorted(p for p in base.iterdir() if p.is_dir()) if base.is_dir() else []
    if not names:
        buildable = [f for f in folders if _sources(f)]
        if not buildable:
            raise NotFoundError(
                f"no tool sources in `{TOOLS_DIR}/` (a `<name>/<name>.c` or `<name>/<name>.zig`)",
                "start one with `caxton tool new NAME`",
            )
        return buildable
    from caxton.workspace.schema import suggest

    known = {f.name: f for f in folders}
    chosen = []
    for name in dict.fromkeys(names):
        if name not in known:
            close = suggest(name, known)
            raise NotFoundError(
                f"no tool folder `{TOOLS_DIR}/{name}/`"
                + (f"; did you mean {close!r}?" if close else ""),
                "`caxton tool new " + name + "` creates one; `caxton tool list` shows the tools",
            )
        source_file(known[name])  # a named tool without a source fails before any build
        chosen.append(known[name])
    return chosen


def source_file(folder: Path) -> Path:
    found = _sources(folder)
    name = folder.name
    if not found:
        raise NotFoundError(
            f"no source to build in `{TOOLS_DIR}/{name}/`: expected `{name}.c` or `{name}.zig`",
            "a prebuilt module needs no build; `caxton tool new` shows the layout",
        )
    if len(found) > 1:
        raise ConflictError(
            f"`{TOOLS_DIR}/{name}/` holds both `{name}.c` and `{name}.zig`",
            "keep the one you mean to build and remove the other",
        )
    return found[0]


def _sources(folder: Path) -> list[Path]:
    return [p for lang in LANGS if (p := folder / f"{folder.name}.{lang}").is_file()]


def zig_command() -> list[str]:
    if importlib.util.find_spec(ZIGLANG) is None:
        raise NotFoundError(
            "zig is not installed: `caxton tool build` compiles tools with it",
            "`pip install ziglang` (into the Python environment that runs caxton)",
        )
    return [sys.executable, "-m", ZIGLANG]


def compile_command(source: Path, target: Path, *, release: bool) -> list[str]:
    """The zig invocation for one C or Zig source: wasm32-wasi, a 1 MiB stack, SDK on the path."""
    if source.suffix == ".c":
        optimise = ["-O2", "-s"] if release else ["-O0", "-g"]
        return [
            *zig_command(),
            "cc",
            "--target=wasm32-wasi",
            *optimise,
            f"-Wl,-z,stack-size={STACK_BYTES}",
            "-Wall",
            "-Wextra",
            f"-I{SDK_DIR}",
            "-o",
            str(target),
            str(source),
        ]
    optimise = ["-O", "ReleaseSmall", "-fstrip"] if release else ["-O", "Debug"]
    return [
        *zig_command(),
        "build-exe",
        "-target",
        "wasm32-wasi",
        *optimise,
        "--stack",
        str(STACK_BYTES),
        "--dep",
        "caxton_tool",
        f"-Mroot={source}",
        f"-Mcaxton_tool={SDK_DIR / 'caxton_tool.zig'}",
        f"-femit-bin={target}",
    ]


def build_tool(root: Path, folder: Path, *, release: bool = True) -> Built:
    """Compile one tool into its module, then check the module answers for tool.toml's tools."""
    source = source_file(folder)
    manifest_path = folder / "tool.toml"
    loaded = load_tool(manifest_path) if manifest_path.is_file() else None
    manifest = loaded.manifest if loaded is not None else None
    module = (
        manifest.module_file(folder) if manifest is not None else folder / f"{folder.name}.wasm"
    )
    temp = module.with_name(f".{module.name}.caxton-tmp")
    shown = source.relative_to(root)
    warnings: list[tuple[str, str | None]] = []
    command = compile_command(source.relative_to(root), temp.relative_to(root), release=release)
    if source.suffix == ".zig":
        version = importlib.metadata.version(ZIGLANG)
        if not version.startswith(ZIG_SDK_VERSION):
            warnings.append(
                (
                    f"the Zig SDK is written for zig {ZIG_SDK_VERSION}x; ziglang {version} is "
                    "installed",
                    f"`pip install 'ziglang=={ZIG_SDK_VERSION}*'` if the build fails",
                )
            )
    started = time.perf_counter()
    try:
        done = subprocess.run(
            command,
            cwd=root,
            capture_output=True,
            text=True,
            errors="replace",
            timeout=COMPILE_TIMEOUT,
            check=False,
            env={**os.environ, "NO_COLOR": "1"},
        )
    except subprocess.TimeoutExpired as exc:
        temp.unlink(missing_ok=True)
        raise BuildError(
            f"building `{shown}` took longer than {COMPILE_TIMEOUT} s",
            "run the command again; a first build also compiles the WASI libc",
        ) from exc
    seconds = time.perf_counter() - started
    output = done.stderr.strip()
    if done.returncode != 0 or not temp.is_file():
        temp.unlink(missing_ok=True)
        raise BuildError(
            f"`{shown}` does not compile",
            "fix the errors above, then run `caxton tool build " + folder.name + "` again",
            output or done.stdout.strip(),
        )
    temp.replace(module)
    if loaded is None:
        warnings.append(
            (
                f"`{TOOLS_DIR}/{folder.name}/` has no tool.toml: agents cannot use the module",
                "`caxton tool new " + folder.name + " --force` writes one (and the example)",
            )
        )
    elif manifest is None:
        warnings.append(
            (
                f"`{manifest_path.relative_to(root)}` has errors, so the module's tools were "
                "not compared with it",
                "`caxton validate` shows them",
            )
        )
    else:
        warnings += _compare_tools(module, manifest)
    return Built(folder.name, source, module, module.stat().st_size, seconds, warnings, output)


def _compare_tools(module: Path, manifest: ToolManifest) -> list[tuple[str, str | None]]:
    """Ask the module for its tools (in the sandbox) and compare with tool.toml's `[[tools]]`."""
    from caxton.paths import cache_dir
    from caxton.tools.mcp_stdio import list_tools
    from caxton.tools.sandbox import RunLimits, Sandbox

    limits = RunLimits(
        memory_bytes=manifest.limits.memory.bytes,
        fuel=manifest.limits.fuel,
        timeout_seconds=manifest.limits.timeout.seconds,
        output_bytes=manifest.limits.output.bytes,
    )
    sandbox = Sandbox(cache_dir() / "wasm")
    answered = list_tools(
        sandbox,
        sandbox.module(module.read_bytes(), source=f"`{module.name}`"),
        manifest.name,
        limits=limits,
    )
    offered = {t["name"] for t in answered if isinstance(t.get("name"), str)}
    declared = {t.name for t in manifest.tools}
    out: list[tuple[str, str | None]] = []
    for name in sorted(declared - offered):
        out.append(
            (
                f"tool.toml declares {name!r} but the module does not answer for it",
                "add a handler for it to the source, or remove its [[tools]] table",
            )
        )
    for name in sorted(offered - declared):
        out.append(
            (
                f"the module answers for {name!r} but tool.toml does not declare it",
                "agents can only call tools declared in tool.toml: add a [[tools]] table",
            )
        )
    return out


# ---- the scaffold -------------------------------------------------------------------------
# string.Template: `$name` is the tool's name, `$ext` the source's extension, `$lang` C or Zig.

TOOL_TOML = """\
# The tool module `$name`: see docs/tool-authoring.md and docs/tools.md.
# `caxton tool build $name` compiles $name.$ext into $name.wasm beside this file.
name = "$name"
description = "Count the words and characters of a text."
version = "0.1.0"

# One [[tools]] table per tool the module answers for (the same names as in $name.$ext).
# Caxton checks each call's arguments against input_schema before the module runs.
[[tools]]
name = "$name"
description = "Count the words and characters of a text."

[tools.input_schema]
type = "object"
required = ["text"]

[tools.input_schema.properties.text]
type = "string"
description = "The text to count."

# To add an argument, describe it here too, e.g.:
# [tools.input_schema.properties.limit]
# type = "number"

# Deny by default: nothing outside the module is reachable unless named here.
[permissions]
env = []
dirs = []            # e.g. [{ path = "reports", mode = "ro" }] under the workspace data dir

# Per call; these are the defaults.
[limits]
memory = "64MB"
timeout = "10s"
"""

C_SOURCE = r"""/*
 * $name: a Caxton tool in C (see docs/tool-authoring.md).
 *
 *     caxton tool build $name
 *     caxton tool test $name --call '{"text": "hello world"}'
 *
 * caxton_tool.h comes with Caxton (caxton/tools/sdk/); `caxton tool build` finds it.
 */
#define CAXTON_TOOL_IMPLEMENTATION
#include "caxton_tool.h"

#include <stdlib.h>

/* One handler per tool in tool.toml: read the arguments, write the result with cx_printf or
 * cx_write, and return 0; `return cx_fail(out, "why");` gives an error result instead. */
static int handle_$name(const cx_args *args, cx_out *out) {
    char *text = cx_arg_string(args, "text");
    if (!text) return cx_fail(out, "`text` (a string) is required");

    /* To add an argument, e.g. a number `limit`: declare it in tool.toml (and in SCHEMA
     * below), then read it:
     *     double limit = 10;
     *     cx_arg_number(args, "limit", &limit);   (returns 1 if the argument was given)
     * cx_arg_bool, cx_arg_strings and cx_arg_numbers read the other types. */
    size_t words = 0, characters = 0;
    int in_word = 0;
    for (const unsigned char *p = (const unsigned char *)text; *p; p++) {
        if ((*p & 0xC0) != 0x80) characters++; /* UTF-8: count characters, not bytes */
        int space = *p == ' ' || *p == '\t' || *p == '\n' || *p == '\r';
        if (!space && !in_word) words++;
        in_word = !space;
    }
    cx_printf(out, "%zu words, %zu characters", words, characters);
    free(text);
    return 0;
}

/* What `tools/list` reports; keep it the same as input_schema in tool.toml. */
#define SCHEMA \
    "{\"type\":\"object\",\"properties\":{\"text\":{\"type\":\"string\"}},\"required\":[\"text\"]}"

int main(void) {
    static const cx_tool tools[] = {
        {"$name", "Count the words and characters of a text.", SCHEMA, handle_$name},
    };
    return cx_serve("$name", "0.1.0", tools, sizeof tools / sizeof tools[0]);
}
"""

ZIG_SOURCE = r"""//! $name: a Caxton tool in Zig (see docs/tool-authoring.md).
//!
//!     caxton tool build $name
//!     caxton tool test $name --call '{"text": "hello world"}'
//!
//! The `caxton_tool` module comes with Caxton (caxton/tools/sdk/); `caxton tool build` finds it.
const std = @import("std");
const cx = @import("caxton_tool");

/// One handler per tool in tool.toml: read the arguments, write the result with out.print or
/// out.write; `return out.fail("why");` gives an error result instead.
fn handle_$name(args: *const cx.Args, out: *cx.Out) !void {
    const text = args.string("text") orelse return out.fail("`text` (a string) is required");

    // To add an argument, e.g. a number `limit`: declare it in tool.toml (and in the schema
    // below), then read it:
    //     const limit = args.number("limit") orelse 10;
    // args.integer, args.boolean and args.array read the other types.
    var words: usize = 0;
    var in_word = false;
    for (text) |c| {
        const space = std.ascii.isWhitespace(c);
        if (!space and !in_word) words += 1;
        in_word = !space;
    }
    const characters = std.unicode.utf8CountCodepoints(text) catch text.len;
    try out.print("{d} words, {d} characters", .{ words, characters });
}

pub fn main() void {
    cx.serve("$name", "0.1.0", &.{.{
        .name = "$name",
        .description = "Count the words and characters of a text.",
        // What `tools/list` reports; keep it the same as input_schema in tool.toml.
        .input_schema =
        \\{"type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"]}
        ,
        .handler = handle_$name,
    }});
}
"""

README = """\
# $name

A Caxton tool written in $lang: `$name.$ext` compiles to `$name.wasm`, and `tool.toml` declares
what it offers, what it may reach and its limits.

```sh
caxton tool build $name
caxton tool test $name --call '{"text": "hello world"}'
caxton validate
```

Then list `$name` in an agent's `tools`. The walk-through is docs/tool-authoring.md in the
Caxton repository; the module's ABI is docs/tools.md.
"""
