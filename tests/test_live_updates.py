"""Live updates over a real WebSocket against a live `licensing serve`, as a browser has them."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from bench.live import LiveClient, pools
from bench.scrape import total, value
from bench.service import Service, service_env
from bench.smtp import SmtpServer, shown_quote, signature_token
from bench.soak_metrics import scrape_service
from licensing.db import orm
from licensing.settings import Clock
from models.token import ApiToken
from resolvers.ids import encode_id
from services.fixtures import load_fixture_text
from services.live.hub import Hub
from services.protection.tokens import create_token, revoke_token
from tests.conftest import ACME, EXAMPLE_FIXTURE, OTHER_COMPANY, TODAY
from tests.databases import ON_POSTGRES

CLOCK = Clock(pinned_today=TODAY)
JOBS = encode_id("Contract", 1)
ERIN = encode_id("User", 4)
OSCAR = encode_id("User", 3)
BUY = """mutation($c: ID!, $k: LicenseKind!, $q: Int!) { purchaseLicenses(input: {
  contractId: $c, kind: $k, quantity: $q}) { purchase { id } userErrors { code } } }"""
DELETE = """mutation($c: ID!, $q: Int!) { deleteLicenses(input: {contractId: $c, kind: MONTHLY,
  quantity: $q}) { userErrors { code } } }"""
ASSIGN = """mutation($u: ID!, $k: LicenseKind!) { assignLicense(input: {userId: $u,
  product: JOBS, kind: $k}) { userErrors { code } } }"""
DELETE_USER = """mutation($u: ID!) { deleteUser(input: {userId: $u}) { userErrors { code } } }"""
REPORT = """mutation($u: ID!, $on: Date!) { recordLicenseActivity(input: {events: [
  {userId: $u, product: JOBS, kind: LOGIN, on: $on}]}) { newBillableDays userErrors { code } } }"""
EXPIRY = (
    "subscription { licensesChanged { version subscription { contracts { product expiresOn } } } }"
)
VERSION_ONLY = "subscription { licensesChanged { version } }"


async def _prepare(database_url: str, *, other_company: bool = False) -> dict[str, str]:
    """Acme (and Bolt) loaded; a token per role, plus `activity` and `bolt`."""
    async with orm(database_url):
        await load_fixture_text(source="f.json", text=EXAMPLE_FIXTURE.read_text(), now=CLOCK.now())
        tokens = {
            role: await create_token(email=email, now=CLOCK.now()) for role, email in ACME.items()
        }
        tokens["activity"] = await create_token(
            email=ACME["owner"], scopes=["activity:write"], now=CLOCK.now()
        )
        if other_company:
            await load_fixture_text(
                source="o.json", text=json.dumps(OTHER_COMPANY), now=CLOCK.now()
            )
            tokens["bolt"] = await create_token(
                email="barry@bolt-plumbing.example", now=CLOCK.now()
            )
    return tokens


def _env(
    database_url: str, smtp: SmtpServer, today: dt.date = TODAY, **extra: str
) -> dict[str, str]:
    settings = {
        "LICENSING_TODAY": today.isoformat(),
        "OUTBOX_POLL_SECONDS": "0.05",
        "RATE_LIMIT_ENABLED": "false",
    }
    return service_env(database_url, smtp.port, **(settings | extra))


@asynccontextmanager
async def _serving(env: dict[str, str]) -> AsyncIterator[Service]:
    """A live `licensing serve`; once stopped, its log must hold no error."""
    with tempfile.TemporaryDirectory() as folder:
        log = Path(folder) / "serve.log"
        with Service(env, log=log) as service:
            await service.until_healthy()
            yield service
        errors = [line for line in log.read_text().splitlines() if '"level": "ERROR"' in line]
        assert not errors, errors[:3]


async def _post(
    service: Service, query: str, variables: dict[str, Any], token: str
) -> dict[str, Any]:
    async with httpx.AsyncClient(timeout=10) as http:
        response = await http.post(
            f"{service.base_url}/graphql",
            json={"query": query, "variables": variables},
            headers={"Authorization": f"Bearer {token}"},
        )
    body: dict[str, Any] = response.json()
    assert "errors" not in body, body
    data: dict[str, Any] = body["data"]
    return data


async def _until(client: LiveClient, wanted: Any, last: int) -> dict[str, Any]:
    """Events until one shows what is wanted; versions only grow on the way."""
    while True:
        change = await client.change()
        version = int(change["version"])
        assert version > last, (version, last)
        last = version
        if wanted(change):
            return change


async def test_an_event_at_once_then_after_each_kind_of_change(
    database_url: str, smtp: SmtpServer
) -> None:
    tokens = await _prepare(database_url)
    owner = tokens["owner"]
    async with (
        _serving(_env(database_url, smtp)) as service,
        LiveClient.connected(service.base_url, owner) as client,
    ):
        await client.subscribe()
        first = await client.change()
        assert pools(first)["MONTHLY"] == {
            "kind": "MONTHLY",
            "total": 3,
            "assigned": 1,
            "available": 2,
            "pending": 0,
        }
        version = int(first["version"])

        await _post(service, BUY, {"c": JOBS, "k": "MONTHLY", "q": 2}, owner)
        bought = await _until(client, lambda c: pools(c)["MONTHLY"]["pending"] == 2, version)

        [email] = await smtp.wait_for(1)
        sign_url = f"{service.base_url}/sign/{signature_token(email, 'http://licensing.test')}"
        async with httpx.AsyncClient(timeout=10) as http:
            shown = shown_quote((await http.get(sign_url)).text)
            signed = await http.post(
                sign_url, data={"signer_name": "Olivia", "agree": "yes", "shown": shown}
            )
            assert signed.status_code == 200, signed.text
        signed_event = await _until(
            client, lambda c: pools(c)["MONTHLY"]["total"] == 5, int(bought["version"])
        )
        assert pools(signed_event)["MONTHLY"]["pending"] == 0

        await _post(service, DELETE, {"c": JOBS, "q": 1}, owner)
        deleted = await _until(
            client, lambda c: pools(c)["MONTHLY"]["total"] == 4, int(signed_event["version"])
        )

        await _post(service, ASSIGN, {"u": ERIN, "k": "MONTHLY"}, owner)
        assigned = await _until(
            client, lambda c: pools(c)["MONTHLY"]["assigned"] == 2, int(deleted["version"])
        )
        assert pools(assigned)["DAILY"]["assigned"] == 0

        await _post(service, ASSIGN, {"u": ERIN, "k": "DAILY"}, owner)
        back = await _until(
            client, lambda c: pools(c)["DAILY"]["assigned"] == 1, int(assigned["version"])
        )
        report = await _post(
            service, REPORT, {"u": ERIN, "on": TODAY.isoformat()}, tokens["activity"]
        )
        assert report["recordLicenseActivity"]["newBillableDays"] == 1
        await _until(client, lambda c: True, int(back["version"]))


async def test_refused_changes_and_other_companies_send_nothing(
    database_url: str, smtp: SmtpServer
) -> None:
    tokens = await _prepare(database_url, other_company=True)
    owner = tokens["owner"]
    async with (
        _serving(_env(database_url, smtp)) as service,
        LiveClient.connected(service.base_url, owner) as acme,
        LiveClient.connected(service.base_url, tokens["bolt"]) as bolt,
    ):
        await acme.subscribe(VERSION_ONLY)
        await bolt.subscribe(VERSION_ONLY)
        acme_version = int((await acme.change())["version"])
        bolt_version = int((await bolt.change())["version"])

        # Three of three: one is held. The bump it made first in its transaction is undone.
        refused = await _post(service, DELETE, {"c": JOBS, "q": 3}, owner)
        assert refused["deleteLicenses"]["userErrors"][0]["code"] == "LICENSES_ASSIGNED"
        bolt_buys = await _post(
            service,
            BUY,
            {"c": encode_id("Contract", 3), "k": "MONTHLY", "q": 1},
            tokens["bolt"],
        )
        assert bolt_buys["purchaseLicenses"]["userErrors"] == []
        # Bolt hears of its purchase: the change was made and announced...
        assert int((await bolt.change())["version"]) > bolt_version
        # ...and Acme's next event is the one of its own next change, one version on.
        await _post(service, DELETE, {"c": JOBS, "q": 1}, owner)
        assert int((await acme.change())["version"]) == acme_version + 1


async def test_close_codes_and_refusals(database_url: str, smtp: SmtpServer) -> None:
    tokens = await _prepare(database_url)
    env = _env(
        database_url,
        smtp,
        LIVE_INIT_TIMEOUT_SECONDS="0.5",
        LIVE_CONNECTIONS_PER_TOKEN="2",
        LIVE_MAX_MESSAGE_BYTES="4096",
        MAX_QUERY_DEPTH="4",
    )
    async with _serving(env) as service:
        base = service.base_url
        async with LiveClient.opened(base) as silent:
            assert (await silent.closed())[0] == 4408  # no connection_init in time
        for payload in ({}, {"authorization": "Bearer lic_nope"}, {"authorization": "lic_nope"}):
            async with LiveClient.opened(base) as client:
                await client.send({"type": "connection_init", "payload": payload})
                code, reason = await client.closed()
                assert code == 4403, (payload, code)
                assert "token" in (reason or "").lower()

        # Refusals are `error` messages, which graphql-ws hands to the error callback.
        async with LiveClient.connected(base, tokens["engineer"]) as engineer:
            await engineer.subscribe(VERSION_ONLY)
            assert _codes(await engineer.receive()) == ["FORBIDDEN"]
        async with LiveClient.connected(base, tokens["owner"]) as client:
            await client.subscribe()  # five levels deep
            assert _codes(await client.receive()) == ["QUERY_TOO_DEEP"]
            for n in range(10):
                await client.subscribe(VERSION_ONLY, operation_id=f"s{n}")
                await client.change()
            await client.subscribe(VERSION_ONLY, operation_id="one too many")
            assert _codes(await client.receive()) == ["TOO_MANY_SUBSCRIPTIONS"]
            counted = await scrape_service(base)
            assert (
                value(counted, "licensing_graphql_errors_total", code="TOO_MANY_SUBSCRIPTIONS") == 1
            )
            started = {"operation_type": "subscription", "outcome": "ok"}
            assert total(counted, "licensing_graphql_requests_total", **started) >= 10
            await client.subscribe(VERSION_ONLY + " " * 5000, operation_id="big")
            assert (await client.closed())[0] == 1009  # message too big

        subscribe = {"id": "1", "type": "subscribe"}
        for malformed, why in (
            (subscribe | {"payload": {"query": 123}}, "query"),
            (subscribe | {"payload": {"query": VERSION_ONLY, "variables": [1]}}, "variables"),
            (subscribe | {"payload": {"query": VERSION_ONLY, "variables": 0}}, "variables"),
            (subscribe | {"payload": {"query": "subscription { licensesChanged {"}}, "Syntax"),
            (
                subscribe | {"payload": {"query": VERSION_ONLY, "operationName": "Typo"}},
                'Unknown operation named "Typo"',
            ),
            (subscribe | {"id": 7, "payload": {"query": VERSION_ONLY}}, "`id`"),
            ({"type": "complete", "id": []}, "`id`"),
            (1, "JSON object"),
            (None, "JSON object"),
            ([{"type": "ping"}], "JSON object"),
        ):
            async with LiveClient.connected(base, tokens["owner"]) as client:
                await client.socket.send(json.dumps(malformed))
                code, reason = await client.closed()
                assert code == 4400, malformed
                assert why in (reason or ""), (malformed, reason)

        async with LiveClient.connected(base, tokens["owner"]) as client:
            await client.subscribe("{ viewer { name } }")
            error = await client.receive()
            assert error["type"] == "error"
            assert error["payload"][0]["extensions"]["code"] == "OPERATION_NOT_SUPPORTED"
            assert "HTTP" in error["payload"][0]["message"]

        async with httpx.AsyncClient(timeout=10) as http:
            over_http = await http.post(
                f"{base}/graphql",
                json={"query": VERSION_ONLY},
                headers={"Authorization": f"Bearer {tokens['owner']}"},
            )
        assert over_http.status_code == 400
        assert "WebSocket" in over_http.text

        async with (
            LiveClient.connected(base, tokens["finance"]),
            LiveClient.connected(base, tokens["finance"]),
            LiveClient.opened(base) as third,
        ):
            # The key is taken in any case, as HTTP's header is.
            init = {"Authorization": f"Bearer {tokens['finance']}"}
            await third.send({"type": "connection_init", "payload": init})
            code, reason = await third.closed()
            assert code == 1013  # try again later: graphql-ws clients retry it
            assert "2 live connections" in (reason or "")
        # Connections that ended, even cut off mid-subscription, are counted out.
        for _ in range(2):
            async with LiveClient.connected(base, tokens["finance"]) as cut:
                await cut.subscribe(VERSION_ONLY)
                await cut.change()
                cut.socket.transport.abort()
        async with (
            LiveClient.connected(base, tokens["finance"]),
            LiveClient.connected(base, tokens["finance"]),
        ):
            pass


def _codes(message: dict[str, Any]) -> list[str]:
    assert message["type"] == "error", message
    return [error["extensions"]["code"] for error in message["payload"]]


async def test_a_revoked_token_or_deleted_user_is_closed_before_the_next_event(
    database_url: str, smtp: SmtpServer
) -> None:
    tokens = await _prepare(database_url)
    async with orm(database_url):
        # Oscar, OFFICE_STAFF, becomes a FINANCIAL_OFFICE_STAFF who may read licenses.
        from models.user import User

        await User.filter(id=3).update(role="FINANCIAL_OFFICE_STAFF")
    async with (
        _serving(_env(database_url, smtp)) as service,
        LiveClient.connected(service.base_url, tokens["finance"]) as finance,
        LiveClient.connected(service.base_url, tokens["office"]) as office,
    ):
        await finance.subscribe(VERSION_ONLY)
        await office.subscribe(VERSION_ONLY)
        await finance.change()
        await office.change()
        async with orm(database_url):
            token_id = (await ApiToken.get(user__email=ACME["finance"])).id
            await revoke_token(token_id=token_id, now=CLOCK.now())
        code, reason = await finance.closed()
        assert code == 4403
        assert "revoked" in (reason or "")

        await _post(service, DELETE_USER, {"u": OSCAR}, tokens["owner"])
        assert (await office.closed())[0] == 4403


async def test_a_burst_of_changes_reaches_a_reader_that_paused_as_the_newest_version(
    database_url: str, smtp: SmtpServer
) -> None:
    tokens = await _prepare(database_url)
    async with (
        _serving(_env(database_url, smtp, LIVE_CONNECTIONS_PER_TOKEN="50")) as service,
        LiveClient.connected(service.base_url, tokens["owner"]) as client,
    ):
        await client.subscribe(VERSION_ONLY)
        first = int((await client.change())["version"])
        # Not reading meanwhile: 12 changes, 6 at a time.
        for burst in range(2):
            await asyncio.gather(
                *(
                    _post(service, ASSIGN, {"u": ERIN, "k": kind}, tokens["owner"])
                    for kind in ("MONTHLY", "DAILY", "MONTHLY", "DAILY", "MONTHLY", "DAILY")
                ),
                *(_come_and_go(service, tokens["finance"]) for _ in range(4) if burst == 0),
            )
        async with orm(database_url):
            from models.company import Company

            newest = (await Company.get(id=1)).data_version
        assert newest >= first + 12
        seen = [int((await client.change())["version"])]
        while seen[-1] < newest:
            seen.append(int((await client.change())["version"]))
        assert seen == sorted(set(seen))
        assert seen[-1] == newest


async def _come_and_go(service: Service, token: str) -> None:
    """Pages that subscribe thrice and leave before their first events are sent: those
    events go nowhere, and the service's log must hold no error for it (see _serving)."""
    for n in range(8):
        async with LiveClient.connected(service.base_url, token) as page:
            for operation in ("1", "2", "3"):
                await page.subscribe(operation_id=operation)
            if n % 2:
                page.socket.transport.abort()


