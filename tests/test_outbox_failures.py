"""Every failed delivery counts: refused by the server, or refused before it was even sent."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import json
import random

import httpx

from bench.smtp import SmtpServer, text_of
from licensing.db import orm
from licensing.settings import Settings
from models.outbox import EmailStatus, OutboxEmail
from services.fixtures import load_fixture_text
from services.protection.tokens import create_token
from services.purchases import outbox
from tests.conftest import ACME, EXAMPLE_FIXTURE, gql, make_settings, purchase_then_stop, serve
from tests.test_purchases import purchase

STATUS = """query($id: ID!) { node(id: $id) { ... on LicensePurchase {
  confirmationEmailStatus confirmationEmailAttempts } } }"""


async def _watch_until_failed(
    client: httpx.AsyncClient, token: str, purchase_id: str
) -> list[tuple[str, int]]:
    """Every (status, attempts) the purchase showed, polled until FAILED."""
    seen: list[tuple[str, int]] = []
    for _ in range(1000):
        node = (await gql(client, STATUS, {"id": purchase_id}, token=token))["data"]["node"]
        state = (node["confirmationEmailStatus"], node["confirmationEmailAttempts"])
        if not seen or seen[-1] != state:
            seen.append(state)
        if state[0] == "FAILED":
            return seen
        await asyncio.sleep(0.02)
    raise AssertionError(f"never FAILED; seen {seen}")


def _few_attempts(settings: Settings) -> Settings:
    return dataclasses.replace(settings, outbox_max_attempts=3, outbox_retry_base_seconds=0.3)


async def test_a_server_that_refuses_everything_ends_in_failed(
    database_url: str, smtp: SmtpServer
) -> None:
    smtp.refuse_everything()
    async with serve(_few_attempts(make_settings(database_url, smtp.port))) as client:
        await load_fixture_text(
            source="f.json", text=EXAMPLE_FIXTURE.read_text(), now=dt.datetime.now(dt.UTC)
        )
        owner = await create_token(email=ACME["owner"], now=dt.datetime.now(dt.UTC))
        made = (await purchase(client, owner))["purchase"]
        seen = await _watch_until_failed(client, owner, made["id"])
        row = await OutboxEmail.get()
    assert ("RETRYING", 1) in seen
    assert seen[-1] == ("FAILED", 3)
    assert smtp.refusals == 3
    assert smtp.inbox == []
    assert (row.status, row.attempts) == (EmailStatus.FAILED, 3)
    assert row.last_error is not None
    assert "554" in row.last_error


async def test_a_header_the_mail_library_refuses_counts_as_an_attempt(
    database_url: str, smtp_port: int, smtp: SmtpServer
) -> None:
    """Before the fix such a row failed before its send, kept 0 attempts and was retried forever."""
    purchase_id, owner = await purchase_then_stop(make_settings(database_url, smtp_port))
    async with orm(database_url):
        await OutboxEmail.all().update(
            to_address="accounts@acme-heating.example\nBcc: x@y.example", attempts=0
        )
    async with serve(_few_attempts(make_settings(database_url, smtp.port))) as client:
        seen = await _watch_until_failed(client, owner, purchase_id)
        row = await OutboxEmail.get()
    assert seen[-1] == ("FAILED", 3)
    assert row.last_error is not None
    assert "linefeed" in row.last_error
    assert smtp.inbox == []


async def test_a_company_name_with_a_line_break_still_gets_its_email(
    client: httpx.AsyncClient, settings: Settings, smtp: SmtpServer
) -> None:
    data = json.loads(EXAMPLE_FIXTURE.read_text())
    data["companies"][0]["name"] = "Acme\nHeating  Ltd"
    await load_fixture_text(source="f.json", text=json.dumps(data), now=settings.clock.now())
    owner = await create_token(email=ACME["owner"], now=settings.clock.now())
    await purchase(client, owner)
    [message] = await smtp.wait_for(1)
    assert message["Subject"].endswith("licenses for Acme Heating Ltd")
    assert "Hello Acme\r\nHeating  Ltd," in text_of(message)
    row = await _when_sent()
    assert row.attempts == 1


async def _when_sent() -> OutboxEmail:
    """The outbox row, once its delivery is recorded (it arrives a moment before that)."""
    for _ in range(500):
        row = await OutboxEmail.get()
        if row.status == EmailStatus.SENT:
            return row
        await asyncio.sleep(0.01)
    raise AssertionError("the email's delivery was never recorded")


def test_retry_delays_grow_and_are_spread_by_jitter() -> None:
    base = dt.timedelta(seconds=10)
    rng = random.Random(7)
    for attempts, full in [(1, 10), (2, 20), (3, 40), (20, 3600), (1000, 3600)]:
        delays = {outbox.backoff(attempts, base, rng) for _ in range(50)}
        assert all(
            dt.timedelta(seconds=full / 2) <= d <= dt.timedelta(seconds=full) for d in delays
        )
        assert len(delays) > 40  # spread out, not one fixed moment
