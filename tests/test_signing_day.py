"""Licenses are billed from the day they are signed; CONTRACTED ones lapse with their term."""

from __future__ import annotations

import asyncio
import copy
import datetime as dt
import io
import json
from typing import Any

import httpx
from pypdf import PdfReader

from bench.smtp import SmtpServer, signature_token
from models.audit import AuditEvent
from models.contract import LicensePool
from models.document import ContractDocument
from services.fixtures import load_fixture_text
from services.protection.tokens import create_token
from tests.conftest import (
    ACME,
    BASE_URL,
    EXAMPLE_FIXTURE,
    OTHER_COMPANY,
    TODAY,
    Acme,
    gql,
    make_settings,
    serve,
)
from tests.test_licenses import DELETE, JOBS
from tests.test_purchases import purchase, sign

PURCHASE = """query($id: ID!) { node(id: $id) { ... on LicensePurchase { status expiresAt
  quote { contractBreakdown { startsOn } costBreakdown { subtotal { amountMinor }
    total { amountMinor } } }
  signedQuote { contractBreakdown { startsOn currentTotal newTotal }
    costBreakdown { subtotal { amountMinor } tax { amountMinor } total { amountMinor formatted }
      lines { description } } } } } }"""


async def test_a_purchase_signed_ten_days_later_is_billed_from_that_day(
    database_url: str, smtp: SmtpServer
) -> None:
    async with serve(make_settings(database_url, smtp.port)) as client:
        await load_fixture_text(source="f.json", text=EXAMPLE_FIXTURE.read_text(), now=_at(TODAY))
        owner = await create_token(email=ACME["owner"], now=_at(TODAY))
        made = (await purchase(client, owner, kind="CONTRACTED", quantity=3))["purchase"]
        token = signature_token((await smtp.wait_for(1))[0], BASE_URL)

    later = TODAY + dt.timedelta(days=10)  # 2026-12-06
    async with serve(make_settings(database_url, smtp.port, today=later)) as client:
        page = await client.get(f"/sign/{token}")
        # 3 x £45.00 from 2026-12-06 to 2027-12-31: 12 months (to 2027-12-06) + 26/31, so
        # 13,500 x (12 + 26/31) = 173,322.58 -> 173,323; tax 20% = 34,664.6 -> 34,665.
        assert "2026-12-06" in page.text
        assert "£2,079.88" in page.text
        assert (await sign(client, token))["userErrors"] == []
        node = (await gql(client, PURCHASE, {"id": made["id"]}, token=owner))["data"]["node"]
        addendum = await ContractDocument.get(contract_id=1, kind="ADDENDUM")

    # As requested on 2026-11-26: 13 months + 6/31, 13,500 x 13.1935... = 178,113.
    assert node["quote"]["contractBreakdown"]["startsOn"] == "2026-11-26"
    assert node["quote"]["costBreakdown"]["subtotal"]["amountMinor"] == "178113"
    signed = node["signedQuote"]
    assert signed["contractBreakdown"] == {
        "startsOn": "2026-12-06",
        "currentTotal": 10,
        "newTotal": 13,
    }
    assert signed["costBreakdown"]["subtotal"]["amountMinor"] == "173323"
    assert signed["costBreakdown"]["tax"]["amountMinor"] == "34665"
    assert signed["costBreakdown"]["total"]["formatted"] == "£2,079.88"
    assert "12.84 months" in signed["costBreakdown"]["lines"][0]["description"]
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(addendum.pdf)).pages)
    assert "Billed from 2026-12-06" in text
    assert "£2,079.88" in text


def _short_term() -> dict[str, Any]:
    """Bolt Plumbing, whose contract ends on 2026-12-10 and does not renew."""
    fixture = copy.deepcopy(OTHER_COMPANY)
    fixture["companies"][0]["contracts"][0].update(expiresOn="2026-12-10", autoRenews=False)
    return fixture


MY_PURCHASES = """{ subscription { contracts { purchases { edges { node { kind status
  expiresAt } } } } } }"""
BUY = """mutation($id: ID!, $kind: LicenseKind!) { purchaseLicenses(input: {contractId: $id,
  kind: $kind, quantity: 1}) { userErrors { code } } }"""


