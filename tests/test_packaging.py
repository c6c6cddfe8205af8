"""The built wheel is complete: templates inside, the TUI under a prefixed name, a working CLI."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

from caxton import __version__
from caxton.workspace.templates import template_names

ROOT = Path(__file__).parent.parent


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(out),
            str(ROOT),
        ],
        check=True,
        capture_output=True,
    )
    (built,) = out.glob("caxton-*.whl")
    return built


def test_wheel_contents(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    tops = {n.split("/")[0] for n in names if not n.split("/")[0].endswith(".dist-info")}
    assert tops == {"caxton", "caxton_tui"}, "no bare `tui` or `templates` at the top level"
    for template in template_names():
        assert f"caxton/templates/agents/{template}.toml" in names
    assert "caxton/templates/workspace/gitignore" in names
    assert "caxton/templates/workspace/agents/assistant.toml" in names
    for model_file in ("model.safetensors", "tokenizer.json", "config.json", "NOTICE.md"):
        assert f"caxton/memory/model/{model_file}" in names
    assert "caxton/tools/sdk/caxton_tool.h" in names
    for part in ("text.c", "text.wasm", "tool.toml"):
        assert f"caxton/tools/builtin/text/{part}" in names
    source_packages = {
        str(p.parent.relative_to(ROOT)).replace("/", ".")
        for p in (ROOT / "caxton").rglob("__init__.py")
    }
    for package in source_packages:
        assert f"{package.replace('.', '/')}/__init__.py" in names, f"{package} missing"


def test_declared_version_matches(wheel: Path) -> None:
    assert wheel.name.startswith(f"caxton-{__version__}-")
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert pyproject["project"]["scripts"]["caxton"] == "caxton.cli:entry"


@pytest.mark.slow
def test_installed_wheel_runs_init_with_every_template(wheel: Path, tmp_path: Path) -> None:
    """A non-editable install into a fresh venv (dependencies borrowed from this interpreter)."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)], check=True)
    bin_dir = venv / "bin"
    subprocess.run(
        [str(bin_dir / "pip"), "install", "-q", "--no-deps", "--no-index", str(wheel)],
        check=True,
        capture_output=True,
    )
    env = {**os.environ, "CAXTON_HOME": str(tmp_path / "home"), "NO_COLOR": "1"}
    env.pop("PYTHONPATH", None)

    def caxton(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(bin_dir / "caxton"), *args],
            cwd=cwd,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )

    where = subprocess.run(
        [str(bin_dir / "python"), "-c", "import caxton, caxton_tui; print(caxton.__file__)"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert where.startswith(str(venv)), "the wheel's copy must be the one that runs"
    done = caxton("init", "demo", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    workspace = tmp_path / "demo"
    for i, template in enumerate(template_names()):
        done = caxton("init", f"agent-{i}", "--template", template, cwd=workspace)
        assert done.returncode == 0, done.stderr
    done = caxton("validate", cwd=workspace)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"{len(template_names()) + 2} files checked, no problems" in done.stderr
    # the README's main job ends with a request: the installed wheel's WASM tools, embedding
    # model and test model answer it offline
    data_analyzer = template_names().index("data-analyzer")
    done = caxton("run", "--agent", f"agent-{data_analyzer}", "describe 3, 5 and 8", cwd=workspace)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("[test model]") and "tool stats: {" in done.stdout
    # the README's main job: quickstart (create, serve, deploy, ask) from the wheel, offline
    done = caxton("quickstart", "quick-demo", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "deployed version 1" in done.stderr and "deterministic `test` model" in done.stderr
    for agent in ("analyst", "reviewer", "assistant"):
        assert f"routed to {agent}:" in done.stdout
