"""Build the built-in WASM tools from their C sources with zig (`pip install ziglang`).

    python scripts/build_tools.py            # rebuild caxton/tools/builtin/*/<name>.wasm
    python scripts/build_tools.py --out DIR  # build into DIR instead (the tests do this)

Each tool is `caxton/tools/builtin/<name>/<name>.c`, compiled against the SDK header in
`caxton/tools/sdk/` for wasm32-wasi (WASI preview1), optimised and stripped, with a 1 MiB stack
(zig's default 16 MiB would make every instance start with 16 MiB of memory).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BUILTIN = ROOT / "caxton" / "tools" / "builtin"
SDK = ROOT / "caxton" / "tools" / "sdk"
FLAGS = [
    "--target=wasm32-wasi",
    "-O2",
    "-s",
    "-Wl,-z,stack-size=1048576",
    "-Wall",
    "-Wextra",
    "-Werror",
]


def sources() -> list[Path]:
    return sorted(p for p in BUILTIN.glob("*/*.c") if p.stem == p.parent.name)


def build(source: Path, out_dir: Path) -> Path:
    target = out_dir / f"{source.stem}.wasm"
    command = [
        sys.executable,
        "-m",
        "ziglang",
        "cc",
        *FLAGS,
        f"-I{SDK}",
        "-o",
        str(target),
        str(source),
    ]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"building {source} failed:\n{done.stderr}")
    return target


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--out", type=Path, help="folder for the .wasm files (default: beside each source)"
    )
    args = parser.parse_args()
    for source in sources():
        out_dir = args.out or source.parent
        out_dir.mkdir(parents=True, exist_ok=True)
        target = build(source, out_dir)
        print(
            f"{target.relative_to(ROOT) if target.is_relative_to(ROOT) else target}: "
            f"{target.stat().st_size:,} bytes"
        )


if __name__ == "__main__":
    main()
