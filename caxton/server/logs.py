"""The server's log: `caxton.server` and uvicorn's `uvicorn.error` on stderr, as text or JSON lines.

Text mode keeps the lines a person reads at a terminal (`GET /health 200 1.2ms`). JSON mode
writes one object per line, `{"ts", "level", "logger", "msg", ...fields}`, for a log shipper.
The access log carries method, path, status and milliseconds: never the query string or a
header, so never a token.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Literal, TextIO

LogFormat = Literal["text", "json"]
LOG_FORMATS: tuple[LogFormat, ...] = ("text", "json")

SERVER_LOGGER = "caxton.server"
ACCESS_LOGGER = "caxton.server.access"
UVICORN_LOGGER = "uvicorn.error"

# Attributes every LogRecord has; anything else on a record came from `extra=` and is a field.
_RECORD_KEYS = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "taskName"}
_HIDDEN_FIELDS = frozenset({"color_message"})  # uvicorn's coloured duplicate of `msg`


class JsonFormatter(logging.Formatter):
    """One JSON object per record: ts (UTC, ms), level, logger, msg, then the `extra` fields."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC)
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in _RECORD_KEYS and key not in _HIDDEN_FIELDS and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """The message alone for info; `warning: ...` or `error: ...` (and a traceback) above it."""

    def format(self, record: logging.LogRecord) -> str:
        text = record.getMessage()
        if record.levelno >= logging.WARNING:
            text = f"{record.levelname.lower()}: {text}"
        hint = getattr(record, "hint", None)
        if hint:
            text += f"\nhint: {hint}"
        if record.exc_info:
            text += "\n" + self.formatException(record.exc_info)
        return text


class _StderrHandler(logging.StreamHandler[TextIO]):
    """Writes to whatever `sys.stderr` is at the time (tests and embedding hosts swap it)."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, value: TextIO) -> None:
        pass


def configure(fmt: LogFormat) -> None:
    """Send `caxton.server` (info and up) and `uvicorn.error` (warnings and up) to stderr.

    Calling it again replaces the handler it installed before, so the format can change."""
    formatter = JsonFormatter() if fmt == "json" else TextFormatter()
    for name, level in ((SERVER_LOGGER, logging.INFO), (UVICORN_LOGGER, logging.WARNING)):
        logger = logging.getLogger(name)
        for old in [h for h in logger.handlers if isinstance(h, _StderrHandler)]:
            logger.removeHandler(old)
        handler = _StderrHandler()
        handler.setFormatter(formatter)
        logger.addHandler(handler)
        logger.setLevel(level)


def _printable(path: str) -> str:
    # A decoded path may hold a newline (`%0A`): escaped, it cannot forge a second log line.
    if path.isprintable():
        return path
    return "".join(c if c.isprintable() else f"\\x{ord(c):02x}" for c in path)


def access_logger(fmt: LogFormat) -> Callable[[str, str, int, float], None]:
    """A function `(method, path, status, ms)` logging one request on `caxton.server.access`.

    Text: `GET /health 200 1.2ms`. JSON: `"msg": "request"` with `method, path, status, ms`.
    `path` must be the path alone: no query string."""
    log = logging.getLogger(ACCESS_LOGGER)

    if fmt == "json":

        def record_json(method: str, path: str, status: int, ms: float) -> None:
            fields = {"method": method, "path": path, "status": status, "ms": round(ms, 2)}
            log.info("request", extra=fields)

        return record_json

    def record_text(method: str, path: str, status: int, ms: float) -> None:
        log.info("%s %s %d %.1fms", method, _printable(path), status, ms)

    return record_text
