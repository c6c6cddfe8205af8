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


_SIZE = re.compile(r"(\d+(?:\.\d+)?)\s*(B|KB|MB|GB)", re.IGNORECASE)
_UNIT_BYTES = {"b": 1, "kb": 1024, "mb": 1024**2, "gb": 1024**3}


@dataclass(frozen=True, slots=True)
class ByteSize(TomlScalar):
    """A size, written "512KB", "64MB" or "1GB" (binary units: 1 MB = 1024 x 1024 bytes)."""

    bytes: int
    text: str

    @classmethod
    def parse(cls, raw: Any) -> ByteSize:
        if not isinstance(raw, str):
            raise ValueError(f'must be a size string like "64MB", not {raw!r}')
        match = _SIZE.fullmatch(raw.strip())
        if match is None:
            raise ValueError(f"{raw!r} is not a size")
        return cls(int(float(match[1]) * _UNIT_BYTES[match[2].lower()]), raw.strip())

    @classmethod
    def json_schema(cls) -> dict[str, Any]:
        return {
            "type": "string",
            "pattern": r"^\d+(\.\d+)?\s*([KMG]?B|[kmg]?b)$",
            "examples": ["64MB", "512KB", "1GB"],
        }

    def magnitude(self) -> float:
        return float(self.bytes)

    @classmethod
    def unit_name(cls) -> str:
        return "bytes"

    def __str__(self) -> str:
        return self.text