async def test_each_event_is_paid_from_the_token_bucket_and_changes_merge_while_it_fills(
    database_url: str, smtp: SmtpServer
) -> None:
    tokens = await _prepare(database_url)
    async with orm(database_url):
        changers = [await create_token(email=ACME["owner"], now=CLOCK.now()) for _ in range(3)]
    # The page's selection costs 10: subscribing takes 10 of 25, the first change's event the
    # next 10; the one after waits for 10 more at 2 a second.
    env = _env(
        database_url,
        smtp,
        RATE_LIMIT_ENABLED="true",
        RATE_LIMIT_CAPACITY="25",
        RATE_LIMIT_RESTORE_RATE="2",
    )
    async with (
        _serving(env) as service,
        LiveClient.connected(service.base_url, tokens["owner"]) as client,
    ):
        await client.subscribe()
        first = await client.event()
        assert first["extensions"]["cost"]["requestedQueryCost"] == 10
        assert first["extensions"]["cost"]["actualQueryCost"] == 10
        version = int(first["data"]["licensesChanged"]["version"])
        await _post(service, DELETE, {"c": JOBS, "q": 1}, changers[0])
        assert int((await client.change())["version"]) == version + 1
        await _post(service, DELETE, {"c": JOBS, "q": 1}, changers[1])
        await _post(service, ASSIGN, {"u": ERIN, "k": "CONTRACTED"}, changers[2])
        merged = await client.event()
        assert int(merged["data"]["licensesChanged"]["version"]) == version + 3
        assert merged["extensions"]["cost"]["throttleStatus"]["currentlyAvailable"] < 10


