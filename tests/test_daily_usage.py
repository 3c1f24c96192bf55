"""Daily licenses billed by use: activity reports, the month's usage and the next invoice.

Acme (licensing/demo_fixture.json) on 2026-11-26: Erin holds a JOBS DAILY license, Oscar a JOBS
MONTHLY one, Olivia and Frank JOBS CONTRACTED ones. Days may be reported from 2026-10-01 (the
first day of the previous month) to 2026-11-27 (tomorrow).
"""

from __future__ import annotations

import asyncio
import copy
import dataclasses
import datetime as dt
import json
from typing import Any

import httpx
import pytest

from bench.sql_count import count_sql
from licensing.settings import Settings
from models.billing import BillableDay
from models.company import Company
from models.contract import Contract, LicensePool
from models.enums import Product, Role
from models.user import LicenseAssignment, User
from resolvers.ids import encode_id
from resolvers.pagination import encode_cursor
from services.fixtures import load_fixture_text
from services.protection.tokens import create_token
from tests.conftest import (
    ACME,
    EXAMPLE_FIXTURE,
    Acme,
    error_codes,
    gql,
    make_settings,
    serve,
)

RECORD = """
mutation Record($input: RecordLicenseActivityInput!) {
  recordLicenseActivity(input: $input) {
    accepted newBillableDays userErrors { field message code }
  }
}
"""
USAGE = """
query Usage($month: String) {
  subscription { contracts { product licensePool(kind: DAILY) { dailyUsage(month: $month) {
    month billableDays amount { amountMinor formatted }
    users(first: 10) { totalCount edges { node { user { name } userName days lastActiveOn } } }
  } } } }
}
"""
INVOICE = """
{ subscription { contracts { product nextInvoice {
  issuedOn lines { description amount { amountMinor } }
  subtotal { amountMinor } tax { amountMinor } total { amountMinor formatted } } } } }
"""
ERIN = "erin@acme-heating.example"


async def _activity_token(settings: Settings, email: str = ACME["owner"]) -> str:
    return await create_token(
        email=email, scopes=["activity:write"], name="Core product", now=settings.clock.now()
    )


@pytest.fixture
async def reporter(acme: Acme, settings: Settings) -> str:
    return await _activity_token(settings)


async def _id(email: str) -> str:
    return encode_id("User", (await User.get(email=email)).id)


def _event(user_id: str, on: str, kind: str = "LOGIN", product: str = "JOBS") -> dict[str, str]:
    return {"userId": user_id, "product": product, "kind": kind, "on": on}


async def _record(
    client: httpx.AsyncClient, token: str, events: list[dict[str, str]]
) -> dict[str, Any]:
    body = await gql(client, RECORD, {"input": {"events": events}}, token=token)
    assert "errors" not in body, body
    result: dict[str, Any] = body["data"]["recordLicenseActivity"]
    return result


async def _daily(
    client: httpx.AsyncClient, token: str, month: str | None = None, product: str = "JOBS"
) -> dict[str, Any]:
    body = await gql(client, USAGE, {"month": month}, token=token)
    assert "errors" not in body, body
    [contract] = [c for c in body["data"]["subscription"]["contracts"] if c["product"] == product]
    usage: dict[str, Any] = contract["licensePool"]["dailyUsage"]
    return usage


async def _stored_days() -> list[tuple[int, str]]:
    rows = await BillableDay.all().order_by("day", "user_id").values_list("user_id", "day")
    return [(user_id, day.isoformat()) for user_id, day in rows]


