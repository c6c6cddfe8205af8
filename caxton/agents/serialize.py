"""Agent configs as plain JSON-ready dicts (for `--json` output and the API)."""

from __future__ import annotations

import dataclasses
from typing import Any

from caxton.agents.model import AgentConfig
from caxton.workspace.values import Duration


def config_to_dict(config: AgentConfig) -> dict[str, Any]:
    def plain(value: Any) -> Any:
        if isinstance(value, Duration):
            return value.text
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
        if isinstance(value, list):
            return [plain(v) for v in value]
        if isinstance(value, dict):
            return {k: plain(v) for k, v in value.items()}
        return value

    result: dict[str, Any] = plain(config)
    return result
