"""The migrations produce exactly what the models declare."""

from __future__ import annotations

import pytest
from tortoise import Tortoise
from tortoise.connection import get_connection
from tortoise.exceptions import IntegrityError
from tortoise.migrations.autodetector import MigrationAutodetector
from tortoise.migrations.constraints import CheckConstraint, UniqueConstraint

from licensing.db import orm, tortoise_config
from models import APP_LABEL


async def test_models_have_no_changes_missing_from_the_migrations(database_url: str) -> None:
    async with orm(database_url):
        apps = Tortoise.apps
        assert apps is not None
        detector = MigrationAutodetector(apps, tortoise_config(database_url)["apps"])
        assert await detector.changes() == []


def _declared_uniques(model: type) -> set[tuple[str, ...]]:
    meta = model._meta
    uniques: set[tuple[str, ...]] = set()
    for name, field in meta.fields_map.items():
        if getattr(field, "unique", False) and not field.pk:
            uniques.add((field.source_field or name,))
    for fields in meta.unique_together:
        uniques.add(tuple(meta.fields_map[f].source_field or f for f in fields))
    for constraint in meta.constraints:
        if isinstance(constraint, UniqueConstraint):
            uniques.add(tuple(meta.fields_map[f].source_field or f for f in constraint.fields))
    return uniques


async def _database_uniques(table: str) -> set[tuple[str, ...]]:
    connection = get_connection("default")
    uniques: set[tuple[str, ...]] = set()
    for index in await connection.execute_query_dict(f'PRAGMA index_list("{table}")'):
        if index["unique"] and index["origin"] != "pk":
            columns = await connection.execute_query_dict(f'PRAGMA index_info("{index["name"]}")')
            uniques.add(tuple(column["name"] for column in columns))
    return uniques


async def test_every_declared_constraint_exists_in_the_migrated_database(
    database_url: str,
) -> None:
    async with orm(database_url):
        connection = get_connection("default")
        apps = Tortoise.apps
        assert apps is not None
        for model in apps[APP_LABEL].values():
            table = model._meta.db_table
            assert await _database_uniques(table) == _declared_uniques(model), table
            [row] = await connection.execute_query_dict(
                "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", [table]
            )
            for constraint in model._meta.constraints:
                if isinstance(constraint, CheckConstraint):
                    assert f'CONSTRAINT "{constraint.name}" CHECK' in row["sql"], table
            for index in model._meta.indexes:
                wanted = tuple(index) if isinstance(index, tuple) else tuple(index.fields)
                found = await connection.execute_query_dict(f'PRAGMA index_list("{table}")')
                columns = [
                    tuple(
                        c["name"]
                        for c in await connection.execute_query_dict(
                            f'PRAGMA index_info("{i["name"]}")'
                        )
                    )
                    for i in found
                ]
                assert wanted in columns, (table, wanted)


async def test_the_database_refuses_an_oversold_pool(database_url: str) -> None:
    async with orm(database_url):
        connection = get_connection("default")
        await connection.execute_script(
            """INSERT INTO company (id, name, email, tax_rate_basis_points, currency, created_at)
               VALUES (1, 'C', 'c@x', 0, 'GBP', '2026-01-01');
               INSERT INTO plan VALUES (1, 'P', 'JOBS', 'GBP', 1, 1, 1, 1);
               INSERT INTO contract (id, company_id, product, plan_id, starts_on, expires_on)
               VALUES (1, 1, 'JOBS', 1, '2026-01-01', '2026-12-31');"""
        )
        for total, assigned in ((1, 2), (-1, 0), (1, -1)):
            with pytest.raises(IntegrityError, match="CHECK constraint failed"):
                await connection.execute_query(
                    "INSERT INTO license_pool (contract_id, kind, total, assigned) "
                    "VALUES (1, 'MONTHLY', ?, ?)",
                    [total, assigned],
                )
