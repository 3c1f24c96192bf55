"""The response cache: every change is visible on the very next read, from any process."""

from __future__ import annotations

import asyncio
import datetime as dt
from email.message import EmailMessage
from typing import Any

import httpx

from bench.service import Service, service_env
from bench.smtp import SmtpServer, signature_token
from bench.sql_count import count_sql
from licensing.db import orm
from licensing.settings import Settings
from models.outbox import EmailStatus, OutboxEmail
from models.purchase import LicensePurchase
from resolvers.ids import encode_id
from services.fixtures import load_fixture_text
from services.protection.tokens import create_token
from tests.conftest import ACME, EXAMPLE_FIXTURE, Acme, fixture_text, gql

READ = """{ subscription {
  contracts { product licensePools { kind total assigned available pending deletable }
    purchases(first: 5) { edges { node { status confirmationEmailStatus } } } }
  company { name users(first: 10) { totalCount edges { node { email
    licenses { product kind } } } } } } }"""
JOBS = encode_id("Contract", 1)


async def _read(client: httpx.AsyncClient, token: str) -> dict[str, Any]:
    body = await gql(client, READ, token=token)
    assert "errors" not in body, body
    data: dict[str, Any] = body["data"]["subscription"]
    return data


def _pool(view: dict[str, Any], kind: str) -> dict[str, Any]:
    pools: list[dict[str, Any]] = view["contracts"][0]["licensePools"]
    return next(pool for pool in pools if pool["kind"] == kind)


def _licenses(view: dict[str, Any], email: str) -> list[dict[str, Any]]:
    edges = view["company"]["users"]["edges"]
    found: list[dict[str, Any]] = next(
        e["node"]["licenses"] for e in edges if e["node"]["email"] == email
    )
    return found


async def _change(client: httpx.AsyncClient, token: str, mutation: str) -> dict[str, Any]:
    body = await gql(client, "mutation { " + mutation + " }", token=token)
    payload: dict[str, Any] = next(iter(body["data"].values()))
    assert payload["userErrors"] == [], payload
    return payload


async def _email_marked_sent(smtp: SmtpServer) -> list[EmailMessage]:
    arrived = await smtp.wait_for(1)
    for _ in range(500):
        if await OutboxEmail.filter(status=EmailStatus.SENT).exists():
            return arrived
        await asyncio.sleep(0.01)
    raise AssertionError("the email was sent but never marked sent")


async def test_a_repeated_read_is_answered_without_executing(
    client: httpx.AsyncClient, acme: Acme
) -> None:
    token = acme.tokens["owner"]
    with count_sql() as first:
        await _read(client, token)
    with count_sql() as again:
        assert await _read(client, token) == await _read(client, token)
    assert first.statements > 10
    # Two reads, each: the token lookup (which brings the data version) and the rate limit.
    assert again.statements == 4


async def test_every_change_is_seen_on_the_very_next_read(
    client: httpx.AsyncClient, acme: Acme, settings: Settings, smtp: SmtpServer
) -> None:
    token = acme.tokens["owner"]
    erin = encode_id("User", 4)
    before = await _read(client, token)
    assert _pool(before, "MONTHLY")["total"] == 3

    await _change(
        client,
        token,
        f'deleteLicenses(input: {{contractId: "{JOBS}", kind: MONTHLY, '
        "quantity: 1}) { userErrors { code } }",
    )
    assert _pool(await _read(client, token), "MONTHLY")["total"] == 2

    await _change(
        client,
        token,
        f'assignLicense(input: {{userId: "{erin}", product: SALES, '
        "kind: CONTRACTED}) { userErrors { code } }",
    )
    assert {"product": "SALES", "kind": "CONTRACTED"} in _licenses(
        await _read(client, token), "erin@acme-heating.example"
    )

    await _change(
        client,
        token,
        f'unassignLicense(input: {{userId: "{erin}", product: SALES}}) {{ userErrors {{ code }} }}',
    )
    assert len(_licenses(await _read(client, token), "erin@acme-heating.example")) == 1

    bought = await _change(
        client,
        token,
        f'purchaseLicenses(input: {{contractId: "{JOBS}", '
        "kind: DAILY, quantity: 4}) { purchase { id } userErrors { code } }",
    )
    view = await _read(client, token)
    assert _pool(view, "DAILY")["pending"] == 4
    assert view["contracts"][0]["purchases"]["edges"][0]["node"]["confirmationEmailStatus"] in (
        "QUEUED",
        "SENT",
    )

    # The outbox sender marks the email sent in its own loop: also a change.
    [message] = await _email_marked_sent(smtp)
    edges = (await _read(client, token))["contracts"][0]["purchases"]["edges"]
    assert edges[0]["node"]["confirmationEmailStatus"] == "SENT"

    sign = 'signLicensePurchase(input: {token: $t, signerName: "Olivia Owner"})'
    body = await gql(
        client,
        f"mutation($t: String!) {{ {sign} {{ userErrors {{ code }} }} }}",
        {"t": signature_token(message, settings.public_base_url)},
    )
    assert body["data"]["signLicensePurchase"]["userErrors"] == []
    view = await _read(client, token)
    assert (_pool(view, "DAILY")["total"], _pool(view, "DAILY")["pending"]) == (6, 0)

    again = await _change(
        client,
        token,
        f'purchaseLicenses(input: {{contractId: "{JOBS}", '
        "kind: DAILY, quantity: 1}) { purchase { id } userErrors { code } }",
    )
    await _change(
        client,
        token,
        f"cancelLicensePurchase(input: {{purchaseId: "
        f'"{again["purchase"]["id"]}"}}) {{ userErrors {{ code }} }}',
    )
    assert _pool(await _read(client, token), "DAILY")["pending"] == 0
    assert bought["purchase"]["id"] != again["purchase"]["id"]

    await _change(
        client, token, f'deleteUser(input: {{userId: "{erin}"}}) {{ userErrors {{ code }} }}'
    )
    assert (await _read(client, token))["company"]["users"]["totalCount"] == 3

    # An operator's adjusting load brings Erin back (a plain reload leaves her deleted).
    await load_fixture_text(
        source="f.json", text=fixture_text(), now=settings.clock.now(), adjust=True
    )
    assert (await _read(client, token))["company"]["users"]["totalCount"] == 4


