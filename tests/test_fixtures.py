"""`licensing load`: idempotent upserts, and malformed files refused whole."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from tortoise.connection import get_connection

from bench.smtp import SmtpServer, signature_token
from licensing.settings import Settings
from models.audit import AuditEvent
from models.contract import LicensePool
from models.document import ContractDocument
from models.plan import Plan
from models.user import User
from resolvers.ids import encode_id
from services.errors import FixtureError
from services.fixtures import load_fixture_text
from services.fixtures.report import LoadReport
from tests.conftest import ACME, BASE_URL, EXAMPLE_FIXTURE, Acme, gql
from tests.test_licenses import ASSIGN, DELETE, DELETE_USER, JOBS
from tests.test_purchases import purchase, sign

TABLES = [
    "plan",
    "company",
    "contract",
    "license_pool",
    "storage_usage",
    "app_user",
    "license_assignment",
    "contract_document",
    "license_purchase",
    "audit_event",
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


async def _load_report(
    settings: Settings, data: dict[str, Any], source: str = "f.json", *, adjust: bool = False
) -> LoadReport:
    return await load_fixture_text(
        source=source, text=json.dumps(data), now=settings.clock.now(), adjust=adjust
    )


async def _load(settings: Settings, data: dict[str, Any], source: str = "f.json") -> str:
    return (await _load_report(settings, data, source)).summary()


async def test_loading_the_same_file_twice_changes_nothing(acme: Acme, settings: Settings) -> None:
    before = await _snapshot()
    assert len(before["license_pool"]) == 6
    assert len(before["contract_document"]) == 2
    assert await _load(settings, _example()) == "nothing to change"
    assert await _snapshot() == before


async def test_every_contract_gets_its_master_agreement(acme: Acme) -> None:
    documents = await ContractDocument.all().values_list("contract_id", "kind")
    assert sorted(documents) == [(1, "MASTER_AGREEMENT"), (2, "MASTER_AGREEMENT")]


async def _customer_changes(client: httpx.AsyncClient, acme: Acme, smtp: SmtpServer) -> None:
    """What a customer does after onboarding: buy and sign, delete, move and delete users."""
    owner = acme.tokens["owner"]
    await purchase(client, owner, kind="CONTRACTED", quantity=2)
    await sign(client, signature_token((await smtp.wait_for(1))[0], BASE_URL))
    await purchase(client, owner, kind="MONTHLY", quantity=4)
    await sign(client, signature_token((await smtp.wait_for(2))[1], BASE_URL))
    await purchase(client, owner, kind="DAILY", quantity=1)  # left pending
    deleted = await gql(
        client,
        DELETE,
        {"input": {"contractId": JOBS, "kind": "MONTHLY", "quantity": 1}},
        token=owner,
    )
    assert deleted["data"]["deleteLicenses"]["userErrors"] == []
    oscar = await User.get(email=ACME["office"])
    erin = await User.get(email=ACME["engineer"])
    moved = await gql(
        client,
        ASSIGN,
        {"input": {"userId": encode_id("User", oscar.id), "product": "JOBS", "kind": "DAILY"}},
        token=owner,
    )
    assert moved["data"]["assignLicense"]["userErrors"] == []
    gone = await gql(
        client, DELETE_USER, {"input": {"userId": encode_id("User", erin.id)}}, token=owner
    )
    assert gone["data"]["deleteUser"]["userErrors"] == []


async def test_reloading_the_onboarding_file_keeps_what_customers_did(
    client: httpx.AsyncClient, acme: Acme, settings: Settings, smtp: SmtpServer
) -> None:
    await _customer_changes(client, acme, smtp)
    before = await _snapshot()
    pdfs = {row["id"]: row["pdf"] for row in before["contract_document"]}
    report = await load_fixture_text(
        source="onboarding.json", text=EXAMPLE_FIXTURE.read_text(), now=settings.clock.now()
    )
    assert await _snapshot() == before
    assert {row["id"]: row["pdf"] for row in (await _snapshot())["contract_document"]} == pdfs
    assert report.summary() == "nothing to change"
    assert report.differences == [
        "onboarding.json: $.companies[0].contracts[0].pools.CONTRACTED: Acme Heating Ltd's JOBS "
        "CONTRACTED licenses is 12 here, the file says 10: left as it is",
        "onboarding.json: $.companies[0].contracts[0].pools.MONTHLY: Acme Heating Ltd's JOBS "
        "MONTHLY licenses is 6 here, the file says 3: left as it is",
        "onboarding.json: $.companies[0].users[2].licenses.JOBS: Oscar Office's JOBS license "
        "is DAILY here, the file says MONTHLY: left as it is",
        "onboarding.json: $.companies[0].users[3]: user erin@acme-heating.example is deleted "
        "through the service here, the file says listed: left as it is",
    ]
    assert report.lines()[-1].startswith("4 difference(s) left as the service has them")


async def test_adjust_applies_the_file_as_audited_operator_changes(
    client: httpx.AsyncClient, acme: Acme, settings: Settings, smtp: SmtpServer
) -> None:
    await _customer_changes(client, acme, smtp)
    old_master = await ContractDocument.get(contract_id=1, kind="MASTER_AGREEMENT")
    data = _example()
    data["companies"][0]["contracts"][0]["expiresOn"] = "2028-12-31"
    report = await _load_report(settings, data, adjust=True)
    assert report.differences == []
    assert len(report.adjusted) == 5
    totals = dict(await LicensePool.filter(contract_id=1).values_list("kind", "total"))
    assert totals == {"CONTRACTED": 10, "MONTHLY": 3, "DAILY": 2}
    assert await User.filter(email=ACME["engineer"]).exists()
    # The old master agreement stays as signed; the new terms have one of their own.
    masters = await ContractDocument.filter(contract_id=1, kind="MASTER_AGREEMENT").order_by("id")
    assert [m.pdf for m in masters[:1]] == [old_master.pdf]
    assert len(masters) == 2
    assert masters[1].title.endswith("2026-01-01 to 2028-12-31)")
    events = await AuditEvent.filter(
        company_id=1,
        actor_user_id=None,
        action__in=[
            "pool.total_adjusted",
            "contract.terms_adjusted",
            "license.switched",
            "user.restored",
        ],
    ).values_list("action", "details")
    actions = sorted(action for action, _ in events)
    assert actions == [
        "contract.terms_adjusted",
        "license.switched",
        "pool.total_adjusted",
        "pool.total_adjusted",
        "user.restored",
    ]
    assert all(details["source"] == "f.json" for _, details in events)


async def test_adjust_never_takes_a_total_below_what_is_assigned(
    client: httpx.AsyncClient, acme: Acme, settings: Settings
) -> None:
    data = _example()
    data["companies"][0]["contracts"][0]["pools"]["CONTRACTED"] = 1  # 2 are assigned
    before = await _snapshot()
    with pytest.raises(FixtureError, match="the JOBS CONTRACTED pool would hold 2 assigned"):
        await _load_report(settings, data, adjust=True)
    assert await _snapshot() == before


async def test_a_changed_plan_is_reported_and_adjust_issues_new_agreements(
    client: httpx.AsyncClient, acme: Acme, settings: Settings
) -> None:
    data = _example()
    data["plans"][0]["prices"]["MONTHLY"] = 6000
    report = await _load_report(settings, data)
    assert report.differences == [
        "f.json: $.plans[0].prices.MONTHLY: plan 'Customer Journey Plan' is 5500 here, the "
        "file says 6000: left as it is"
    ]
    assert (await Plan.get(name="Customer Journey Plan")).monthly_price_minor == 5500
    adjusted = await _load_report(settings, data, adjust=True)
    assert adjusted.created == {"master agreements": 1}
    assert (await Plan.get(name="Customer Journey Plan")).monthly_price_minor == 6000
    assert await ContractDocument.filter(contract_id=1, kind="MASTER_AGREEMENT").count() == 2
    [event] = await AuditEvent.filter(contract_id=1, action="contract.terms_adjusted")
    assert event.details["before"] == {"prices.MONTHLY": "5500"}
    assert event.details["after"] == {"prices.MONTHLY": "6000"}


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
        (
            lambda d: d["companies"][0].update(currency="ABC"),
            "$.companies[0].currency: Value error, ABC is not an ISO 4217 currency code",
        ),
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