async def test_billable_days_are_recorded_once_and_other_kinds_add_nothing(
    client: httpx.AsyncClient, acme: Acme, reporter: str
) -> None:
    erin, oscar, olivia = await _id(ERIN), await _id(ACME["office"]), await _id(ACME["owner"])
    result = await _record(
        client,
        reporter,
        [
            _event(erin, "2026-11-20", "LOGIN"),
            _event(erin, "2026-11-20", "APPOINTMENT_BOOKED"),  # the same day: counted once
            _event(erin, "2026-11-21", "APPOINTMENT_ACTIONED"),
            _event(oscar, "2026-11-20"),  # MONTHLY: accepted, adds nothing
            _event(olivia, "2026-11-20"),  # CONTRACTED: accepted, adds nothing
            _event(erin, "2026-11-20", product="SALES"),  # holds no SALES DAILY license
        ],
    )
    assert result == {"accepted": 6, "newBillableDays": 2, "userErrors": []}
    erin_pk = (await User.get(email=ERIN)).id
    assert await _stored_days() == [(erin_pk, "2026-11-20"), (erin_pk, "2026-11-21")]

    again = await _record(
        client, reporter, [_event(erin, "2026-11-21"), _event(erin, "2026-11-22")]
    )
    assert again == {"accepted": 2, "newBillableDays": 1, "userErrors": []}

    usage = await _daily(client, acme.tokens["finance"])
    pools = await gql(
        client,
        "{ subscription { contracts { licensePools { kind dailyUsage { month } } } } }",
        token=acme.tokens["finance"],
    )
    kinds = [
        (pool["kind"], pool["dailyUsage"])
        for pool in pools["data"]["subscription"]["contracts"][0]["licensePools"]
    ]
    assert kinds == [("CONTRACTED", None), ("MONTHLY", None), ("DAILY", {"month": "2026-11"})]
    assert usage == {
        "month": "2026-11",
        "billableDays": 3,
        "amount": {"amountMinor": "1200", "formatted": "£12.00"},  # 3 x £4.00
        "users": {
            "totalCount": 1,
            "edges": [
                {
                    "node": {
                        "user": {"name": "Erin Engineer"},
                        "userName": "Erin Engineer",
                        "days": 3,
                        "lastActiveOn": "2026-11-22",
                    }
                }
            ],
        },
    }


async def test_a_report_that_adds_nothing_changes_nothing_and_the_next_read_sees_a_new_day(
    client: httpx.AsyncClient, acme: Acme, reporter: str
) -> None:
    erin = await _id(ERIN)
    finance = acme.tokens["finance"]
    await _record(client, reporter, [_event(erin, "2026-11-20")])
    assert (await _daily(client, finance))["billableDays"] == 1  # now in the response cache
    version = (await Company.get(name="Acme Heating Ltd")).data_version

    with count_sql() as counter:
        repeated = await _record(client, reporter, [_event(erin, "2026-11-20")] * 3)
    assert repeated["newBillableDays"] == 0
    writes = [s for s in counter.sent if not s.lstrip().upper().startswith("SELECT")]
    # Only the rate limit's bucket: no company lock, no insert, no transaction.
    assert len(writes) == 1, writes
    assert "rate_limit_bucket" in writes[0], writes
    assert (await Company.get(name="Acme Heating Ltd")).data_version == version

    await _record(client, reporter, [_event(erin, "2026-11-21")])
    assert (await Company.get(name="Acme Heating Ltd")).data_version == version + 1
    assert (await _daily(client, finance))["billableDays"] == 2  # the very next read


async def test_concurrent_identical_reports_add_each_day_once(
    client: httpx.AsyncClient, acme: Acme, reporter: str
) -> None:
    erin = await _id(ERIN)
    days = [f"2026-11-{day:02}" for day in range(1, 21)]
    events = [_event(erin, day) for day in days]
    results = await asyncio.gather(*(_record(client, reporter, events) for _ in range(20)))
    assert all(result["accepted"] == 20 and not result["userErrors"] for result in results)
    assert sum(result["newBillableDays"] for result in results) == 20
    assert [day for _, day in await _stored_days()] == days


