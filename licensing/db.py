"""Tortoise configuration, start-up and migrations for the `licensing` app."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from tortoise import Tortoise
from tortoise.connection import get_connection
from tortoise.migrations.api import migrate as tortoise_migrate
from tortoise.migrations.executor import MigrationExecutor

from models import APP_LABEL

MODEL_MODULES = ["models"]
MIGRATIONS_MODULE = "licensing.migrations"


def tortoise_config(database_url: str) -> dict[str, Any]:
    return {
        "connections": {"default": database_url},
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


async def init_orm(database_url: str) -> None:
    # The global fallback lets the ASGI lifespan task and request tasks share one context.
    await Tortoise.init(config=tortoise_config(database_url), _enable_global_fallback=True)


async def close_orm() -> None:
    await Tortoise.close_connections()


@asynccontextmanager
async def orm(database_url: str) -> AsyncIterator[None]:
    await init_orm(database_url)
    try:
        yield
    finally:
        await close_orm()


async def apply_migrations(database_url: str) -> None:
    """Bring the database schema up to the newest migration (what `licensing migrate` does)."""
    try:
        await tortoise_migrate(config=tortoise_config(database_url))
    finally:
        await Tortoise.close_connections()


async def pending_migrations() -> list[str]:
    """Names of migrations not yet applied to the connected database."""
    executor = MigrationExecutor(get_connection("default"), tortoise_config("")["apps"])
    steps = await executor.plan(None)
    return [step.migration.name for step in steps if not step.backward]


async def ping() -> None:
    await get_connection("default").execute_query("SELECT 1")