async def test_a_pending_contracted_purchase_lapses_at_the_end_of_its_term(
    database_url: str, smtp: SmtpServer
) -> None:
    async with serve(make_settings(database_url, smtp.port)) as client:
        await load_fixture_text(source="f.json", text=EXAMPLE_FIXTURE.read_text(), now=_at(TODAY))
        await load_fixture_text(source="b.json", text=json.dumps(_short_term()), now=_at(TODAY))
        owner = await create_token(email="barry@bolt-plumbing.example", now=_at(TODAY))
        body = await gql(client, "{ subscription { contracts { id } } }", token=owner)
        contract = body["data"]["subscription"]["contracts"][0]["id"]
        for kind in ("CONTRACTED", "MONTHLY"):
            bought = await gql(client, BUY, {"id": contract, "kind": kind}, token=owner)
            assert bought["data"]["purchaseLicenses"]["userErrors"] == []
        emails = await smtp.wait_for(2)
        tokens = {
            ("CONTRACTED" if "Contracted" in m["Subject"] else "MONTHLY"): signature_token(
                m, BASE_URL
            )
            for m in emails
        }
        listed = await gql(client, MY_PURCHASES, token=owner)
    expiries = {
        edge["node"]["kind"]: edge["node"]["expiresAt"]
        for edge in listed["data"]["subscription"]["contracts"][0]["purchases"]["edges"]
    }
    # The term ends with 2026-12-10; the monthly one keeps its 30-day link.
    assert expiries["CONTRACTED"] == "2026-12-11T00:00:00+00:00"
    assert expiries["MONTHLY"].startswith("2026-12-26T")

    after_term = dt.date(2026, 12, 11)
    async with serve(make_settings(database_url, smtp.port, today=after_term)) as client:
        listed = await gql(client, MY_PURCHASES, token=owner)
        statuses = {
            edge["node"]["kind"]: edge["node"]["status"]
            for edge in listed["data"]["subscription"]["contracts"][0]["purchases"]["edges"]
        }
        assert statuses["CONTRACTED"] == "EXPIRED"
        assert (await client.get(f"/sign/{tokens['CONTRACTED']}")).status_code == 410
        # The monthly one's link still runs, but its contract has ended: nothing can be added.
        page = await client.get(f"/sign/{tokens['MONTHLY']}")
        assert page.status_code == 410
        assert "ended on 2026-12-10" in page.text
        signed = await sign(client, tokens["MONTHLY"])
        assert [(e["code"], e["field"]) for e in signed["userErrors"]] == [
            ("CONTRACT_EXPIRED", ["input", "token"])
        ]


def _at(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(9), dt.UTC)


async def test_the_addendum_states_the_pools_as_they_were_when_signed(
    client: httpx.AsyncClient, acme: Acme, smtp: SmtpServer
) -> None:
    """The addendum is rendered before the signing transaction; deletions racing with it must
    not leave it stating counts that were already out of date when it was signed."""
    owner = acme.tokens["owner"]
    await LicensePool.filter(contract_id=1, kind="MONTHLY").update(total=40)
    made = (await purchase(client, owner, kind="MONTHLY", quantity=2))["purchase"]
    token = signature_token((await smtp.wait_for(1))[0], BASE_URL)
    deletions = [
        gql(
            client,
            DELETE,
            {"input": {"contractId": JOBS, "kind": "MONTHLY", "quantity": 1}},
            token=owner,
        )
        for _ in range(20)
    ]
    results = await asyncio.gather(sign(client, token), *deletions)
    assert results[0]["userErrors"] == []
    node = (await gql(client, PURCHASE, {"id": made["id"]}, token=owner))["data"]["node"]
    [increase] = await AuditEvent.filter(action="pool.total_increased").values_list(
        "details", flat=True
    )
    signed = node["signedQuote"]["contractBreakdown"]
    assert (signed["currentTotal"], signed["newTotal"]) == (
        increase["totalBefore"],
        increase["totalAfter"],
    )
    addendum = await ContractDocument.get(contract_id=1, kind="ADDENDUM")
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(addendum.pdf)).pages)
    assert f"{increase['totalBefore']} / {increase['totalAfter']}" in text
    # Every deletion went through: the signature did not hold them up or lose any.
    assert all(r["data"]["deleteLicenses"]["userErrors"] == [] for r in results[1:])
    pool = await LicensePool.get(contract_id=1, kind="MONTHLY")
    assert pool.total == 40 - 20 + 2
