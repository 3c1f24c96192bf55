"""Contracts through time: the renewal window, signed changes, renewal, catching up, ending.

Each test lives the dates as a customer does: the service is stopped and started again on a
later `LICENSING_TODAY`, and what it serves, stores and emails is checked each time.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import json
from typing import Any

import httpx
import pytest

from bench.service import Service, service_env
from bench.smtp import SmtpServer, signature_token, text_of
from licensing import renewals
from licensing.db import orm
from licensing.settings import Settings
from models.audit import AuditEvent
from models.contract import Contract, ContractTerm
from models.document import ContractDocument, DocumentKind
from models.enums import Product
from models.outbox import EmailKind, OutboxEmail
from models.renewal import RenewalChange, RenewalChangeStatus
from resolvers.ids import encode_id
from services.errors import FixtureError
from services.fixtures import load_fixture_text
from services.protection.tokens import authenticate, create_token
from services.renewal.pricing import RenewalRequest, renewal_quote
from services.renewal.terms import next_term, renewal_window, term_from
from tests.conftest import ACME, BASE_URL, EXAMPLE_FIXTURE, OTHER_COMPANY, gql, make_settings, serve
from tests.databases import ON_POSTGRES
from tests.test_licenses import ASSIGN

JOBS = encode_id("Contract", 1)
SALES = encode_id("Contract", 2)
TEN_DAYS_BEFORE = dt.date(2027, 12, 21)  # JOBS runs 2026-01-01..2027-12-31
RENEWS_ON = dt.date(2028, 1, 1)

CONTRACT = """query { subscription { contracts { id product startsOn expiresOn status autoRenews
  termMonths licensePools { kind total assigned }
  renewal { renewsOn nextTermExpiresOn windowOpensOn windowOpen contractedLicenses
    scheduledChange { id contractedLicenses status signerName }
    pendingChange { id contractedLicenses status expiresAt } }
  documents { title signedAt } } } }"""
QUOTE = """query($input: RenewalQuoteInput!) { renewalQuote(input: $input) {
  quote { product currentContractedLicenses contractedLicenses termStartsOn termExpiresOn
    unitPrice { unitAmount { amountMinor } period }
    monthlyAmount { amountMinor formatted } subtotal { amountMinor } tax { amountMinor }
    total { amountMinor formatted } totalCommitment { amountMinor }
    currentAllowanceBytes newAllowanceBytes lines { description amount { amountMinor } } }
  userErrors { field message code } } }"""
SCHEDULE = """mutation($input: ScheduleContractRenewalInput!) {
  scheduleContractRenewal(input: $input) {
  renewalChange { id contractedLicenses status expiresAt confirmationSentTo
    requestedBy { name } quote { total { formatted } } }
  userErrors { field message code } } }"""
CANCEL = """mutation($input: CancelRenewalChangeInput!) { cancelRenewalChange(input: $input) {
  renewalChange { id status } userErrors { field message code } } }"""
SIGN = """mutation($input: SignRenewalChangeInput!) { signRenewalChange(input: $input) {
  renewalChange { id status signedAt signerName } userErrors { field message code } } }"""
EVENTS = """query { subscription { contract(product: JOBS) { events(first: 100) {
  edges { node { action } } } } } }"""
PURCHASE = """mutation($input: PurchaseLicensesInput!) { purchaseLicenses(input: $input) {
  purchase { id status } userErrors { field message code } } }"""
UNASSIGN = """mutation($input: UnassignLicenseInput!) { unassignLicense(input: $input) {
  user { name } userErrors { field message code } } }"""
DELETE = """mutation($input: DeleteLicensesInput!) { deleteLicenses(input: $input) {
  licensePool { kind total } userErrors { field message code } } }"""

# Acme with eight of its ten contracted Jobs licenses assigned.
EXTRA_HOLDERS = [f"Tech {n}" for n in "ABCDEF"]


def _fixture(**contract_changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(EXAMPLE_FIXTURE.read_text())
    company = data["companies"][0]
    for name in EXTRA_HOLDERS:
        email = f"{name.lower().replace(' ', '.')}@acme-heating.example"
        company["users"].append(
            {"name": name, "email": email, "role": "ENGINEER", "licenses": {"JOBS": "CONTRACTED"}}
        )
    for product, changes in contract_changes.items():
        contract = next(c for c in company["contracts"] if c["product"] == product)
        contract.update(changes)
    return data


def _settings(database_url: str, smtp: SmtpServer, today: dt.date) -> Settings:
    # A pass of the renewal loop every 50 ms: what it does shows within the test's patience.
    return dataclasses.replace(
        make_settings(database_url, smtp.port, today), renewal_poll_seconds=0.05
    )


async def _start(settings: Settings, fixture: dict[str, Any]) -> str:
    """Load the fixture as of the settings' day; the owner's token."""
    await load_fixture_text(source="f.json", text=json.dumps(fixture), now=settings.clock.now())
    return await create_token(email=ACME["owner"], now=settings.clock.now())


async def _jobs(client: httpx.AsyncClient, owner: str) -> dict[str, Any]:
    body = await gql(client, CONTRACT, token=owner)
    assert "errors" not in body, body
    contract: dict[str, Any] = body["data"]["subscription"]["contracts"][0]
    return contract


def _pools(contract: dict[str, Any]) -> dict[str, tuple[int, int]]:
    return {pool["kind"]: (pool["total"], pool["assigned"]) for pool in contract["licensePools"]}


async def _user_id(client: httpx.AsyncClient, owner: str, name: str) -> str:
    body = await gql(
        client,
        "{ viewer { company { users(first: 100) { edges { node { id name } } } } } }",
        token=owner,
    )
    edges = body["data"]["viewer"]["company"]["users"]["edges"]
    found: str = next(edge["node"]["id"] for edge in edges if edge["node"]["name"] == name)
    return found


async def _assign(client: httpx.AsyncClient, owner: str, name: str, kind: str) -> dict[str, Any]:
    variables = {
        "input": {"userId": await _user_id(client, owner, name), "product": "JOBS", "kind": kind}
    }
    result: dict[str, Any] = (await gql(client, ASSIGN, variables, token=owner))["data"][
        "assignLicense"
    ]
    return result


async def _schedule(
    client: httpx.AsyncClient, owner: str, count: int, contract: str = JOBS, **extra: Any
) -> dict[str, Any]:
    variables = {"input": {"contractId": contract, "contractedLicenses": count, **extra}}
    result: dict[str, Any] = (await gql(client, SCHEDULE, variables, token=owner))["data"][
        "scheduleContractRenewal"
    ]
    return result


def _emails(smtp: SmtpServer, subject: str) -> list[str]:
    return [text_of(m) for m in smtp.inbox if subject in str(m["Subject"])]


async def _masters(contract_id: int = 1) -> list[ContractDocument]:
    return await ContractDocument.filter(
        contract_id=contract_id, kind=DocumentKind.MASTER_AGREEMENT
    ).order_by("signed_at")


async def _until(check: Any, within: float = 10.0) -> None:
    """Wait for a positive signal from the service's background work."""
    deadline = asyncio.get_running_loop().time() + within
    while not await check():
        assert asyncio.get_running_loop().time() < deadline, "the background work did not happen"
        await asyncio.sleep(0.02)


