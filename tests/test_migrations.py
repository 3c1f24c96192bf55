"""The migrations produce exactly what the models declare, on SQLite and PostgreSQL."""

from __future__ import annotations

import re

import pytest
from tortoise import Tortoise
from tortoise.connection import get_connection
from tortoise.exceptions import IntegrityError
from tortoise.migrations.api import migrate
from tortoise.migrations.autodetector import MigrationAutodetector
from tortoise.migrations.constraints import CheckConstraint, UniqueConstraint

from licensing.db import apply_migrations, orm, tortoise_config
from models import APP_LABEL
from tests.databases import ON_POSTGRES

Index = tuple[tuple[str, ...], bool]  # (columns, unique)

PG_INDEXES = """
SELECT array_agg(a.attname ORDER BY k.ord) AS columns, x.indisunique AS is_unique
FROM pg_index x
JOIN pg_class t ON t.oid = x.indrelid
CROSS JOIN LATERAL unnest(x.indkey) WITH ORDINALITY AS k(attnum, ord)
JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum
WHERE t.relname = $1 AND NOT x.indisprimary
GROUP BY x.indexrelid, x.indisunique
"""
PG_CHECKS = """
SELECT conname FROM pg_constraint c JOIN pg_class t ON t.oid = c.conrelid
WHERE t.relname = $1 AND c.contype = 'c'
"""


async def _indexes(table: str) -> set[Index]:
    connection = get_connection("default")
    if ON_POSTGRES:
        rows = await connection.execute_query_dict(PG_INDEXES, [table])
        return {(tuple(row["columns"]), bool(row["is_unique"])) for row in rows}
    found: set[Index] = set()
    for index in await connection.execute_query_dict(f'PRAGMA index_list("{table}")'):
        if index["origin"] == "pk":
            continue
        columns = await connection.execute_query_dict(f'PRAGMA index_info("{index["name"]}")')
        found.add((tuple(column["name"] for column in columns), bool(index["unique"])))
    return found


async def _check_names(table: str) -> set[str]:
    connection = get_connection("default")
    if ON_POSTGRES:
        rows = await connection.execute_query_dict(PG_CHECKS, [table])
        return {row["conname"] for row in rows}
    [row] = await connection.execute_query_dict(
        "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", [table]
    )
    return set(re.findall(r'CONSTRAINT "(\w+)" CHECK', row["sql"]))


def _column(model: type, field: str) -> str:
    source: str = model._meta.fields_map[field].source_field or field  # type: ignore[attr-defined]
    return source


def _declared(model: type) -> tuple[set[tuple[str, ...]], set[tuple[str, ...]], set[str]]:
    """(unique column sets, indexed column sets, CHECK names) the model declares."""
    meta = model._meta  # type: ignore[attr-defined]
    uniques = {
        (field.source_field or name,)
        for name, field in meta.fields_map.items()
        if getattr(field, "unique", False) and not field.pk
    }
    uniques |= {tuple(_column(model, f) for f in fields) for fields in meta.unique_together}
    uniques |= {
        tuple(_column(model, f) for f in constraint.fields)
        for constraint in meta.constraints
        if isinstance(constraint, UniqueConstraint)
    }
    indexed = {
        tuple(index) if isinstance(index, tuple) else tuple(index.fields) for index in meta.indexes
    }
    checks = {c.name for c in meta.constraints if isinstance(c, CheckConstraint)}
    return uniques, indexed, checks


async def test_models_have_no_changes_missing_from_the_migrations(database_url: str) -> None:
    async with orm(database_url):
        apps = Tortoise.apps
        assert apps is not None
        detector = MigrationAutodetector(apps, tortoise_config(database_url)["apps"])
        assert await detector.changes() == []


async def test_every_declared_constraint_exists_in_the_migrated_database(
    database_url: str,
) -> None:
    async with orm(database_url):
        apps = Tortoise.apps
        assert apps is not None
        for model in apps[APP_LABEL].values():
            table = model._meta.db_table
            uniques, indexed, checks = _declared(model)
            found = await _indexes(table)
            assert {columns for columns, unique in found if unique} >= uniques, table
            assert {columns for columns, _ in found} >= indexed, table
            assert await _check_names(table) == checks, table


async def test_the_database_refuses_an_oversold_pool(database_url: str) -> None:
    async with orm(database_url):
        connection = get_connection("default")
        for statement in (
            "INSERT INTO company (id, name, email, tax_rate_basis_points, currency, created_at)"
            " VALUES (1, 'C', 'c@x', 0, 'GBP', '2026-01-01T00:00:00+00:00')",
            "INSERT INTO plan VALUES (1, 'P', 'JOBS', 'GBP', 1, 1, 1, 1)",
            "INSERT INTO contract (id, company_id, product, plan_id, starts_on, expires_on)"
            " VALUES (1, 1, 'JOBS', 1, '2026-01-01', '2026-12-31')",
        ):
            await connection.execute_script(statement)
        for total, assigned in ((1, 2), (-1, 0), (1, -1)):
            values = f"(1, 'MONTHLY', {total}, {assigned})"
            insert = "INSERT INTO license_pool (contract_id, kind, total, assigned) VALUES "
            with pytest.raises(IntegrityError, match=r"CHECK constraint failed|violates check"):
                await connection.execute_script(insert + values)


