"""Tortoise configuration, start-up and migrations for the `licensing` app."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tortoise import Tortoise
from tortoise.backends.base.config_generator import expand_db_url
from tortoise.connection import get_connection
from tortoise.migrations.api import migrate as tortoise_migrate
from tortoise.migrations.executor import MigrationExecutor

from models import APP_LABEL
from services import sql

MODEL_MODULES = ["models"]
MIGRATIONS_MODULE = "licensing.migrations"


DEFAULT_POOL_MAX = 10
DEFAULT_STATEMENT_TIMEOUT_MS = 15_000
# How long a SQLite writer waits for another's lock before failing.
SQLITE_BUSY_TIMEOUT_MS = 5_000


class DatabaseUnavailable(RuntimeError):
    """The database cannot be reached or opened: the message says which and what to do."""


def is_postgres(database_url: str) -> bool:
    return database_url.startswith(("postgres://", "postgresql://", "asyncpg://"))


async def keep_session(connection: object) -> None:
    """What a pooled PostgreSQL connection needs on release, beyond asyncpg's own rollback.

    asyncpg's default reset sends `SELECT pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *;
    RESET ALL` on every release: a round trip after every read, for session state this service
    never sets (no session settings, cursors, LISTEN or session advisory locks on pooled
    connections). An open transaction is still rolled back: asyncpg does that before calling
    this.
    """


def connection_config(
    database_url: str,
    *,
    pool_max: int = DEFAULT_POOL_MAX,
    statement_timeout_ms: int = DEFAULT_STATEMENT_TIMEOUT_MS,
) -> dict[str, Any]:
    """Tortoise's view of DATABASE_URL, with our pool and timeout defaults.

    Parameters in the URL itself (`?maxsize=20`, `?busy_timeout=...`) win over the defaults.
    """
    config = expand_db_url(database_url)
    credentials = config["credentials"]
    if is_postgres(database_url):
        credentials.setdefault("minsize", 1)
        credentials.setdefault("maxsize", pool_max)
        settings = credentials.setdefault("server_settings", {})
        settings.setdefault("statement_timeout", str(statement_timeout_ms))
        settings.setdefault("application_name", "licensing")
        credentials.setdefault("reset", keep_session)
    else:
        credentials.setdefault("busy_timeout", SQLITE_BUSY_TIMEOUT_MS)
    return config


# What asyncpg.connect takes of Tortoise's credentials: the pool's sizes and the like stay behind.
_CONNECT_KEYS = ("host", "port", "user", "password", "database", "ssl")


def listener_options(database_url: str) -> dict[str, Any]:
    """asyncpg.connect's arguments for the live updates' own LISTEN connection."""
    credentials = expand_db_url(database_url)["credentials"]
    options = {key: credentials[key] for key in _CONNECT_KEYS if credentials.get(key) is not None}
    options["server_settings"] = {"application_name": "licensing-listener"}
    return options


def _openable(config: dict[str, Any]) -> dict[str, Any]:
    """The config, once its SQLite file's folder exists (else SQLite's open would hang)."""
    credentials = config["connections"]["default"]["credentials"]
    path = credentials.get("file_path")
    if path not in (None, ":memory:") and not Path(path).parent.is_dir():
        raise DatabaseUnavailable(
            f"DATABASE_URL names a SQLite file in {Path(path).parent}, a folder that does not "
            "exist: create it, or point DATABASE_URL elsewhere."
        )
    return config


def tortoise_config(
    database_url: str,
    *,
    pool_max: int = DEFAULT_POOL_MAX,
    statement_timeout_ms: int = DEFAULT_STATEMENT_TIMEOUT_MS,
) -> dict[str, Any]:
    connection = connection_config(
        database_url, pool_max=pool_max, statement_timeout_ms=statement_timeout_ms
    )
    return {
        "connections": {"default": connection},
        "apps": {
            APP_LABEL: {
                "models": MODEL_MODULES,
                "default_connection": "default",
                "migrations": MIGRATIONS_MODULE,
            }
        },
        "use_tz": True,
        "timezone": "UTC",
    }


# For Tortoise's own CLI (`tortoise -c licensing.db.TORTOISE_ORM makemigrations`).
TORTOISE_ORM = tortoise_config(os.environ.get("DATABASE_URL", "sqlite://licensing.db"))


async def init_orm(database_url: str, **options: int) -> None:
    # The global fallback lets the ASGI lifespan task and request tasks share one context.
    config = _openable(tortoise_config(database_url, **options))
    await Tortoise.init(config=config, _enable_global_fallback=True)
    credentials = config["connections"]["default"]["credentials"]
    sql.open_reader(sqlite_path=None if is_postgres(database_url) else credentials["file_path"])


async def close_orm() -> None:
    sql.close_reader()
    await Tortoise.close_connections()


@asynccontextmanager
async def orm(database_url: str, **options: int) -> AsyncIterator[None]:
    await init_orm(database_url, **options)
    try:
        yield
    finally:
        await close_orm()


async def apply_migrations(database_url: str) -> None:
    """Bring the database schema up to the newest migration (what `licensing migrate` does)."""
    try:
        await tortoise_migrate(config=_openable(tortoise_config(database_url)))
    finally:
        await Tortoise.close_connections()


async def pending_migrations() -> list[str]:
    """Names of migrations not yet applied to the connected database."""
    apps = tortoise_config("sqlite://:memory:")["apps"]
    executor = MigrationExecutor(get_connection("default"), apps)
    steps = await executor.plan(None)
    return [step.migration.name for step in steps if not step.backward]


@dataclass(frozen=True)
class PoolUse:
    in_use: int
    idle: int
    maximum: int


def pool_use() -> PoolUse | None:
    """How many of this process's database connections are busy (None before start-up).

    PostgreSQL: asyncpg's pool. SQLite: the one writing connection, busy while its lock is
    held (reads outside transactions use a connection of their own, services/sql.py).
    """
    client: Any = get_connection("default")
    pool = getattr(client, "_pool", None)
    if pool is not None:
        size, idle = pool.get_size(), pool.get_idle_size()
        return PoolUse(in_use=size - idle, idle=idle, maximum=pool.get_max_size())
    lock = getattr(client, "_lock", None)
    if getattr(client, "_connection", None) is None or lock is None:
        return None
    busy = int(lock.locked())
    return PoolUse(in_use=busy, idle=1 - busy, maximum=1)


async def ping() -> None:
    await get_connection("default").execute_query("SELECT 1")


async def check_ready() -> None:
    """Raise DatabaseUnavailable or MigrationsBehind, each in one line a person can act on."""
    try:
        await ping()
    except Exception as error:
        raise DatabaseUnavailable(
            f"cannot reach the database ({type(error).__name__}: {error}). Check DATABASE_URL "
            "and that the database server is up."
        ) from None
    pending = await pending_migrations()
    if pending:
        raise MigrationsBehind(
            f"the database is behind: {len(pending)} migration(s) not applied "
            f"({', '.join(pending)}). Run `licensing migrate` first."
        )


class MigrationsBehind(RuntimeError):
    pass