async def test_a_contract_lives_through_a_reduction_renewal_and_two_missed_terms(
    database_url: str, smtp: SmtpServer
) -> None:
    # Ten days before the term ends: the window is open and its email comes, once.
    settings = _settings(database_url, smtp, TEN_DAYS_BEFORE)
    async with serve(settings) as client:
        owner = await _start(settings, _fixture())
        jobs = await _jobs(client, owner)
        assert jobs["status"] == "ACTIVE"
        assert jobs["autoRenews"]
        assert jobs["termMonths"] == 12
        assert jobs["renewal"] == {
            "renewsOn": "2028-01-01",
            "nextTermExpiresOn": "2028-12-31",
            "windowOpensOn": "2027-12-04",
            "windowOpen": True,
            "contractedLicenses": 10,
            "scheduledChange": None,
            "pendingChange": None,
        }
        await smtp.wait_for(1)
        [notice] = _emails(smtp, "renews on 2028-01-01")
        assert "10 contracted licenses" in notice
        assert "by 2027-12-31" in notice
        await renewals.run_once(settings)  # another pass, as a second process would make
        assert await OutboxEmail.filter(kind=EmailKind.RENEWAL_WINDOW_OPEN).count() == 1

        # 8 of 10 are assigned: 6 would leave two of them without a license.
        refused = await _schedule(client, owner, 6)
        [error] = refused["userErrors"]
        assert error["code"] == "LICENSES_ASSIGNED"
        assert error["field"] == ["input", "contractedLicenses"]
        assert "8 contracted licenses are assigned" in error["message"]
        assert "Frank Finance" in error["message"]
        assert "Move 2" in error["message"]
        assert refused["renewalChange"] is None

        for name in ("Tech A", "Tech B"):
            assert (await _assign(client, owner, name, "MONTHLY"))["userErrors"] == []
        scheduled = await _schedule(client, owner, 6, idempotencyKey="renewal-6")
        assert scheduled["userErrors"] == []
        change = scheduled["renewalChange"]
        assert change["status"] == "PENDING_SIGNATURE"
        assert change["confirmationSentTo"] == "accounts@acme-heating.example"
        assert change["requestedBy"] == {"name": "Olivia Owner"}
        # 6 x £45.00 x 12 months = £3,240.00, tax 20% £648.00.
        assert change["quote"]["total"]["formatted"] == "£3,888.00"
        # The same key and input: the same change, not a second one.
        again = await _schedule(client, owner, 6, idempotencyKey="renewal-6")
        assert again["renewalChange"]["id"] == change["id"]

        await smtp.wait_for(2)
        [confirmation] = _emails(smtp, "Please sign: Jobs renewal with 6")
        link = signature_token(
            next(m for m in smtp.inbox if "renewal with 6" in str(m["Subject"])), BASE_URL
        )
        assert "£3,888.00" in confirmation
        page = await client.get(f"/sign/{link}")
        assert page.status_code == 200
        assert "Sign your contract renewal" in page.text
        assert "£3,888.00" in page.text
        signed = await client.post(
            f"/sign/{link}", data={"signer_name": "Olivia Owner", "agree": "yes"}
        )
        assert signed.status_code == 200
        assert "Renewal signed" in signed.text
        renewal = (await _jobs(client, owner))["renewal"]
        assert renewal["contractedLicenses"] == 6
        assert renewal["pendingChange"] is None
        assert renewal["scheduledChange"]["status"] == "SCHEDULED"
        assert renewal["scheduledChange"]["signerName"] == "Olivia Owner"

        # A 7th contracted license would not fit the next term.
        moved_back = await _assign(client, owner, "Tech A", "CONTRACTED")
        [error] = moved_back["userErrors"]
        assert error["code"] == "NO_LICENSE_AVAILABLE"
        assert "2028-01-01" in error["message"]
        assert _pools(await _jobs(client, owner))["CONTRACTED"] == (10, 6)

    # The first day of the next term: its first request sees it, before any background work.
    renewal_day = dataclasses.replace(
        _settings(database_url, smtp, RENEWS_ON), renewal_poll_seconds=3600
    )
    async with serve(renewal_day) as client:
        jobs = await _jobs(client, owner)
        assert (jobs["startsOn"], jobs["expiresOn"], jobs["status"]) == (
            "2028-01-01",
            "2028-12-31",
            "ACTIVE",
        )
        assert _pools(jobs) == {"CONTRACTED": (6, 6), "MONTHLY": (3, 3), "DAILY": (2, 1)}
        assert jobs["renewal"]["renewsOn"] == "2029-01-01"
        assert jobs["renewal"]["scheduledChange"] is None
        assert jobs["renewal"]["contractedLicenses"] == 6
        actions = [
            edge["node"]["action"]
            for edge in (await gql(client, EVENTS, token=owner))["data"]["subscription"][
                "contract"
            ]["events"]["edges"]
        ]
        assert actions.count("contract.renewed") == 1
        assert "renewal_change.signed" in actions
        assert await RenewalChange.filter(status=RenewalChangeStatus.APPLIED).count() == 1

    # Running on: the new term's agreement and the email come from the background, once.
    async with serve(_settings(database_url, smtp, RENEWS_ON)) as client:
        await _until(lambda: _has_masters(2))
        await smtp.wait_for(3)
        [renewed] = _emails(smtp, "contract renewed: 2028-01-01 to 2028-12-31")
        assert "Contracted licenses this term: 6." in renewed
        titles = [doc["title"] for doc in (await _jobs(client, owner))["documents"]]
        assert sum("Master agreement" in title for title in titles) == 2
        await renewals.run_once(renewal_day)
        assert await OutboxEmail.filter(kind=EmailKind.CONTRACT_RENEWED).count() == 1
        assert len(await _masters()) == 2

    # Stopped for two more term ends: it catches up term by term, a document per term.
    two_later = dt.date(2030, 1, 5)
    async with serve(_settings(database_url, smtp, two_later)) as client:
        jobs = await _jobs(client, owner)
        assert (jobs["startsOn"], jobs["expiresOn"]) == ("2030-01-01", "2030-12-31")
        assert _pools(jobs)["CONTRACTED"] == (6, 6)
        await _until(lambda: _has_masters(4))
        terms = await ContractTerm.filter(contract_id=1).order_by("number")
        assert [(t.starts_on.isoformat(), t.contracted_licenses) for t in terms] == [
            ("2026-01-01", 10),
            ("2028-01-01", 6),
            ("2029-01-01", 6),
            ("2030-01-01", 6),
        ]
        masters = await _masters()
        assert [m.signed_at.date().isoformat() for m in masters] == [
            "2026-01-01",
            "2028-01-01",
            "2029-01-01",
            "2030-01-01",
        ]
        assert await AuditEvent.filter(action="contract.renewed", contract_id=1).count() == 3


