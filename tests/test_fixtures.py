"""`licensing load`: idempotent upserts, and malformed files refused whole."""

from __future__ import annotations

import json
from typing import Any

import pytest
from tortoise.connection import get_connection

from licensing.settings import Settings
from models.contract import LicensePool
from models.document import ContractDocument
from services.errors import FixtureError
from services.fixtures import load_fixture_text
from tests.conftest import EXAMPLE_FIXTURE, Acme

TABLES = [
    "plan",
    "company",
    "contract",
    "license_pool",
    "storage_usage",
    "app_user",
    "license_assignment",
    "contract_document",
]


async def _snapshot() -> dict[str, list[dict[str, Any]]]:
    """Every row, except the companies' data_version: a cache counter that every load bumps."""
    connection = get_connection("default")
    return {
        table: [
            {column: value for column, value in row.items() if column != "data_version"}
            for row in await connection.execute_query_dict(f'SELECT * FROM "{table}" ORDER BY id')  # noqa: S608
        ]
        for table in TABLES
    }


def _example() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(EXAMPLE_FIXTURE.read_text())
    return data


async def _load(settings: Settings, data: dict[str, Any], source: str = "f.json") -> str:
    report = await load_fixture_text(source=source, text=json.dumps(data), now=settings.clock.now())
    return report.summary()


async def test_loading_the_same_file_twice_changes_nothing(acme: Acme, settings: Settings) -> None:
    before = await _snapshot()
    assert len(before["license_pool"]) == 6
    assert len(before["contract_document"]) == 2
    assert await _load(settings, _example()) == "nothing to change"
    assert await _snapshot() == before


async def test_every_contract_gets_its_master_agreement(acme: Acme) -> None:
    documents = await ContractDocument.all().values_list("contract_id", "kind")
    assert sorted(documents) == [(1, "MASTER_AGREEMENT"), (2, "MASTER_AGREEMENT")]


async def test_changed_terms_update_rows_and_regenerate_the_pdf(
    acme: Acme, settings: Settings
) -> None:
    old_pdf = (await ContractDocument.get(contract_id=1)).pdf
    data = _example()
    data["companies"][0]["contracts"][0]["pools"]["MONTHLY"] = 7
    data["companies"][0]["contracts"][0]["expiresOn"] = "2028-12-31"
    summary = await _load(settings, data)
    assert "updated 1 contracts" in summary
    pool = await LicensePool.get(contract_id=1, kind="MONTHLY")
    assert (pool.total, pool.assigned) == (7, 1)
    document = await ContractDocument.get(contract_id=1)
    assert document.pdf != old_pdf
    assert await ContractDocument.filter(contract_id=1).count() == 1


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (
            lambda d: d["companies"][0].update(taxRateBasisPoints="20"),
            "$.companies[0].taxRateBasisPoints: Input should be a valid integer",
        ),
        (
            lambda d: d["companies"][0]["contracts"][1]["pools"].update(MONTHLY=-1),
            "$.companies[0].contracts[1].pools.MONTHLY: Input should be greater than or equal to 0",
        ),
        (
            lambda d: d["companies"][0]["users"][2].update(role="BOSS"),
            "$.companies[0].users[2].role: Input should be",
        ),
        (
            lambda d: d["companies"][0]["contracts"][0].update(plan="Gold"),
            "$.companies[0].contracts[0].plan: no plan is named 'Gold'",
        ),
        (
            lambda d: d["companies"][0].update(currency="EUR"),
            "$.companies[0].contracts[0].plan: 'Customer Journey Plan' is priced in GBP",
        ),
        (
            lambda d: d["companies"][0]["contracts"][0]["pools"].update(DAILY=0),
            "the JOBS DAILY pool would hold 1 assigned licenses but only 0 in total",
        ),
        (
            lambda d: d["companies"][0]["users"][0]["licenses"].update(SALES="MONTHLY", JOBS="X"),
            "$.companies[0].users[0].licenses.JOBS",
        ),
        (lambda d: d.update(extra=1), "$.extra: Extra inputs are not permitted"),
    ],
)
async def test_a_malformed_fixture_is_refused_whole(
    client: object, settings: Settings, mutate: Any, expected: str
) -> None:
    data = _example()
    mutate(data)
    before = await _snapshot()
    with pytest.raises(FixtureError) as raised:
        await _load(settings, data, source="bad.json")
    assert str(raised.value).startswith("bad.json: ")
    assert expected in str(raised.value)
    assert await _snapshot() == before


async def test_overfull_pool_error_names_the_pool_and_loads_nothing(
    client: object, settings: Settings
) -> None:
    data = _example()
    data["companies"][0]["contracts"][0]["pools"]["MONTHLY"] = 0
    with pytest.raises(FixtureError, match="JOBS MONTHLY pool would hold 1 assigned"):
        await _load(settings, data)
    assert all(rows == [] for rows in (await _snapshot()).values())


async def test_invalid_json_names_the_file(client: object, settings: Settings) -> None:
    with pytest.raises(FixtureError, match=r"^broken.json: \$: Invalid JSON"):
        await load_fixture_text(source="broken.json", text="{", now=settings.clock.now())
