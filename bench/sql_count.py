"""Counting the SQL statements a piece of code sends, through Tortoise's statement log."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from contextlib import contextmanager

BACKGROUND_TASKS = frozenset(
    {"outbox-mailer", "renewals", "housekeeping", "webhook-sender", "webhook-attempt"}
)


class _Counter(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.sent: list[str] = []

    @property
    def statements(self) -> int:
        return len(self.sent)

    def emit(self, record: logging.LogRecord) -> None:
        # The background loops work in tasks of their own: not a request's SQL.
        task = asyncio.current_task()
        if task is None or task.get_name() not in BACKGROUND_TASKS:
            self.sent.append(record.getMessage())


# Tortoise logs what goes through it; services/sql.py logs the reads it sends past the ORM.
LOGGERS = ("tortoise.db_client", "licensing.sql")


@contextmanager
def count_sql() -> Iterator[_Counter]:
    counter = _Counter()
    loggers = [logging.getLogger(name) for name in LOGGERS]
    previous = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.DEBUG)
        logger.addHandler(counter)
    try:
        yield counter
    finally:
        for logger, level in zip(loggers, previous, strict=True):
            logger.removeHandler(counter)
            logger.setLevel(level)
