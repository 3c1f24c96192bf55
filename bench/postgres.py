"""A throwaway database on a PostgreSQL server, for the benchmark's PostgreSQL rows."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from urllib.parse import urlsplit, urlunsplit

import asyncpg


def _with_database(url: str, name: str) -> str:
    return urlunsplit(urlsplit(url)._replace(scheme="postgres", path=f"/{name}"))


async def _admin(server_url: str, statement: str) -> None:
    connection = await asyncpg.connect(
        urlunsplit(urlsplit(server_url)._replace(scheme="postgresql"))
    )
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


@asynccontextmanager
async def fresh_postgres_database(server_url: str) -> AsyncIterator[str]:
    """A new, empty database on the server `server_url` connects to; dropped afterwards."""
    name = f"licensing_bench_{uuid.uuid4().hex[:10]}"
    await _admin(server_url, f'CREATE DATABASE "{name}"')
    try:
        yield _with_database(server_url, name)
    finally:
        await _admin(server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