async def test_a_lapsing_purchase_shows_without_any_write(
    client: httpx.AsyncClient, acme: Acme, settings: Settings, smtp: SmtpServer
) -> None:
    token = acme.tokens["owner"]
    await _change(
        client,
        token,
        f'purchaseLicenses(input: {{contractId: "{JOBS}", kind: DAILY, '
        "quantity: 2}) { purchase { id } userErrors { code } }",
    )
    await _email_marked_sent(smtp)  # the outbox's last change, before the cache is filled
    soon = settings.clock.now() + dt.timedelta(seconds=3)  # margin for a slow machine
    await LicensePurchase.all().update(expires_at=soon)  # around the services: no version bump
    assert _pool(await _read(client, token), "DAILY")["pending"] == 2
    with count_sql() as cached:
        assert _pool(await _read(client, token), "DAILY")["pending"] == 2
    assert cached.statements == 2  # answered from the cache: token lookup and rate limit only
    await asyncio.sleep((soon - settings.clock.now()).total_seconds() + 0.05)
    assert _pool(await _read(client, token), "DAILY")["pending"] == 0


async def test_answers_are_per_viewer(client: httpx.AsyncClient, acme: Acme) -> None:
    query = "{ viewer { email } subscription { company { name } } }"
    owner = await gql(client, query, token=acme.tokens["owner"])
    assert owner["data"]["viewer"]["email"] == ACME["owner"]
    finance = await gql(client, query, token=acme.tokens["finance"])
    assert finance["data"]["viewer"]["email"] == ACME["finance"]
    engineer = await gql(client, query, token=acme.tokens["engineer"])
    assert engineer["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_get_requests_get_an_etag_and_304_until_something_changes(
    client: httpx.AsyncClient, acme: Acme
) -> None:
    auth = {"Authorization": f"Bearer {acme.tokens['owner']}"}
    params = {"query": READ}
    first = await client.get("/graphql", params=params, headers=auth)
    etag = first.headers["etag"]
    assert first.status_code == 200
    assert etag.startswith('W/"')
    assert first.headers["cache-control"] == "private, no-cache"

    same = await client.get("/graphql", params=params, headers={**auth, "If-None-Match": etag})
    assert (same.status_code, same.content, same.headers["etag"]) == (304, b"", etag)

    await _change(
        client,
        acme.tokens["owner"],
        f'deleteLicenses(input: {{contractId: "{JOBS}", '
        "kind: DAILY, quantity: 1}) { userErrors { code } }",
    )
    changed = await client.get("/graphql", params=params, headers={**auth, "If-None-Match": etag})
    assert changed.status_code == 200
    assert changed.headers["etag"] != etag
    assert _pool(changed.json()["data"]["subscription"], "DAILY")["total"] == 1

    posted = await client.post(
        "/graphql", json={"query": READ}, headers={**auth, "If-None-Match": etag}
    )
    assert posted.status_code == 200
    assert "etag" not in posted.headers


async def test_a_change_through_one_process_is_seen_by_the_other_on_its_next_read(
    database_url: str, smtp_port: int
) -> None:
    async with orm(database_url):
        now = dt.datetime.now(dt.UTC)
        await load_fixture_text(source="f.json", text=EXAMPLE_FIXTURE.read_text(), now=now)
        token = await create_token(email=ACME["owner"], now=now)
    env = service_env(database_url, smtp_port, RATE_LIMIT_ENABLED="false")
    with Service(env) as first, Service(env) as second:
        await first.until_healthy()
        await second.until_healthy()
        async with (
            httpx.AsyncClient(base_url=first.base_url, timeout=30) as one,
            httpx.AsyncClient(base_url=second.base_url, timeout=30) as other,
        ):
            for _ in range(3):  # both processes cache the answer
                for client in (one, other):
                    assert _pool(await _read(client, token), "MONTHLY")["total"] == 3
            for n in range(2):  # Acme has two unassigned monthly licenses
                writer, reader = (one, other) if n % 2 == 0 else (other, one)
                await _change(
                    writer,
                    token,
                    f'deleteLicenses(input: {{contractId: "{JOBS}", kind: MONTHLY, quantity: 1}}) '
                    "{ userErrors { code } }",
                )
                assert _pool(await _read(reader, token), "MONTHLY")["total"] == 2 - n