async def test_days_outside_the_reportable_range_are_refused_with_their_path(
    client: httpx.AsyncClient, acme: Acme, reporter: str
) -> None:
    erin = await _id(ERIN)
    result = await _record(
        client,
        reporter,
        [
            _event(erin, "2026-10-01"),  # the first day of the previous month: fine
            _event(erin, "2026-09-30"),
            _event(erin, "2026-11-27"),  # tomorrow: fine
            _event(erin, "2026-11-28"),
        ],
    )
    assert result["accepted"] == 0
    assert result["newBillableDays"] == 0
    assert [(e["code"], e["field"]) for e in result["userErrors"]] == [
        ("ACTIVITY_DAY_OUT_OF_RANGE", ["input", "events", "1", "on"]),
        ("ACTIVITY_DAY_OUT_OF_RANGE", ["input", "events", "3", "on"]),
    ]
    assert "from 2026-10-01 to 2026-11-27" in result["userErrors"][0]["message"]
    assert await _stored_days() == []  # all or nothing

    fine = await _record(client, reporter, [_event(erin, "2026-10-01"), _event(erin, "2026-11-27")])
    assert fine["newBillableDays"] == 2


async def test_another_companys_or_unknown_user_reads_as_not_found(
    client: httpx.AsyncClient, acme: Acme, other_company: str, reporter: str
) -> None:
    erin = await _id(ERIN)
    barry = await _id("barry@bolt-plumbing.example")
    result = await _record(
        client,
        reporter,
        [
            _event(erin, "2026-11-20"),
            _event(barry, "2026-11-20"),
            _event(encode_id("User", 99_999), "2026-11-20"),
            _event(encode_id("Contract", 1), "2026-11-20"),
            _event("not an id", "2026-11-20"),
        ],
    )
    assert result["accepted"] == 0
    assert [(e["code"], e["field"]) for e in result["userErrors"]] == [
        ("NOT_FOUND", ["input", "events", str(n), "userId"]) for n in (1, 2, 3, 4)
    ]
    messages = {e["message"] for e in result["userErrors"]}
    assert len(messages) == 1  # another company's user reads exactly like an unknown one
    assert await _stored_days() == []


async def test_more_than_a_thousand_events_are_refused_and_a_thousand_are_taken(
    client: httpx.AsyncClient, acme: Acme, reporter: str
) -> None:
    erin = await _id(ERIN)
    days = [f"2026-11-{day:02}" for day in range(1, 28)]
    events = [_event(erin, days[n % len(days)]) for n in range(1_001)]
    refused = await _record(client, reporter, events)
    assert refused["accepted"] == 0
    assert [(e["code"], e["field"]) for e in refused["userErrors"]] == [
        ("TOO_MANY_EVENTS", ["input", "events"])
    ]
    assert await _stored_days() == []

    taken = await _record(client, reporter, events[:1_000])
    assert taken == {"accepted": 1_000, "newBillableDays": 27, "userErrors": []}

    empty = await _record(client, reporter, [])
    assert [e["code"] for e in empty["userErrors"]] == ["INVALID_QUANTITY"]


async def test_the_cost_of_a_report_follows_its_events(
    client: httpx.AsyncClient, acme: Acme, reporter: str
) -> None:
    erin = await _id(ERIN)

    async def report(count: int, document: str = RECORD) -> dict[str, Any]:
        events = [_event(erin, "2026-11-20")] * count
        response = await client.post(
            "/graphql",
            json={"query": document, "variables": {"input": {"events": events}}},
            headers={"Authorization": f"Bearer {reporter}"},
        )
        body: dict[str, Any] = response.json()
        return body

    async def cost_of(count: int) -> int:
        cost = (await report(count))["extensions"]["cost"]
        assert cost["actualQueryCost"] == cost["requestedQueryCost"]
        requested: int = cost["requestedQueryCost"]
        return requested

    assert await cost_of(1) == 11
    assert await cost_of(1_000) == 510
    assert await cost_of(1_500) == 760  # run, and refused as TOO_MANY_EVENTS
    # Far too many events are refused before anything checks them.
    huge = await report(3_000)
    assert error_codes(huge) == ["QUERY_TOO_COSTLY"]
    assert huge["extensions"]["cost"]["requestedQueryCost"] == 1_510
    # A list given as a variable's default costs what it holds.
    defaulted = RECORD.replace(
        "$input: RecordLicenseActivityInput!",
        "$input: RecordLicenseActivityInput! = {events: ["
        + ", ".join([f'{{userId: "{erin}", product: JOBS, kind: LOGIN, on: "2026-11-20"}}'] * 40)
        + "]}",
    )
    response = await client.post(
        "/graphql", json={"query": defaulted}, headers={"Authorization": f"Bearer {reporter}"}
    )
    assert response.json()["extensions"]["cost"]["requestedQueryCost"] == 30