async def _has_masters(count: int) -> bool:
    return len(await _masters()) >= count


async def test_a_contract_that_does_not_renew_ends(database_url: str, smtp: SmtpServer) -> None:
    fixture = _fixture(SALES={"autoRenews": False, "pools": {"CONTRACTED": 2, "MONTHLY": 1}})
    before = _settings(database_url, smtp, dt.date(2027, 5, 20))
    async with serve(before) as client:
        owner = await _start(before, fixture)
        sales = (await gql(client, CONTRACT, token=owner))["data"]["subscription"]["contracts"][1]
        assert sales["status"] == "ACTIVE"
        assert sales["autoRenews"] is False
        assert sales["renewal"] is None
        refused = await _schedule(client, owner, 2, contract=SALES)
        assert [e["code"] for e in refused["userErrors"]] == ["CONTRACT_NOT_RENEWING"]

    after = _settings(database_url, smtp, dt.date(2027, 6, 1))
    async with serve(after) as client:
        sales = (await gql(client, CONTRACT, token=owner))["data"]["subscription"]["contracts"][1]
        assert (sales["status"], sales["expiresOn"], sales["renewal"]) == (
            "ENDED",
            "2027-05-31",
            None,
        )
        bought = (
            await gql(
                client,
                PURCHASE,
                {"input": {"contractId": SALES, "kind": "MONTHLY", "quantity": 1}},
                token=owner,
            )
        )["data"]["purchaseLicenses"]
        assert [e["code"] for e in bought["userErrors"]] == ["CONTRACT_EXPIRED"]
        # Its licenses can still be freed and deleted.
        olivia = await _user_id(client, owner, "Olivia Owner")
        freed = await gql(
            client, UNASSIGN, {"input": {"userId": olivia, "product": "SALES"}}, token=owner
        )
        assert freed["data"]["unassignLicense"]["userErrors"] == []
        deleted = await gql(
            client,
            DELETE,
            {"input": {"contractId": SALES, "kind": "MONTHLY", "quantity": 1}},
            token=owner,
        )
        assert deleted["data"]["deleteLicenses"]["licensePool"] == {"kind": "MONTHLY", "total": 0}
        assert await Contract.filter(id=2, expires_on=dt.date(2027, 5, 31)).exists()


