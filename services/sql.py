"""Reads on the hot paths in plain SQL, past the ORM.

Every request looks its token up, and every uncached read of the Licenses page runs a few
SELECTs. Through Tortoise's query builder and models one such SELECT costs about 450 us of CPU;
the same statement through aiosqlite's thread costs about 100 us, and through a second SQLite
connection on the event loop's own thread about 15 us. So:

- on SQLite, reads outside a transaction go to a read-only connection of their own, used
  synchronously on the loop's thread (WAL: it sees every committed write, never blocks a
  writer, and an indexed SELECT takes microseconds);
- on PostgreSQL, they go to a connection of Tortoise's pool, straight to asyncpg.

Writes, and reads inside a write's transaction, go through Tortoise's connection (`execute`
skips its query builder for the hottest few). Statements are written
with `?` placeholders; PostgreSQL gets `$1, $2...`. Values come back as the driver gives them:
`as_date` and `as_datetime` read SQLite's ISO text and pass PostgreSQL's native values through.
"""

from __future__ import annotations

import datetime as dt
import logging
import sqlite3
from collections.abc import Sequence
from typing import Any, Protocol, cast

from tortoise.connection import get_connection

logger = logging.getLogger("licensing.sql")
SQLITE_BUSY_TIMEOUT_MS = 2_000

Row = Sequence[Any]


class Reader(Protocol):
    async def fetch(self, sql: str, params: Sequence[Any] = ()) -> list[Row]: ...

    def close(self) -> None: ...


class SqliteReader:
    """A read-only connection used on the event loop's thread."""

    def __init__(self, path: str) -> None:
        self._connection = sqlite3.connect(
            path, isolation_level=None, check_same_thread=False, cached_statements=256
        )
        self._connection.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        self._connection.execute("PRAGMA query_only = ON")

    async def fetch(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug("%s: %s", sql, list(params))
        return self._connection.execute(sql, params).fetchall()

    def close(self) -> None:
        self._connection.close()


_numbered: dict[str, str] = {}


def numbered_placeholders(sql: str) -> str:
    """`?` placeholders as PostgreSQL's `$1, $2...` (a statement per shape: kept)."""
    rendered = _numbered.get(sql)
    if rendered is None:
        parts = sql.split("?")
        rendered = parts[0] + "".join(f"${n}{part}" for n, part in enumerate(parts[1:], 1))
        _numbered[sql] = rendered
    return rendered


class PostgresReader:
    """The pool of Tortoise's asyncpg client, with `$n` placeholders."""

    async def fetch(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        statement = numbered_placeholders(sql)
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug("%s: %s", statement, list(params))
        # A connection of Tortoise's pool, straight to asyncpg: its Records are rows by position.
        async with get_connection("default").acquire_connection() as connection:
            rows: list[Row] = await connection.fetch(statement, *params)
            return rows

    def close(self) -> None:
        return None


_reader: Reader | None = None


def open_reader(*, sqlite_path: str | None) -> None:
    """Called once the ORM is up: SQLite gets its read connection, PostgreSQL uses the pool."""
    global _reader
    close_reader()
    if sqlite_path is not None and sqlite_path != ":memory:":
        _reader = SqliteReader(sqlite_path)
    else:
        _reader = PostgresReader()


def close_reader() -> None:
    global _reader
    if _reader is not None:
        _reader.close()
        _reader = None


async def fetch(sql: str, params: Sequence[Any] = ()) -> list[Row]:
    if _reader is None:
        raise RuntimeError("the database is not open (licensing.db.init_orm opens it)")
    return await _reader.fetch(sql, params)


async def fetch_long(sql: str, params: Sequence[Any] = ()) -> list[Row]:
    """A read of many rows that must not hold the event loop while SQLite works (on SQLite
    `fetch` runs on the loop's thread): through Tortoise's connection, whose thread releases
    the GIL inside SQLite. On PostgreSQL, `fetch`."""
    if on_postgres():
        return await fetch(sql, params)
    _, rows = await get_connection("default").execute_query(sql, list(params))
    return cast(list[Row], rows)  # sqlite3.Row objects, typed as dicts by Tortoise


def on_postgres() -> bool:
    """Which dialect the open database speaks, for the few statements written for each."""
    if _reader is None:
        raise RuntimeError("the database is not open (licensing.db.init_orm opens it)")
    return isinstance(_reader, PostgresReader)


def _for(connection: Any, sql: str) -> str:
    """A statement written with `?` placeholders, as this connection's dialect takes it."""
    return sql if connection.capabilities.dialect == "sqlite" else numbered_placeholders(sql)


async def execute_returning(sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
    """A write with a RETURNING clause through Tortoise's connection: the rows it returned
    (the asyncpg client's execute_query counts an INSERT's rows wrong and drops them)."""
    connection = get_connection("default")
    return await connection.execute_query_dict(_for(connection, sql), list(params))


async def execute(sql: str, params: Sequence[Any] = ()) -> int:
    """A write through Tortoise's connection (inside `in_transaction()`, the transaction's),
    without its query builder; the number of rows it changed."""
    connection = get_connection("default")
    changed, _ = await connection.execute_query(_for(connection, sql), list(params))
    return int(changed)


def as_date(value: Any) -> dt.date:
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(value)


def as_datetime(value: Any) -> dt.datetime:
    return value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(value)


def as_optional_datetime(value: Any) -> dt.datetime | None:
    return None if value is None else as_datetime(value)