async def test_0005_keeps_old_tokens_to_read_and_write_and_old_registrations_a_cache(
    empty_database_url: str,
) -> None:
    """Before 0005 an empty scope list meant every scope, including any added later."""
    await migrate(
        config=tortoise_config(empty_database_url), target="licensing.0004_company_data_version"
    )
    async with orm(empty_database_url):
        connection = get_connection("default")
        for statement in (
            "INSERT INTO company (id, name, email, tax_rate_basis_points, currency, created_at)"
            " VALUES (1, 'C', 'c@x', 0, 'GBP', '2026-01-01T00:00:00+00:00')",
            "INSERT INTO app_user (id, company_id, name, email, role, created_at)"
            " VALUES (1, 1, 'U', 'u@x', 'OWNER_MANAGER', '2026-01-01T00:00:00+00:00')",
            "INSERT INTO api_token (user_id, token_hash, name, scopes, created_at) VALUES"
            " (1, 'a', 'all', '', '2026-01-01T00:00:00+00:00'),"
            " (1, 'b', 'read', 'licenses:read', '2026-01-01T00:00:00+00:00')",
            # Registered by anyone before 0005: a cache from now on, never an operator's.
            "INSERT INTO persisted_query (sha256, query, created_at)"
            " VALUES ('h', '{ x }', '2026-01-01T00:00:00+00:00')",
        ):
            await connection.execute_script(statement)
    await apply_migrations(empty_database_url)
    async with orm(empty_database_url):
        rows = await get_connection("default").execute_query_dict(
            "SELECT name, scopes FROM api_token ORDER BY name"
        )
        [registered] = await get_connection("default").execute_query_dict(
            "SELECT automatic FROM persisted_query"
        )
    assert registered["automatic"] in (True, 1)
    assert rows == [
        {"name": "all", "scopes": "licenses:read licenses:write"},
        {"name": "read", "scopes": "licenses:read"},
    ]


async def test_0006_gives_each_contract_its_first_term_and_leaves_ended_ones_ended(
    empty_database_url: str,
) -> None:
    """Before 0006 a contract simply stopped at expires_on: an ended one must not renew now."""
    await migrate(config=tortoise_config(empty_database_url), target="licensing.0005_trust")
    async with orm(empty_database_url):
        connection = get_connection("default")
        for statement in (
            "INSERT INTO company (id, name, email, tax_rate_basis_points, currency, created_at)"
            " VALUES (1, 'C', 'c@x', 0, 'GBP', '2026-01-01T00:00:00+00:00')",
            "INSERT INTO plan (id, name, product, currency, storage_allowance_per_license_bytes,"
            " contracted_price_minor, monthly_price_minor, daily_price_minor)"
            " VALUES (1, 'P', 'JOBS', 'GBP', 1, 1, 1, 1), (2, 'S', 'SALES', 'GBP', 1, 1, 1, 1)",
            "INSERT INTO contract (id, company_id, plan_id, product, starts_on, expires_on)"
            " VALUES (1, 1, 1, 'JOBS', '2020-01-01', '2020-12-31'),"
            " (2, 1, 2, 'SALES', '2020-01-01', '2999-12-31')",
            "INSERT INTO license_pool (contract_id, kind, total, assigned) VALUES"
            " (1, 'CONTRACTED', 4, 0), (1, 'MONTHLY', 0, 0), (1, 'DAILY', 0, 0),"
            " (2, 'CONTRACTED', 7, 0), (2, 'MONTHLY', 0, 0), (2, 'DAILY', 0, 0)",
            "INSERT INTO contract_document (id, contract_id, kind, title, signed_at, content_hash,"
            " pdf, created_at) VALUES (5, 2, 'MASTER_AGREEMENT', 'M', '2020-01-01T00:00:00+00:00',"
            " 'h', 'x', '2020-01-01T00:00:00+00:00')",
        ):
            await connection.execute_script(statement)
    await apply_migrations(empty_database_url)
    async with orm(empty_database_url):
        contracts = await get_connection("default").execute_query_dict(
            "SELECT id, auto_renews, term_months FROM contract ORDER BY id"
        )
        terms = await get_connection("default").execute_query_dict(
            "SELECT contract_id, number, contracted_licenses, master_document_id"
            " FROM contract_term ORDER BY contract_id"
        )
    assert [(c["id"], bool(c["auto_renews"]), c["term_months"]) for c in contracts] == [
        (1, False, 12),
        (2, True, 12),
    ]
    assert [tuple(t.values()) for t in terms] == [(1, 1, 4, None), (2, 1, 7, 5)]