async def test_the_window_bounds_scheduling_and_its_message_gives_the_dates(
    database_url: str, smtp: SmtpServer
) -> None:
    day_before = _settings(database_url, smtp, dt.date(2027, 12, 3))
    async with serve(day_before) as client:
        owner = await _start(day_before, _fixture())
        refused = await _schedule(client, owner, 9)
        [error] = refused["userErrors"]
        assert error["code"] == "RENEWAL_WINDOW_CLOSED"
        assert "2027-12-04" in error["message"]
        assert "2027-12-31" in error["message"]
        assert error["field"] == ["input", "contractId"]
        # A quote works any day.
        quote = (
            await gql(
                client, QUOTE, {"input": {"contractId": JOBS, "contractedLicenses": 9}}, token=owner
            )
        )["data"]["renewalQuote"]
        assert quote["userErrors"] == []
        assert quote["quote"]["termStartsOn"] == "2028-01-01"
        assert await OutboxEmail.filter(kind=EmailKind.RENEWAL_CONFIRMATION).count() == 0

    # The first and the last day of the window; each request's email arrives (the window's
    # notice comes once, with the first).
    for day, count, emails in ((dt.date(2027, 12, 4), 9, 2), (dt.date(2027, 12, 31), 8, 3)):
        async with serve(_settings(database_url, smtp, day)) as client:
            made = await _schedule(client, owner, count)
            assert made["userErrors"] == [], day
            assert made["renewalChange"]["status"] == "PENDING_SIGNATURE"
            await smtp.wait_for(emails)
    # The later request superseded the earlier one; the earlier one's link no longer works.
    async with serve(_settings(database_url, smtp, dt.date(2027, 12, 31))) as client:
        renewal = (await _jobs(client, owner))["renewal"]
        assert renewal["pendingChange"]["contractedLicenses"] == 8
        # Its link expires with the term, not 30 days later.
        assert renewal["pendingChange"]["expiresAt"].startswith("2028-01-01T00:00:00")
        await smtp.wait_for(3)  # the window notice and two confirmations
        first = next(m for m in smtp.inbox if "renewal with 9" in str(m["Subject"]))
        page = await client.get(f"/sign/{signature_token(first, BASE_URL)}")
        assert page.status_code == 410
        assert "superseded" in page.text