def test_a_watch_keeps_only_the_newest_version() -> None:
    async def scenario() -> list[int]:
        hub = Hub()
        watch = hub.watch(company_id=1, version=5)
        other = hub.watch(company_id=2, version=5)
        for version in range(6, 1_006):
            hub.publish(1, version)
        hub.publish(1, 3)  # older news changes nothing
        got = [await watch.next_version()]
        hub.publish_all({1: 1_005}, resend=True)  # a resync sends the current one again
        got.append(await watch.next_version())
        assert not other.pending()
        hub.unwatch(watch)
        hub.publish(1, 2_000)
        assert not watch.pending()
        assert hub.companies() == [2]
        return got

    assert asyncio.run(scenario()) == [1_005, 1_005]


@pytest.mark.skipif(not ON_POSTGRES, reason="several processes need PostgreSQL")
async def test_a_change_through_one_process_reaches_the_subscribers_of_another(
    database_url: str, smtp: SmtpServer
) -> None:
    tokens = await _prepare(database_url)
    env = _env(database_url, smtp)
    async with (
        _serving(env) as first,
        _serving(env) as second,
        LiveClient.connected(first.base_url, tokens["owner"]) as client,
    ):
        await client.subscribe()
        version = int((await client.change())["version"])
        await _post(second, DELETE, {"c": JOBS, "q": 1}, tokens["owner"])
        change = await client.change(within=1.0)  # the contract: within a second
        assert int(change["version"]) == version + 1
        assert pools(change)["MONTHLY"]["total"] == 2

        # The listeners are cut off; each process listens again and resyncs its subscribers.
        async with orm(database_url):
            from tortoise.connection import get_connection

            await get_connection("default").execute_query(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE application_name = 'licensing-listener'"
            )
        resync = await client.change()
        assert int(resync["version"]) == version + 1
        await _post(second, DELETE, {"c": JOBS, "q": 1}, tokens["owner"])
        assert int((await client.change())["version"]) == version + 2


async def test_a_renewal_made_by_a_later_start_reaches_a_subscriber(
    database_url: str, smtp: SmtpServer
) -> None:
    """The SALES contract renews on 2027-06-01: a process started that day renews it."""
    tokens = await _prepare(database_url)
    async with (
        _serving(_env(database_url, smtp)) as today,
        LiveClient.connected(today.base_url, tokens["owner"]) as client,
    ):
        await client.subscribe(EXPIRY)
        first = await client.change()
        assert _expiry(first, "SALES") == "2027-05-31"
        async with _serving(_env(database_url, smtp, dt.date(2027, 6, 1))):
            await _until(
                client, lambda c: _expiry(c, "SALES") == "2028-05-31", int(first["version"])
            )


def _expiry(change: dict[str, Any], product: str) -> str:
    contracts = change["subscription"]["contracts"]
    return str(next(c["expiresOn"] for c in contracts if c["product"] == product))
