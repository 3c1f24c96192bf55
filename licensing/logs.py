"""Logs: one JSON object per line, on stderr, for every logger of the process (uvicorn's too).

Structured facts travel in `extra={"fields": {...}}` and become top-level keys of the line.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import sys
from collections.abc import Callable
from typing import Any

FIELDS = "fields"
# The current span's `traceId` and `spanId`, set by licensing/tracing.py while traces are on.
span_fields: Callable[[], dict[str, str]] | None = None


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "pid": os.getpid(),
        }
        if span_fields is not None:
            line.update(span_fields())
        line.update(getattr(record, FIELDS, None) or {})
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False, default=str)


def configure(level: str | int = "INFO") -> None:
    """Route every logger through one JSON handler; call once per process (each worker too)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # uvicorn's loggers keep no handlers of their own: their lines come here too.
    for name in ("uvicorn", "uvicorn.error", "uvicorn.asgi"):
        logging.getLogger(name).handlers.clear()
        logging.getLogger(name).propagate = True
    # Never uvicorn's access log: it would write `GET /sign/<token>` and `?signature=...`.
    # uvicorn writes it whenever that logger has a handler, its parents' included, so it is cut
    # off here, in every process (the workers of `--workers N` configure logging themselves).
    access = logging.getLogger("uvicorn.access")
    access.handlers.clear()
    access.propagate = False
    access.disabled = True
    # fontTools narrates every PDF's font subsetting at INFO, Tortoise each start and stop:
    # heard at DEBUG only.
    for chatty in ("fontTools", "tortoise"):
        logging.getLogger(chatty).setLevel(
            logging.NOTSET if root.level <= logging.DEBUG else logging.WARNING
        )


def level_from_env() -> str:
    return os.environ.get("LOG_LEVEL", "INFO").upper()