async def test_cancel_sign_and_bad_input_change_nothing(
    database_url: str, smtp: SmtpServer
) -> None:
    settings = _settings(database_url, smtp, TEN_DAYS_BEFORE)
    async with serve(settings) as client:
        owner = await _start(settings, _fixture())
        await load_fixture_text(
            source="other.json", text=json.dumps(OTHER_COMPANY), now=settings.clock.now()
        )
        other = await create_token(email="barry@bolt-plumbing.example", now=settings.clock.now())
        for count in (-1, 10_001):
            [error] = (await _schedule(client, owner, count))["userErrors"]
            assert (error["code"], error["field"]) == (
                "INVALID_QUANTITY",
                ["input", "contractedLicenses"],
            )
        # Another company's contract reads as an unknown one.
        [error] = (await _schedule(client, other, 8))["userErrors"]
        assert error["code"] == "NOT_FOUND"
        assert await OutboxEmail.filter(kind=EmailKind.RENEWAL_CONFIRMATION).count() == 0

        change = (await _schedule(client, owner, 12))["renewalChange"]
        await smtp.wait_for(2)
        link = signature_token(
            next(m for m in smtp.inbox if "renewal with 12" in str(m["Subject"])), BASE_URL
        )
        [error] = (
            await gql(client, CANCEL, {"input": {"renewalChangeId": change["id"]}}, token=other)
        )["data"]["cancelRenewalChange"]["userErrors"]
        assert error["code"] == "NOT_FOUND"
        signed = (await gql(client, SIGN, {"input": {"token": link, "signerName": "Olivia"}}))[
            "data"
        ]["signRenewalChange"]
        assert signed["renewalChange"]["status"] == "SCHEDULED"
        cancelled = (
            await gql(client, CANCEL, {"input": {"renewalChangeId": change["id"]}}, token=owner)
        )["data"]["cancelRenewalChange"]
        assert cancelled["renewalChange"]["status"] == "CANCELLED"
        again = (
            await gql(client, CANCEL, {"input": {"renewalChangeId": change["id"]}}, token=owner)
        )["data"]["cancelRenewalChange"]
        assert [e["code"] for e in again["userErrors"]] == ["RENEWAL_CHANGE_NOT_OPEN"]
        renewal = (await _jobs(client, owner))["renewal"]
        assert renewal["contractedLicenses"] == 10
        assert renewal["scheduledChange"] is None
        actions = await AuditEvent.filter(subject_type="RenewalChange").values_list(
            "action", flat=True
        )
        assert actions == [
            "renewal_change.requested",
            "renewal_change.signed",
            "renewal_change.cancelled",
        ]


