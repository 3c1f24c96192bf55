"""Several senders and several service processes on one database."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import json
from collections.abc import Iterator
from contextlib import contextmanager
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from tortoise.connection import get_connection

from bench.service import Service, service_env
from bench.smtp import SmtpServer, signature_token
from licensing.db import orm
from licensing.email_sender import SmtpSender
from licensing.mailer import EMAILS_PER_PASS, Mailer
from licensing.settings import Clock
from models.company import Company
from models.contract import LicensePool
from models.enums import LicenseKind
from models.outbox import EmailStatus, OutboxEmail
from models.purchase import LicensePurchase
from models.user import LicenseAssignment, User
from resolvers.ids import encode_id
from services.audit import Actor
from services.fixtures import load_fixture_text
from services.protection.tokens import create_token
from services.purchases.lifecycle import purchase_licenses
from tests.conftest import EXAMPLE_FIXTURE, TODAY, make_settings
from tests.databases import ON_POSTGRES

CLOCK = Clock(pinned_today=TODAY)


async def _queue_purchases(count: int) -> None:
    await load_fixture_text(source="f.json", text=EXAMPLE_FIXTURE.read_text(), now=CLOCK.now())
    company = await Company.get(email="accounts@acme-heating.example")
    for _ in range(count):
        await purchase_licenses(
            company=company,
            contract_id=1,
            kind=LicenseKind.DAILY,
            quantity=1,
            idempotency_key=None,
            actor=Actor(user_id=None, token_id=None),
            now=CLOCK.now(),
            link_ttl=dt.timedelta(days=30),
        )


async def _send_with(senders: list[Mailer], smtp: SmtpServer, emails: int) -> None:
    """Run the senders side by side until every email is recorded as sent, then stop them.

    Stopping waits for each sender's send in hand: after it, nothing more can arrive, so what
    the server holds is final.
    """
    stop = asyncio.Event()
    running = [asyncio.create_task(sender.run(stop)) for sender in senders]
    try:
        await smtp.wait_for(emails, within=60)
        await _all_recorded_sent(emails)
    finally:
        stop.set()
        await asyncio.gather(*running)


async def _all_recorded_sent(emails: int, within: float = 30.0) -> None:
    deadline = asyncio.get_running_loop().time() + within
    while await OutboxEmail.filter(status=EmailStatus.SENT).count() < emails:
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("the emails arrived but were never all recorded as sent")
        await asyncio.sleep(0.02)


async def test_two_senders_deliver_each_of_200_emails_exactly_once(
    database_url: str, smtp: SmtpServer
) -> None:
    settings = make_settings(database_url, smtp.port)
    async with orm(database_url):
        await _queue_purchases(200)
        await _send_with([Mailer(settings, SmtpSender(settings)) for _ in range(2)], smtp, 200)
        assert len(smtp.inbox) == 200
        tokens = {signature_token(message, "http://licensing.test") for message in smtp.inbox}
        assert len(tokens) == 200
        assert len({message["Message-ID"] for message in smtp.inbox}) == 200
        rows = await OutboxEmail.all().values_list("status", "attempts")
        assert rows == [(EmailStatus.SENT, 1)] * 200


async def test_a_backlog_goes_out_without_waiting_a_poll_interval_per_batch(
    database_url: str, smtp: SmtpServer
) -> None:
    settings = dataclasses.replace(make_settings(database_url, smtp.port), outbox_poll_seconds=30)
    async with orm(database_url):
        await _queue_purchases(3 * EMAILS_PER_PASS)
        stop = asyncio.Event()
        sending = asyncio.create_task(Mailer(settings, SmtpSender(settings)).run(stop))
        try:
            # Three passes' worth arrives long before one poll interval of 30 s.
            await smtp.wait_for(3 * EMAILS_PER_PASS, within=20)
        finally:
            stop.set()
            await sending


class _SlowSmtp(SmtpSender):
    """The real SMTP sender on a slow day: each conversation takes 0.15 s more."""

    async def send(self, message: EmailMessage) -> None:
        await asyncio.sleep(0.15)
        await super().send(message)


async def test_slow_sending_never_lets_a_second_sender_send_the_same_email(
    database_url: str, smtp: SmtpServer
) -> None:
    """Found by the long soak: a batch claimed at once outlived its lease while being sent."""
    settings = dataclasses.replace(make_settings(database_url, smtp.port), outbox_lease_seconds=0.4)
    async with orm(database_url):
        await _queue_purchases(8)
        await _send_with([Mailer(settings, _SlowSmtp(settings)) for _ in range(2)], smtp, 8)
    assert len({message["Message-ID"] for message in smtp.inbox}) == 8
    assert len(smtp.inbox) == 8


async def test_pool_size_and_statement_timeout_come_from_settings(database_url: str) -> None:
    async with orm(database_url, pool_max=7, statement_timeout_ms=1234):
        connection: Any = get_connection("default")
        if ON_POSTGRES:
            [row] = await connection.execute_query_dict("SHOW statement_timeout")
            assert row["statement_timeout"] == "1234ms"
            assert connection.pool_maxsize == 7
        else:
            [row] = await connection.execute_query_dict("PRAGMA busy_timeout")
            assert next(iter(row.values())) == 5000


@contextmanager
def two_servers(database_url: str, smtp: SmtpServer) -> Iterator[list[Service]]:
    env = service_env(
        database_url,
        smtp.port,
        LICENSING_TODAY=TODAY.isoformat(),
        OUTBOX_POLL_SECONDS="0.05",
        DATABASE_POOL_MAX="5",
    )
    with Service(env) as first, Service(env) as second:
        yield [first, second]


async def _post(
    http: httpx.AsyncClient,
    base: str,
    query: str,
    variables: dict[str, Any],
    token: str | None = None,
) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    response = await http.post(
        f"{base}/graphql", json={"query": query, "variables": variables}, headers=headers
    )
    body: dict[str, Any] = response.json()
    assert "errors" not in body, body
    return body["data"]


ASSIGN = """mutation($u: ID!, $k: LicenseKind!) { assignLicense(input: {userId: $u,
  product: JOBS, kind: $k}) { userErrors { code } } }"""
DELETE = """mutation($k: LicenseKind!) { deleteLicenses(input: {contractId: "Q29udHJhY3Q6MQ==",
  kind: $k, quantity: 1}) { userErrors { code } } }"""
BUY = """mutation($q: Int!) { purchaseLicenses(input: {contractId: "Q29udHJhY3Q6MQ==",
  kind: MONTHLY, quantity: $q}) { purchase { id } userErrors { code } } }"""
DOCUMENTS = "{ subscription { contracts { documents { downloadUrl } } } }"
SIGN = """mutation($t: String!) { signLicensePurchase(input: {token: $t, signerName: "Olivia"})
  { userErrors { code } } }"""


@pytest.mark.skipif(not ON_POSTGRES, reason="SQLite serves one process; run with PostgreSQL")
async def test_mixed_load_across_two_serve_processes_keeps_every_pool_consistent(
    database_url: str, smtp: SmtpServer
) -> None:
    async with orm(database_url):
        await load_fixture_text(source="f.json", text=EXAMPLE_FIXTURE.read_text(), now=CLOCK.now())
        await LicensePool.filter(contract_id=1, kind__in=["MONTHLY", "DAILY"]).update(total=20)
        await User.bulk_create(
            [
                User(company_id=1, name=f"Load {n}", email=f"l{n}@x.example", role="ENGINEER")
                for n in range(20)
            ]
        )
        token = await create_token(email="olivia@acme-heating.example", now=CLOCK.now())
        users = [encode_id("User", pk) for pk in await User.all().values_list("id", flat=True)]
        before = dict(await LicensePool.filter(contract_id=1).values_list("kind", "total"))

    with two_servers(database_url, smtp) as servers:
        for server in servers:
            await server.until_healthy()
        bases = [server.base_url for server in servers]
        async with httpx.AsyncClient(timeout=60) as http:
            calls = []
            for n in range(120):
                base = bases[n % 2]
                if n % 4 == 3:
                    calls.append(
                        _post(http, base, DELETE, {"k": ("MONTHLY", "DAILY")[n // 4 % 2]}, token)
                    )
                elif n % 10 == 5:
                    calls.append(_post(http, base, BUY, {"q": 1 + n % 3}, token))
                else:
                    kind = ("MONTHLY", "DAILY", "CONTRACTED")[n % 3]
                    calls.append(
                        _post(http, base, ASSIGN, {"u": users[n % len(users)], "k": kind}, token)
                    )
            results = await asyncio.gather(*calls)
            bought = [
                r["purchaseLicenses"]["purchase"]["id"] for r in results if "purchaseLicenses" in r
            ]
            messages = await smtp.wait_for(len(bought), within=30)
            signatures = [
                _post(http, bases[i % 2], SIGN, {"t": signature_token(m, "http://licensing.test")})
                for i, m in enumerate(messages)
                for _ in range(3)
            ]
            signed = await asyncio.gather(*signatures)
            assert sum(1 for r in signed if not r["signLicensePurchase"]["userErrors"]) == len(
                bought
            )

    deleted = {"MONTHLY": 0, "DAILY": 0}
    for n, result in enumerate(results):
        if "deleteLicenses" in result and not result["deleteLicenses"]["userErrors"]:
            deleted[("MONTHLY", "DAILY")[n // 4 % 2]] += 1
    async with orm(database_url):
        confirmed = sum(
            await LicensePurchase.filter(status="CONFIRMED").values_list("quantity", flat=True)
        )
        for pool in await LicensePool.all():
            rows = await LicenseAssignment.filter(pool_id=pool.id).count()
            assert pool.total - pool.assigned == pool.available >= 0
            assert rows == pool.assigned
        totals = dict(await LicensePool.filter(contract_id=1).values_list("kind", "total"))
    # The load did real work on every path, not only refusals.
    assert deleted["MONTHLY"] > 0
    assert deleted["DAILY"] > 0
    assert confirmed > 0
    assert (
        sum(1 for r in results if "assignLicense" in r and not r["assignLicense"]["userErrors"]) > 0
    )
    assert totals["CONTRACTED"] == before["CONTRACTED"]
    assert totals["DAILY"] == before["DAILY"] - deleted["DAILY"]
    assert totals["MONTHLY"] == before["MONTHLY"] - deleted["MONTHLY"] + confirmed


async def _workers_serving_downloads(service: Service, token: str, log: Path) -> set[int]:
    """Fetch fresh links and download them, each on a new connection, until two workers served.

    Returns the statuses seen, after both worker processes have served downloads.
    """
    statuses: set[int] = set()
    for _ in range(200):
        async with httpx.AsyncClient(base_url=service.base_url, timeout=10) as http:
            body = await _post(http, service.base_url, DOCUMENTS, {}, token)
            url = body["subscription"]["contracts"][0]["documents"][0]["downloadUrl"]
        parts = urlsplit(url)
        async with httpx.AsyncClient(base_url=service.base_url, timeout=10) as http:
            statuses.add((await http.get(f"{parts.path}?{parts.query}")).status_code)
        served_by = {
            line["pid"]
            for line in map(json.loads, (await asyncio.to_thread(log.read_text)).splitlines())
            if line.get("path", "").startswith("/documents/")
        }
        if len(served_by) == 2:
            return statuses
    raise AssertionError("the downloads never reached both workers")


@pytest.mark.skipif(not ON_POSTGRES, reason="several workers need PostgreSQL")
async def test_workers_without_a_secret_key_share_one_generated_key(
    database_url: str, smtp: SmtpServer, tmp_path: Path
) -> None:
    async with orm(database_url):
        await load_fixture_text(source="f.json", text=EXAMPLE_FIXTURE.read_text(), now=CLOCK.now())
        token = await create_token(email="olivia@acme-heating.example", now=CLOCK.now())
    env = service_env(database_url, smtp.port, LOG_LEVEL="INFO")
    del env["SECRET_KEY"]
    log = tmp_path / "service.log"
    with Service(env, workers=2, log=log) as service:
        await service.until_healthy()
        statuses = await _workers_serving_downloads(service, token, log)
    assert statuses == {200}
