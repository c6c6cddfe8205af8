"""The configuration reference names every key the validator knows."""

from __future__ import annotations

import dataclasses
import typing
from pathlib import Path

import pytest

from caxton.agents.model import AgentConfig
from caxton.tools.catalog import BUILTIN_TOOL_NAMES
from caxton.workspace.config import WorkspaceConfig
from caxton.workspace.schema import TomlScalar

REFERENCE = (Path(__file__).parent.parent / "docs" / "configuration.md").read_text()


@pytest.mark.parametrize("cls", [AgentConfig, WorkspaceConfig])
def test_every_key_is_documented(cls: type) -> None:
    pending = [cls]
    seen: set[str] = set()
    while pending:
        current = pending.pop()
        hints = typing.get_type_hints(current)
        for f in dataclasses.fields(current):
            seen.add(f.name)
            for candidate in (hints[f.name], *getattr(hints[f.name], "__args__", ())):
                if (
                    dataclasses.is_dataclass(candidate)
                    and isinstance(candidate, type)
                    and not issubclass(candidate, TomlScalar)
                ):
                    pending.append(candidate)
    forms = ("`{}`", "[{}", ".{}.")
    missing = sorted(n for n in seen if not any(f.format(n) in REFERENCE for f in forms))
    assert missing == []


def test_every_builtin_tool_is_documented() -> None:
    assert sorted(t for t in BUILTIN_TOOL_NAMES if f"`{t}`" not in REFERENCE) == []
