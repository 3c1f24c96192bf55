"""Companies' committed data versions, read for subscribers."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from services import sql
from services.sql import Row

_CHUNK = 500  # companies per statement: SQLite takes at most 32,766 parameters


def _select(count: int) -> str:
    placeholders = ", ".join("?" * count)
    return f"SELECT id, data_version FROM company WHERE id IN ({placeholders})"  # noqa: S608


async def committed(company_ids: Sequence[int]) -> dict[int, int]:
    """Their versions as committed (on SQLite through the read connection: no waiting)."""
    return await _read(company_ids, sql.fetch)


async def after_open_writes(company_ids: Sequence[int]) -> dict[int, int]:
    """On SQLite, their versions once the transaction writing now has ended.

    Through the write connection (`sql.fetch_long`), whose lock a transaction holds to its end:
    a change that told us of itself mid-transaction is read committed, or not at all if it
    rolled back. Must run outside any transaction (a task of its own). On PostgreSQL,
    `committed`.
    """
    return await _read(company_ids, sql.fetch_long)


async def _read(
    company_ids: Sequence[int], fetch: Callable[[str, Sequence[Any]], Awaitable[list[Row]]]
) -> dict[int, int]:
    versions: dict[int, int] = {}
    for start in range(0, len(company_ids), _CHUNK):
        chunk = list(company_ids[start : start + _CHUNK])
        versions.update(
            (int(row[0]), int(row[1])) for row in await fetch(_select(len(chunk)), chunk)
        )
    return versions