async def test_signing_rechecks_the_assigned_licenses_and_keeps_the_link(
    database_url: str, smtp: SmtpServer
) -> None:
    settings = _settings(database_url, smtp, TEN_DAYS_BEFORE)
    async with serve(settings) as client:
        owner = await _start(settings, _fixture())
        await _assign(client, owner, "Tech A", "MONTHLY")
        change = (await _schedule(client, owner, 7))["renewalChange"]
        await smtp.wait_for(2)
        link = signature_token(
            next(m for m in smtp.inbox if "renewal with 7" in str(m["Subject"])), BASE_URL
        )
        await _assign(client, owner, "Tech A", "CONTRACTED")  # 8 assigned again
        refused = await client.post(f"/sign/{link}", data={"signer_name": "Olivia", "agree": "yes"})
        assert refused.status_code == 409
        assert "8 contracted licenses are assigned" in refused.text
        assert (await _jobs(client, owner))["renewal"]["pendingChange"]["id"] == change["id"]
        await _assign(client, owner, "Tech A", "MONTHLY")
        signed = (await gql(client, SIGN, {"input": {"token": link, "signerName": "Olivia"}}))[
            "data"
        ]["signRenewalChange"]
        assert signed["userErrors"] == []
        assert signed["renewalChange"]["status"] == "SCHEDULED"


async def test_a_pending_contracted_purchase_lapses_when_its_term_renews(
    database_url: str, smtp: SmtpServer
) -> None:
    settings = _settings(database_url, smtp, TEN_DAYS_BEFORE)
    async with serve(settings) as client:
        owner = await _start(settings, _fixture())
        made = (
            await gql(
                client,
                PURCHASE,
                {"input": {"contractId": JOBS, "kind": "CONTRACTED", "quantity": 1}},
                token=owner,
            )
        )["data"]["purchaseLicenses"]["purchase"]
        await smtp.wait_for(2)
    async with serve(_settings(database_url, smtp, RENEWS_ON)) as client:
        node = await gql(
            client,
            "query($id: ID!) { node(id: $id) { ... on LicensePurchase { status } } }",
            {"id": made["id"]},
            token=owner,
        )
        assert node["data"]["node"]["status"] == "EXPIRED"
        assert _pools(await _jobs(client, owner))["CONTRACTED"] == (10, 8)


async def test_one_reminder_before_a_signature_link_expires(
    database_url: str, smtp: SmtpServer
) -> None:
    start = dt.date(2027, 3, 1)
    settings = _settings(database_url, smtp, start)
    async with serve(settings) as client:
        owner = await _start(settings, _fixture())
        await gql(
            client,
            PURCHASE,
            {"input": {"contractId": JOBS, "kind": "MONTHLY", "quantity": 1}},
            token=owner,
        )
        await smtp.wait_for(1)
    # 30-day links, reminders 7 days before: due from day 23.
    day_22 = _settings(database_url, smtp, start + dt.timedelta(days=22))
    async with serve(day_22):
        await renewals.run_once(day_22)
        assert await OutboxEmail.filter(kind=EmailKind.SIGNATURE_REMINDER).count() == 0
    day_24 = _settings(database_url, smtp, start + dt.timedelta(days=24))
    async with serve(day_24) as client:
        await smtp.wait_for(2)
        await renewals.run_once(day_24)
        [reminder] = [m for m in smtp.inbox if str(m["Subject"]).startswith("Reminder: ")]
        fresh = signature_token(reminder, BASE_URL)
        assert (await client.get(f"/sign/{fresh}")).status_code == 200
        assert await OutboxEmail.filter(kind=EmailKind.SIGNATURE_REMINDER).count() == 1


