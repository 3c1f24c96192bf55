"""Fresh, migrated databases for tests: a SQLite file, or a PostgreSQL database from a template.

`TEST_DATABASE_URL=postgres://user@host:port/db` runs the suite on PostgreSQL; the URL names
a database to connect to for CREATE DATABASE (the server must let that user create them).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from licensing import db

POSTGRES_URL = os.environ.get("TEST_DATABASE_URL", "")
ON_POSTGRES = POSTGRES_URL.startswith(("postgres://", "postgresql://"))


def _with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(scheme="postgres", path=f"/{name}"))


def _asyncpg_dsn(url: str) -> str:
    return urlunsplit(urlsplit(url)._replace(scheme="postgresql"))


class SqliteDatabases:
    def __init__(self, folder: Path) -> None:
        self.template = folder / "template.db"
        asyncio.run(db.apply_migrations(f"sqlite://{self.template}"))

    async def create(self, folder: Path) -> str:
        path = folder / "licensing.db"
        shutil.copy(self.template, path)
        return f"sqlite://{path}"

    async def create_empty(self, folder: Path) -> str:
        return f"sqlite://{folder / 'empty.db'}"

    async def drop(self, url: str) -> None:
        return None

    def close(self) -> None:
        return None


class PostgresDatabases:
    """One migrated template per test session; each test gets a copy (CREATE ... TEMPLATE)."""

    def __init__(self) -> None:
        self.template = f"licensing_template_{uuid.uuid4().hex[:8]}"
        asyncio.run(self._admin(f'CREATE DATABASE "{self.template}"'))
        asyncio.run(db.apply_migrations(_with_database(POSTGRES_URL, self.template)))

    async def _admin(self, *statements: str) -> None:
        connection = await asyncpg.connect(_asyncpg_dsn(POSTGRES_URL))
        try:
            for statement in statements:
                await connection.execute(statement)
        finally:
            await connection.close()

    async def create(self, folder: Path) -> str:
        name = f"licensing_test_{uuid.uuid4().hex[:12]}"
        await self._admin(f'CREATE DATABASE "{name}" TEMPLATE "{self.template}"')
        return _with_database(POSTGRES_URL, name)

    async def create_empty(self, folder: Path) -> str:
        name = f"licensing_test_{uuid.uuid4().hex[:12]}"
        await self._admin(f'CREATE DATABASE "{name}"')
        return _with_database(POSTGRES_URL, name)

    async def drop(self, url: str) -> None:
        name = urlsplit(url).path.lstrip("/")
        await self._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def close(self) -> None:
        asyncio.run(self._admin(f'DROP DATABASE IF EXISTS "{self.template}" WITH (FORCE)'))


Databases = SqliteDatabases | PostgresDatabases


def databases(folder: Path) -> Databases:
    return PostgresDatabases() if ON_POSTGRES else SqliteDatabases(folder)
