"""Purchases under stress: idempotency, concurrent signatures, SMTP outages, restarts, expiry."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import logging

import httpx
import pytest

from bench.smtp import SmtpServer, signature_token
from licensing.settings import Settings
from models.contract import LicensePool
from models.document import ContractDocument
from models.outbox import OutboxEmail
from models.purchase import LicensePurchase
from tests.conftest import (
    BASE_URL,
    TODAY,
    Acme,
    gql,
    make_settings,
    purchase_then_stop,
    serve,
)
from tests.test_purchases import CANCEL, purchase, sign

STATUS = """query($id: ID!) { node(id: $id) { ... on LicensePurchase {
  status confirmationEmailStatus confirmationEmailAttempts } } }"""


async def _status(client: httpx.AsyncClient, token: str, purchase_id: str) -> dict[str, object]:
    body = await gql(client, STATUS, {"id": purchase_id}, token=token)
    node: dict[str, object] = body["data"]["node"]
    return node


async def _sentinel_delivered(
    client: httpx.AsyncClient, token: str, smtp: SmtpServer, *, emails_before: int
) -> None:
    """Proof the sender has moved on: a later purchase's email arrived after the earlier ones.

    The sender takes the outbox in order, so a duplicate of an earlier email would have come
    before it. Then each earlier email arrived exactly once.
    """
    sentinel = await purchase(client, token, kind="DAILY", quantity=1, idempotencyKey="sentinel")
    assert sentinel["userErrors"] == []
    inbox = await smtp.wait_for(emails_before + 1)
    assert len(inbox) == emails_before + 1
    assert len({message["Message-ID"] for message in inbox}) == emails_before + 1


async def test_same_key_same_input_returns_the_first_purchase(
    client: httpx.AsyncClient, acme: Acme, smtp: SmtpServer
) -> None:
    owner = acme.tokens["owner"]
    first = await purchase(client, owner, idempotencyKey="order-1")
    second = await purchase(client, owner, idempotencyKey="order-1")
    assert second["purchase"]["id"] == first["purchase"]["id"]
    reused = await purchase(client, owner, idempotencyKey="order-1", quantity=4)
    [error] = reused["userErrors"]
    assert (error["code"], error["field"]) == (
        "IDEMPOTENCY_KEY_REUSED",
        ["input", "idempotencyKey"],
    )
    blank = await purchase(client, owner, idempotencyKey="  ")
    assert blank["userErrors"][0]["code"] == "INVALID_IDEMPOTENCY_KEY"
    await _sentinel_delivered(client, owner, smtp, emails_before=1)
    assert await LicensePurchase.all().count() == 2  # the one keyed purchase and the sentinel


async def test_twenty_concurrent_purchases_with_one_key_make_one(
    client: httpx.AsyncClient, acme: Acme, smtp: SmtpServer
) -> None:
    results = await asyncio.gather(
        *(purchase(client, acme.tokens["owner"], idempotencyKey="burst") for _ in range(20))
    )
    assert all(result["userErrors"] == [] for result in results)
    assert len({result["purchase"]["id"] for result in results}) == 1
    assert await LicensePurchase.all().count() == 1
    assert await OutboxEmail.all().count() == 1
    await smtp.wait_for(1)


async def test_twenty_concurrent_signatures_add_the_licenses_once(
    client: httpx.AsyncClient, acme: Acme, smtp: SmtpServer
) -> None:
    await purchase(client, acme.tokens["owner"], quantity=4)
    token = signature_token((await smtp.wait_for(1))[0], BASE_URL)
    results = await asyncio.gather(*(sign(client, token) for _ in range(20)))
    assert sum(1 for result in results if not result["userErrors"]) == 1
    assert {r["userErrors"][0]["code"] for r in results if r["userErrors"]} == {
        "PURCHASE_NOT_PENDING"
    }
    pool = await LicensePool.get(contract_id=1, kind="CONTRACTED")
    assert pool.total == 14
    assert await ContractDocument.filter(contract_id=1, kind="ADDENDUM").count() == 1


async def test_smtp_down_then_up_delivers_once_and_keeps_the_purchase(
    client: httpx.AsyncClient, acme: Acme, smtp: SmtpServer
) -> None:
    smtp.stop()
    made = (await purchase(client, acme.tokens["owner"]))["purchase"]
    for _ in range(200):
        status = await _status(client, acme.tokens["owner"], made["id"])
        if status["confirmationEmailStatus"] == "RETRYING":
            break
        await asyncio.sleep(0.02)
    assert status["confirmationEmailStatus"] == "RETRYING"
    assert status["status"] == "PENDING_SIGNATURE"
    row = await OutboxEmail.get()
    assert row.last_error
    assert "Connect" in row.last_error
    smtp.start()
    [message] = await smtp.wait_for(1)
    await _sentinel_delivered(client, acme.tokens["owner"], smtp, emails_before=1)
    final = await _status(client, acme.tokens["owner"], made["id"])
    assert final["confirmationEmailStatus"] == "SENT"
    assert (await sign(client, signature_token(message, BASE_URL)))["userErrors"] == []


async def test_a_restart_loses_no_email(
    database_url: str, smtp_port: int, smtp: SmtpServer
) -> None:
    # First run: SMTP unreachable, the service stops with the email still queued.
    purchase_id, owner = await purchase_then_stop(make_settings(database_url, smtp_port))
    assert smtp.inbox == []
    async with serve(make_settings(database_url, smtp.port)) as client:
        [message] = await smtp.wait_for(1)
        assert (await sign(client, signature_token(message, BASE_URL)))["userErrors"] == []
        assert (await _status(client, owner, purchase_id))["status"] == "CONFIRMED"


async def test_an_unsigned_purchase_expires_without_any_job(
    database_url: str, smtp: SmtpServer
) -> None:
    purchase_id, owner = await purchase_then_stop(
        make_settings(database_url, smtp.port), mail_arrives_at=smtp
    )
    token = signature_token(smtp.inbox[0], BASE_URL)
    # Restarted 31 days later: the 720-hour link is past its expiry.
    later = make_settings(database_url, smtp.port, today=TODAY + dt.timedelta(days=31))
    async with serve(later) as client:
        assert (await _status(client, owner, purchase_id))["status"] == "EXPIRED"
        daily = await gql(
            client,
            "{ subscription { contract(product: JOBS) { licensePool(kind: DAILY) "
            "{ total pending } "
            "expired: purchases(status: EXPIRED) { totalCount } "
            "pending: purchases(status: PENDING_SIGNATURE) { totalCount } } } }",
            token=owner,
        )
        assert daily["data"]["subscription"]["contract"] == {
            "licensePool": {"total": 2, "pending": 0},
            "expired": {"totalCount": 1},
            "pending": {"totalCount": 0},
        }
        result = await sign(client, token)
        assert [e["code"] for e in result["userErrors"]] == ["SIGNATURE_TOKEN_EXPIRED"]
        page = await client.get(f"/sign/{token}")
        assert page.status_code == 410
        assert "expired" in page.text
        cancelled = await gql(client, CANCEL, {"id": purchase_id}, token=owner)
        assert cancelled["data"]["cancelLicensePurchase"]["userErrors"][0]["code"] == (
            "PURCHASE_NOT_PENDING"
        )


async def test_purchases_page_newest_first(
    client: httpx.AsyncClient, acme: Acme, settings: Settings
) -> None:
    ids = [
        (await purchase(client, acme.tokens["owner"], quantity=n))["purchase"]["id"]
        for n in (1, 2, 3)
    ]
    query = """query($after: String) { subscription { contract(product: JOBS) {
      purchases(first: 2, after: $after) { totalCount pageInfo { hasNextPage endCursor }
        edges { node { id quantity } } } } } }"""
    first = await gql(client, query, token=acme.tokens["owner"])
    page = first["data"]["subscription"]["contract"]["purchases"]
    assert [e["node"]["id"] for e in page["edges"]] == [ids[2], ids[1]]
    assert page["totalCount"] == 3
    assert page["pageInfo"]["hasNextPage"] is True
    second = await gql(
        client, query, {"after": page["pageInfo"]["endCursor"]}, token=acme.tokens["owner"]
    )
    rest = second["data"]["subscription"]["contract"]["purchases"]
    assert [e["node"]["id"] for e in rest["edges"]] == [ids[0]]
    assert rest["pageInfo"]["hasNextPage"] is False


async def test_without_smtp_the_email_goes_to_the_log(
    database_url: str, smtp_port: int, caplog: pytest.LogCaptureFixture
) -> None:
    no_smtp = dataclasses.replace(make_settings(database_url, smtp_port), smtp_host=None)
    caplog.set_level(logging.WARNING, logger="licensing.email_sender")
    await purchase_then_stop(no_smtp)
    async with serve(no_smtp):
        for _ in range(200):
            if (await OutboxEmail.get()).status == "SENT":
                break
            await asyncio.sleep(0.02)
        assert (await OutboxEmail.get()).status == "SENT"
    [record] = [r for r in caplog.records if "/sign/" in r.getMessage()]
    assert "To: accounts@acme-heating.example" in record.getMessage()
    assert f"{BASE_URL}/sign/" in record.getMessage()


async def test_requested_by_reads_null_once_the_user_is_deleted(
    client: httpx.AsyncClient, acme: Acme
) -> None:
    made = (await purchase(client, acme.tokens["finance"]))["purchase"]
    assert made["requestedBy"] == {"name": "Frank Finance"}
    frank = (await gql(client, "{ viewer { id } }", token=acme.tokens["finance"]))["data"]
    deleted = await gql(
        client,
        "mutation($id: ID!) { deleteUser(input: {userId: $id}) { userErrors { code } } }",
        {"id": frank["viewer"]["id"]},
        token=acme.tokens["owner"],
    )
    assert deleted["data"]["deleteUser"]["userErrors"] == []
    body = await gql(
        client,
        "query($id: ID!) { node(id: $id) { ... on LicensePurchase { requestedBy { name } "
        "status } } }",
        {"id": made["id"]},
        token=acme.tokens["owner"],
    )
    assert body["data"]["node"] == {"requestedBy": None, "status": "PENDING_SIGNATURE"}


async def test_an_idempotency_key_belongs_to_one_company(
    client: httpx.AsyncClient, acme: Acme, other_company: str, smtp: SmtpServer
) -> None:
    """The same key from another company makes that company's own purchase, not a replay."""
    acme_made = await purchase(client, acme.tokens["owner"], idempotencyKey="order-1", quantity=3)
    body = await gql(client, "{ subscription { contracts { id } } }", token=other_company)
    bolt_contract = body["data"]["subscription"]["contracts"][0]["id"]
    # A different input under the same key: for Bolt it is a first use, not a reuse.
    bolt_made = await purchase(
        client, other_company, contractId=bolt_contract, idempotencyKey="order-1", quantity=1
    )
    assert bolt_made["userErrors"] == []
    assert bolt_made["purchase"]["id"] != acme_made["purchase"]["id"]
    assert bolt_made["purchase"]["confirmationSentTo"] == "office@bolt-plumbing.example"
    rows = await LicensePurchase.filter(idempotency_key="order-1").order_by("id")
    assert [(row.company_id, row.quantity) for row in rows] == [(1, 3), (2, 1)]
    replay = await purchase(
        client, other_company, contractId=bolt_contract, idempotencyKey="order-1", quantity=1
    )
    assert replay["purchase"]["id"] == bolt_made["purchase"]["id"]