async def test_loading_a_renewing_contract_whose_term_ended_rolls_it_forward(
    database_url: str, smtp: SmtpServer
) -> None:
    fixture = _fixture(JOBS={"startsOn": "2024-01-01", "expiresOn": "2024-12-31"})
    settings = _settings(database_url, smtp, dt.date(2026, 11, 26))
    async with serve(settings) as client:
        owner = await _start(settings, fixture)
        jobs = await _jobs(client, owner)
        assert (jobs["startsOn"], jobs["expiresOn"]) == ("2026-01-01", "2026-12-31")
        # Rendered by the load, or by the running service's loop if it leased a term first.
        await _until(lambda: _has_masters(3))
        assert [m.signed_at.date().isoformat() for m in await _masters()] == [
            "2024-01-01",
            "2025-01-01",
            "2026-01-01",
        ]
        # Being set up is not renewing: no "renewed" emails for the terms it rolled over.
        assert await OutboxEmail.filter(kind=EmailKind.CONTRACT_RENEWED).count() == 0
        # The file's dates are the first term's: loading it again finds nothing to report.
        again = await load_fixture_text(
            source="f.json", text=json.dumps(fixture), now=settings.clock.now()
        )
        assert again.differences == []
        # Its renewals own its dates now: an operator cannot move them back.
        moved = _fixture(JOBS={"startsOn": "2024-01-01", "expiresOn": "2025-03-31"})
        with pytest.raises(FixtureError, match="has renewed since"):
            await load_fixture_text(
                source="f.json", text=json.dumps(moved), now=settings.clock.now(), adjust=True
            )
        assert await Contract.filter(id=1, expires_on=dt.date(2026, 12, 31)).exists()


def test_terms_follow_the_calendar_rule_across_leap_years() -> None:
    leap = term_from(dt.date(2028, 2, 29), 12)
    assert (leap.starts_on, leap.expires_on) == (dt.date(2028, 2, 29), dt.date(2029, 2, 27))
    following = next_term(leap.expires_on, 12)
    assert (following.starts_on, following.expires_on) == (
        dt.date(2029, 2, 28),
        dt.date(2030, 2, 27),
    )
    assert next_term(dt.date(2027, 1, 30), 1).expires_on == dt.date(2027, 2, 27)
    window = renewal_window(expires_on=dt.date(2027, 12, 31), term_months=12, window_days=28)
    assert (window.opens_on, window.renews_on) == (dt.date(2027, 12, 4), dt.date(2028, 1, 1))
    assert window.is_open(dt.date(2027, 12, 4))
    assert window.is_open(dt.date(2027, 12, 31))
    assert not window.is_open(dt.date(2027, 12, 3))
    assert not window.is_open(dt.date(2028, 1, 1))


@pytest.mark.parametrize(
    ("count", "basis_points", "subtotal", "tax"),
    [
        (6, 2000, 324_000, 64_800),
        (0, 2000, 0, 0),
        (7, 1750, 378_000, 66_150),
        (1, 333, 54_000, 1_798),
    ],
)
def test_the_renewal_quote_is_exact_and_its_lines_add_up(
    count: int, basis_points: int, subtotal: int, tax: int
) -> None:
    quote = renewal_quote(
        RenewalRequest(
            product=Product.JOBS,
            contracted_licenses=count,
            current_contracted_licenses=10,
            expires_on=dt.date(2027, 12, 31),
            term_months=12,
            unit_price_minor=4500,
            currency="GBP",
            tax_rate_basis_points=basis_points,
            monthly_total=3,
            allowance_per_license_bytes=10,
        )
    )
    assert (quote.monthly_minor, quote.subtotal_minor, quote.tax_minor) == (
        4500 * count,
        subtotal,
        tax,
    )
    assert sum(line.amount_minor for line in quote.lines) == quote.total_minor
    assert (quote.current_allowance_bytes, quote.new_allowance_bytes) == (130, 10 * (count + 3))