async def test_a_token_without_the_activity_scope_is_forbidden(
    client: httpx.AsyncClient, acme: Acme, reporter: str, settings: Settings
) -> None:
    erin = await _id(ERIN)
    variables = {"input": {"events": [_event(erin, "2026-11-20")]}}
    for token in (acme.tokens["owner"], acme.tokens["finance"]):
        body = await gql(client, RECORD, variables, token=token)
        assert error_codes(body) == ["FORBIDDEN"]
        assert "activity:write" in body["errors"][0]["message"]
    # The scope grants reporting only: not reading licenses.
    assert error_codes(await gql(client, USAGE, token=reporter)) == ["FORBIDDEN"]
    # Whoever the integration user is, the scope is what counts.
    engineer_reporter = await _activity_token(settings, ERIN)
    assert (await _record(client, engineer_reporter, variables["input"]["events"]))[
        "newBillableDays"
    ] == 1
    assert error_codes(await gql(client, RECORD, variables)) == ["UNAUTHENTICATED"]


async def test_a_user_moved_from_daily_to_monthly_keeps_earlier_days_and_adds_no_more(
    client: httpx.AsyncClient, acme: Acme, reporter: str
) -> None:
    erin = await _id(ERIN)
    await _record(client, reporter, [_event(erin, "2026-11-10"), _event(erin, "2026-11-11")])
    moved = await gql(
        client,
        """mutation($input: AssignLicenseInput!) { assignLicense(input: $input) {
             userErrors { code } } }""",
        {"input": {"userId": erin, "product": "JOBS", "kind": "MONTHLY"}},
        token=acme.tokens["owner"],
    )
    assert moved["data"]["assignLicense"]["userErrors"] == [], moved
    later = await _record(client, reporter, [_event(erin, "2026-11-12")])
    assert later == {"accepted": 1, "newBillableDays": 0, "userErrors": []}
    usage = await _daily(client, acme.tokens["finance"])
    assert usage["billableDays"] == 2
    assert usage["users"]["edges"][0]["node"]["days"] == 2


async def test_a_deleted_users_days_stay_billable_under_their_name(
    client: httpx.AsyncClient, acme: Acme, reporter: str
) -> None:
    erin = await _id(ERIN)
    await _record(client, reporter, [_event(erin, "2026-11-10"), _event(erin, "2026-11-11")])
    deleted = await gql(
        client,
        "mutation($id: ID!) { deleteUser(input: {userId: $id}) { deletedUserId } }",
        {"id": erin},
        token=acme.tokens["owner"],
    )
    assert deleted["data"]["deleteUser"]["deletedUserId"] == erin
    usage = await _daily(client, acme.tokens["finance"])
    assert usage["billableDays"] == 2
    assert usage["users"]["edges"] == [
        {
            "node": {
                "user": None,
                "userName": "Erin Engineer",
                "days": 2,
                "lastActiveOn": "2026-11-11",
            }
        }
    ]
    # Reported again, a deleted user is an unknown one.
    late = await _record(client, reporter, [_event(erin, "2026-11-12")])
    assert [e["code"] for e in late["userErrors"]] == ["NOT_FOUND"]


