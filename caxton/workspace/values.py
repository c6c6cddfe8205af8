"""Value types written as TOML strings: durations like "60s"."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from caxton.workspace.schema import TomlScalar

_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h)")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


@dataclass(frozen=True, slots=True)
class Duration(TomlScalar):
    """A span of time, written "500ms", "60s", "5m" or "1h"."""

    seconds: float
    text: str

    @classmethod
    def parse(cls, raw: Any) -> Duration:
        if not isinstance(raw, str):
            raise ValueError(f'must be a duration string like "60s", not {raw!r}')
        match = _DURATION.fullmatch(raw.strip())
        if match is None:
            raise ValueError(f"{raw!r} is not a duration")
        return cls(float(match[1]) * _UNIT_SECONDS[match[2]], raw.strip())

    @classmethod
    def json_schema(cls) -> dict[str, Any]:
        return {
            "type": "string",
            "pattern": f"^{_DURATION.pattern}$",
            "examples": ["60s", "500ms", "5m"],
        }

    def magnitude(self) -> float:
        return self.seconds

    @classmethod
    def unit_name(cls) -> str:
        return "seconds"

    def __str__(self) -> str:
        return self.text