@pytest.mark.skipif(not ON_POSTGRES, reason="SQLite serves one process; run with PostgreSQL")
async def test_two_processes_renew_each_contract_once(database_url: str, smtp: SmtpServer) -> None:
    async with orm(database_url):
        now = make_settings(database_url, smtp.port).clock.now()
        await load_fixture_text(source="f.json", text=EXAMPLE_FIXTURE.read_text(), now=now)
        owner = await create_token(email=ACME["owner"], now=now)
    env = service_env(
        database_url,
        smtp.port,
        LICENSING_TODAY=RENEWS_ON.isoformat(),
        RENEWAL_POLL_SECONDS="0.05",
        OUTBOX_POLL_SECONDS="0.05",
        DATABASE_POOL_MAX="5",
    )
    with Service(env) as first, Service(env) as second:
        await first.until_healthy()
        await second.until_healthy()
        async with httpx.AsyncClient(timeout=30) as http:
            # Both processes' first requests of the day race to apply the same renewals.
            answers = await asyncio.gather(
                *(
                    http.post(
                        f"{server.base_url}/graphql",
                        json={"query": "{ subscription { contracts { startsOn expiresOn } } }"},
                        headers={"Authorization": f"Bearer {owner}"},
                    )
                    for server in (first, second) * 5
                )
            )
        # JOBS renewed on 2028-01-01, SALES (2026-06-01..2027-05-31) on 2027-06-01.
        for answer in answers:
            assert answer.json()["data"]["subscription"]["contracts"] == [
                {"startsOn": "2028-01-01", "expiresOn": "2028-12-31"},
                {"startsOn": "2027-06-01", "expiresOn": "2028-05-31"},
            ]
        await smtp.wait_for(2, within=30)
        async with orm(database_url):
            await _until(lambda: _has_masters(2), within=30)
            await _until(lambda: _masters_of_contract(2, 2), within=30)
            assert await AuditEvent.filter(action="contract.renewed").count() == 2
            assert await OutboxEmail.filter(kind=EmailKind.CONTRACT_RENEWED).count() == 2
            assert await ContractTerm.filter(master_document_id__isnull=True).count() == 0
            assert len(await _masters(1)) == len(await _masters(2)) == 2
    assert sorted(str(m["Subject"]).strip().split(":")[0] for m in smtp.inbox) == [
        "Your Jobs contract renewed",
        "Your Sales contract renewed",
    ]


async def _masters_of_contract(contract_id: int, count: int) -> bool:
    return len(await _masters(contract_id)) >= count


async def test_a_renewal_change_awaiting_signature_gets_one_reminder(
    database_url: str, smtp: SmtpServer
) -> None:
    first_day = _settings(database_url, smtp, dt.date(2027, 12, 4))
    async with serve(first_day) as client:
        owner = await _start(first_day, _fixture())
        change = (await _schedule(client, owner, 9))["renewalChange"]
        # Its link ends with the term, 28 days on: the reminder is due 7 days before that.
        assert change["expiresAt"].startswith("2028-01-01T00:00:00")
        await smtp.wait_for(2)
    week_before = _settings(database_url, smtp, dt.date(2027, 12, 26))
    async with serve(week_before) as client:
        await smtp.wait_for(3)
        await renewals.run_once(week_before)
        [reminder] = [m for m in smtp.inbox if str(m["Subject"]).strip().startswith("Reminder:")]
        assert "renewal with 9" in str(reminder["Subject"])
        page = await client.get(f"/sign/{signature_token(reminder, BASE_URL)}")
        assert page.status_code == 200
        assert "Sign your contract renewal" in page.text
        assert await OutboxEmail.filter(kind=EmailKind.SIGNATURE_REMINDER).count() == 1


async def test_a_request_on_the_renewal_day_applies_the_renewal_itself(
    database_url: str, smtp: SmtpServer
) -> None:
    """No loop runs here: the token lookup every request makes starts the due term."""
    before = make_settings(database_url, smtp.port, TEN_DAYS_BEFORE).clock.now()
    on_the_day = dt.datetime.combine(RENEWS_ON, dt.time(0, 1), tzinfo=dt.UTC)
    async with orm(database_url):
        await load_fixture_text(source="f.json", text=json.dumps(_fixture()), now=before)
        token = await create_token(email=ACME["owner"], now=before)
        earlier = await authenticate(token, now=before)
        assert earlier is not None
        assert await Contract.filter(id=1, expires_on=dt.date(2027, 12, 31)).exists()
        viewer = await authenticate(token, now=on_the_day)
        assert viewer is not None
        # The version it answers with is the renewal's: no cached answer of the old term fits.
        assert viewer.company.data_version > earlier.company.data_version
        renewed = await Contract.get(id=1)
        assert (renewed.starts_on, renewed.expires_on) == (RENEWS_ON, dt.date(2028, 12, 31))
        assert await ContractTerm.filter(contract_id=1).count() == 2