async def test_months_have_their_own_days_and_the_default_month_moves_with_the_clock(
    database_url: str, smtp_port: int
) -> None:
    settings = make_settings(database_url, smtp_port)
    async with serve(settings) as client:
        await load_fixture_text(
            source="fixture.json", text=EXAMPLE_FIXTURE.read_text(), now=settings.clock.now()
        )
        reporter = await _activity_token(settings)
        finance = await create_token(email=ACME["finance"], now=settings.clock.now())
        erin = await _id(ERIN)
        events = [_event(erin, day) for day in ("2026-10-31", "2026-11-01", "2026-11-27")]
        assert (await _record(client, reporter, events))["newBillableDays"] == 3
        assert (await _daily(client, finance, "2026-10"))["billableDays"] == 1
        assert (await _daily(client, finance))["billableDays"] == 2  # November, today's month
        assert (await _daily(client, finance, "2026-12"))["billableDays"] == 0

    december = make_settings(database_url, smtp_port, dt.date(2026, 12, 1))
    async with serve(december) as client:
        current = await _daily(client, finance)
        assert (current["month"], current["billableDays"]) == ("2026-12", 0)
        assert (await _daily(client, finance, "2026-11"))["billableDays"] == 2
        # October is no longer reportable: the previous month is November now.
        late = await _record(client, reporter, [_event(erin, "2026-10-31")])
        assert [e["code"] for e in late["userErrors"]] == ["ACTIVITY_DAY_OUT_OF_RANGE"]
        assert (await _record(client, reporter, [_event(erin, "2026-11-30")]))[
            "newBillableDays"
        ] == 1


async def test_a_malformed_month_is_a_bad_user_input_error(
    client: httpx.AsyncClient, acme: Acme
) -> None:
    for month in ("2026-13", "2026-1", "November", "2026-11-01", ""):
        body = await gql(client, USAGE, {"month": month}, token=acme.tokens["owner"])
        assert set(error_codes(body)) == {"BAD_USER_INPUT"}, (month, body)
        assert "YYYY-MM" in body["errors"][0]["message"]


# A mixed company, priced by Acme's plans (JOBS: CONTRACTED £45.00, MONTHLY £55.00, DAILY £4.00
# a month or day), with a tax rate that does not divide evenly.
MIXED = {
    "plans": [],
    "companies": [
        {
            "name": "Mixed Trades",
            "email": "accounts@mixed.example",
            "taxRateBasisPoints": 1750,
            "currency": "GBP",
            "contracts": [
                {
                    "product": "JOBS",
                    "plan": "Customer Journey Plan",
                    "startsOn": "2026-01-01",
                    "expiresOn": "2026-12-31",
                    "pools": {"CONTRACTED": 3, "MONTHLY": 2, "DAILY": 2},
                    "usedBytes": 0,
                },
                {
                    "product": "SALES",
                    "plan": "Sales Pipeline Plan",
                    "startsOn": "2026-01-01",
                    "expiresOn": "2026-12-31",
                    "pools": {"CONTRACTED": 0, "MONTHLY": 0, "DAILY": 1},
                    "usedBytes": 0,
                },
            ],
            "users": [
                {
                    "name": "Mia Mixed",
                    "email": "mia@mixed.example",
                    "role": "OWNER_MANAGER",
                    "licenses": {"JOBS": "CONTRACTED"},
                },
                {
                    "name": "Dan Daily",
                    "email": "dan@mixed.example",
                    "role": "ENGINEER",
                    "licenses": {"JOBS": "DAILY", "SALES": "DAILY"},
                },
                {
                    "name": "Dora Daily",
                    "email": "dora@mixed.example",
                    "role": "ENGINEER",
                    "licenses": {"JOBS": "DAILY"},
                },
            ],
        }
    ],
}


