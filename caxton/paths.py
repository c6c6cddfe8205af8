"""Every on-disk location Caxton uses; `CAXTON_HOME` relocates all of them at once."""

from __future__ import annotations

import os
from pathlib import Path

APP_NAME = "caxton"
WORKSPACE_FILE = "caxton.toml"
AGENTS_DIR = "agents"
TOOLS_DIR = "tools"
STATE_DIR = ".caxton"


def _home_override() -> Path | None:
    value = os.environ.get("CAXTON_HOME")
    return Path(value).expanduser() if value else None


def config_dir() -> Path:
    """User configuration: remotes' tokens, preferences."""
    home = _home_override()
    if home is not None:
        return home / "config"
    import platformdirs

    return Path(platformdirs.user_config_dir(APP_NAME))


def data_dir() -> Path:
    """Server data: deployed workspaces, stores, secrets (`caxton serve --data-dir` moves it)."""
    home = _home_override()
    if home is not None:
        return home / "data"
    import platformdirs

    return Path(platformdirs.user_data_dir(APP_NAME))


def cache_dir() -> Path:
    """Rebuildable files: compiled WASM modules and the like."""
    home = _home_override()
    if home is not None:
        return home / "cache"
    import platformdirs

    return Path(platformdirs.user_cache_dir(APP_NAME))


def workspace_state_dir(root: Path) -> Path:
    """Per-workspace local state (gitignored): deploy records, local memory and traces."""
    return root / STATE_DIR