async def test_next_invoice_of_a_mixed_company(
    client: httpx.AsyncClient, acme: Acme, settings: Settings
) -> None:
    now = settings.clock.now()
    await load_fixture_text(source="mixed.json", text=json.dumps(MIXED), now=now)
    owner = await create_token(email="mia@mixed.example", now=now)
    reporter = await _activity_token(settings, "mia@mixed.example")
    dan, dora = await _id("dan@mixed.example"), await _id("dora@mixed.example")
    events = [_event(dan, f"2026-11-{day:02}") for day in (2, 3, 4, 5, 6)]
    events += [_event(dora, "2026-11-02"), _event(dora, "2026-11-03")]
    events += [_event(dan, "2026-10-30")]  # October's usage, not this invoice's
    events += [_event(dan, "2026-11-02", product="SALES")]
    assert (await _record(client, reporter, events))["newBillableDays"] == 9
    # A pending purchase is not billed.
    contract = encode_id(
        "Contract", (await Contract.get(company__name="Mixed Trades", product="JOBS")).id
    )
    bought = await gql(
        client,
        """mutation($c: ID!) { purchaseLicenses(input: {contractId: $c, kind: MONTHLY,
             quantity: 5}) { purchase { status } } }""",
        {"c": contract},
        token=owner,
    )
    assert bought["data"]["purchaseLicenses"]["purchase"]["status"] == "PENDING_SIGNATURE"

    body = await gql(client, INVOICE, token=owner)
    jobs, sales = body["data"]["subscription"]["contracts"]
    # JOBS, by hand:
    #   CONTRACTED 3 x £45.00 = 13,500 minor units (next month, in advance)
    #   MONTHLY    2 x £55.00 = 11,000
    #   DAILY: November's days so far: Dan 5 + Dora 2 = 7 x £4.00 = 2,800 (October's not)
    #   subtotal 27,300; tax 17.5% = 4,777.5 -> 4,778 (half up); total 32,078
    assert jobs["product"] == "JOBS"
    assert jobs["nextInvoice"] == {
        "issuedOn": "2026-12-01",
        "lines": [
            {
                "description": "3 Contracted licenses x £45.00 / month",
                "amount": {"amountMinor": "13500"},
            },
            {
                "description": "2 Monthly licenses x £55.00 / month",
                "amount": {"amountMinor": "11000"},
            },
            {
                "description": "7 Daily license days in November 2026 so far x £4.00 / day",
                "amount": {"amountMinor": "2800"},
            },
        ],
        "subtotal": {"amountMinor": "27300"},
        "tax": {"amountMinor": "4778"},
        "total": {"amountMinor": "32078", "formatted": "£320.78"},
    }
    # SALES: no CONTRACTED or MONTHLY licenses, 1 day x £2.50 = 250; tax 43.75 -> 44.
    assert sales["nextInvoice"]["lines"] == [
        {
            "description": "1 Daily license day in November 2026 so far x £2.50 / day",
            "amount": {"amountMinor": "250"},
        }
    ]
    assert (sales["nextInvoice"]["tax"], sales["nextInvoice"]["total"]["amountMinor"]) == (
        {"amountMinor": "44"},
        "294",
    )


USAGE_AND_INVOICE = """
{ subscription { contracts {
    nextInvoice { lines { description } total { formatted } }
    licensePool(kind: DAILY) { dailyUsage { billableDays amount { formatted }
      users(first: 50) { totalCount pageInfo { hasNextPage endCursor }
        edges { cursor node { userName days lastActiveOn user { name licenses { kind } } } } } } }
} } }
"""


async def _grow_daily_users(count: int, settings: Settings) -> None:
    """`count` users holding JOBS DAILY licenses, each with a few billable days (written around
    the services: this is about reads)."""
    company = await Company.get(name="Acme Heating Ltd")
    pool = await LicensePool.get(
        contract__company_id=company.id, contract__product="JOBS", kind="DAILY"
    )
    existing = await User.filter(email__startswith="daily").count()
    users = [
        User(
            company_id=company.id,
            name=f"Daily {n:05}",
            email=f"daily{n}@acme.example",
            role=Role.ENGINEER,
        )
        for n in range(existing, count)
    ]
    await User.bulk_create(users)
    created = await User.filter(email__startswith="daily", licenses=None).all()
    now = settings.clock.now()
    await LicenseAssignment.bulk_create(
        [
            LicenseAssignment(user=u, pool=pool, product=Product.JOBS, assigned_at=now)
            for u in created
        ]
    )
    held = await LicenseAssignment.filter(pool_id=pool.id).count()
    await LicensePool.filter(id=pool.id).update(total=held, assigned=held)
    await BillableDay.bulk_create(
        [
            BillableDay(
                company_id=company.id,
                pool_id=pool.id,
                user_id=u.id,
                user_name=u.name,
                day=dt.date(2026, 11, 1 + day),
                recorded_at=now,
            )
            for u in created
            for day in range(u.id % 5 + 1)
        ]
    )


@pytest.fixture
def uncached(database_url: str, smtp_port: int) -> Settings:
    return dataclasses.replace(make_settings(database_url, smtp_port), response_cache_bytes=0)


async def test_usage_and_invoice_read_in_a_constant_number_of_statements(
    database_url: str, smtp_port: int, uncached: Settings
) -> None:
    async with serve(uncached) as client:
        await load_fixture_text(
            source="fixture.json", text=EXAMPLE_FIXTURE.read_text(), now=uncached.clock.now()
        )
        token = await create_token(email=ACME["owner"], now=uncached.clock.now())
        await gql(client, "{ viewer { name } }", token=token)  # the token's first use

        async def statements() -> tuple[int, dict[str, Any]]:
            with count_sql() as counter:
                body = await gql(client, USAGE_AND_INVOICE, token=token)
            assert "errors" not in body, body
            return counter.statements, body

        await _grow_daily_users(10, uncached)
        small, _ = await statements()
        await _grow_daily_users(1_000, uncached)
        large, body = await statements()
        stored = await BillableDay.all().count()
    assert small == large, (small, large)
    # The token, the rate-limit bucket, the company's snapshot, the month's billable days of
    # every DAILY pool, the first page of users of every DAILY pool, and what those users hold.
    assert large == 6
    jobs = body["data"]["subscription"]["contracts"][0]
    daily = jobs["licensePool"]["dailyUsage"]
    assert daily["users"]["totalCount"] == 1_000
    assert daily["billableDays"] == stored
    first = daily["users"]["edges"][0]["node"]
    assert first["days"] == 5
    assert first["user"]["licenses"] == [{"kind": "DAILY"}]


PAGE_OF_USERS = """
query($after: String) { subscription { contract(product: JOBS) { licensePool(kind: DAILY) {
  dailyUsage { users(first: 2, after: $after) { totalCount
    pageInfo { hasNextPage hasPreviousPage endCursor }
    edges { node { userName days } } } } } } } }
"""


async def test_the_users_connection_pages_most_days_first_then_by_name(
    client: httpx.AsyncClient, acme: Acme, settings: Settings
) -> None:
    now = settings.clock.now()
    three_daily = copy.deepcopy(MIXED)
    company = three_daily["companies"][0]
    company["contracts"][0]["pools"]["DAILY"] = 3
    company["users"][0]["licenses"] = {"JOBS": "DAILY"}
    await load_fixture_text(source="mixed.json", text=json.dumps(three_daily), now=now)
    owner = await create_token(email="mia@mixed.example", now=now)
    reporter = await _activity_token(settings, "mia@mixed.example")
    mia, dan = await _id("mia@mixed.example"), await _id("dan@mixed.example")
    dora = await _id("dora@mixed.example")
    # Dan and Dora tie on days (then by name); Mia, with more days, comes first.
    events = [_event(mia, f"2026-11-{day:02}") for day in (1, 2, 3)]
    events += [_event(user, f"2026-11-{day:02}") for user in (dan, dora) for day in (1, 2)]
    assert (await _record(client, reporter, events))["newBillableDays"] == 7

    async def page(after: str | None) -> dict[str, Any]:
        body = await gql(client, PAGE_OF_USERS, {"after": after}, token=owner)
        assert "errors" not in body, body
        users: dict[str, Any] = body["data"]["subscription"]["contract"]["licensePool"][
            "dailyUsage"
        ]["users"]
        return users

    first = await page(None)
    assert [e["node"] for e in first["edges"]] == [
        {"userName": "Mia Mixed", "days": 3},
        {"userName": "Dan Daily", "days": 2},
    ]
    assert first["totalCount"] == 3
    assert first["pageInfo"]["hasNextPage"] is True
    second = await page(first["pageInfo"]["endCursor"])
    assert [e["node"] for e in second["edges"]] == [{"userName": "Dora Daily", "days": 2}]
    assert second["totalCount"] == 3
    assert second["pageInfo"]["hasNextPage"] is False
    assert second["pageInfo"]["hasPreviousPage"] is True
    past_the_end = await page(second["pageInfo"]["endCursor"])
    assert (past_the_end["edges"], past_the_end["totalCount"]) == ([], 3)
    bad = await gql(client, PAGE_OF_USERS, {"after": "not-a-cursor"}, token=owner)
    assert set(error_codes(bad)) == {"BAD_USER_INPUT"}


async def test_an_ended_contract_bills_no_day_after_its_last_nor_a_month_in_advance(
    client: httpx.AsyncClient, acme: Acme, settings: Settings
) -> None:
    now = settings.clock.now()
    ended = copy.deepcopy(MIXED)
    jobs, sales = ended["companies"][0]["contracts"]
    jobs |= {"autoRenews": False, "startsOn": "2025-11-21", "expiresOn": "2026-11-20"}
    sales |= {"autoRenews": False, "expiresOn": "2026-11-30"}  # ends with this month
    await load_fixture_text(source="ended.json", text=json.dumps(ended), now=now)
    owner = await create_token(email="mia@mixed.example", now=now)
    reporter = await _activity_token(settings, "mia@mixed.example")
    dan = await _id("dan@mixed.example")
    result = await _record(
        client,
        reporter,
        [
            _event(dan, "2026-11-20"),  # the JOBS contract's last day: billable
            _event(dan, "2026-11-21"),  # after it: accepted, adds nothing
            _event(dan, "2026-11-26", product="SALES"),
        ],
    )
    assert result == {"accepted": 3, "newBillableDays": 2, "userErrors": []}
    body = await gql(client, INVOICE, token=owner)
    jobs_invoice, sales_invoice = (
        c["nextInvoice"] for c in body["data"]["subscription"]["contracts"]
    )
    # Neither runs in December: no Contracted or Monthly line in advance, only November's days.
    assert [line["description"] for line in jobs_invoice["lines"]] == [
        "1 Daily license day in November 2026 so far x £4.00 / day"
    ]
    assert [line["description"] for line in sales_invoice["lines"]] == [
        "1 Daily license day in November 2026 so far x £2.50 / day"
    ]


async def test_an_activity_token_reads_no_other_user(
    client: httpx.AsyncClient, acme: Acme, reporter: str
) -> None:
    query = "query($id: ID!) { node(id: $id) { ... on User { name email } } }"
    # The token is Olivia's: with activity:write alone she may read herself, not others.
    others = await gql(client, query, {"id": await _id(ERIN)}, token=reporter)
    assert error_codes(others) == ["FORBIDDEN"]
    herself = await gql(client, query, {"id": await _id(ACME["owner"])}, token=reporter)
    assert herself["data"]["node"] == {"name": "Olivia Owner", "email": ACME["owner"]}


async def test_crafted_inputs_are_client_errors(
    client: httpx.AsyncClient, acme: Acme, reporter: str
) -> None:
    huge_id = encode_id("User", 5_000_000_000)
    result = await _record(client, reporter, [_event(huge_id, "2026-11-20")])
    assert [(e["code"], e["field"]) for e in result["userErrors"]] == [
        ("NOT_FOUND", ["input", "events", "0", "userId"])
    ]
    owner = acme.tokens["owner"]
    fullwidth = "\uff12\uff10\uff12\uff16-\uff11\uff11"  # "2026-11" in full-width digits
    for month in ("9999-12", fullwidth):
        body = await gql(client, USAGE, {"month": month}, token=owner)
        assert set(error_codes(body)) == {"BAD_USER_INPUT"}, (month, body)
    assert (await _daily(client, owner, "0001-01"))["month"] == "0001-01"
    for position in ([10**20, "a", 1], [2**63, "a", 1], [1, "a\x00b", 1], [-1, "a", 1]):
        cursor = encode_cursor(*position)
        body = await gql(client, PAGE_OF_USERS, {"after": cursor}, token=owner)
        assert set(error_codes(body)) == {"BAD_USER_INPUT"}, (position, body)
