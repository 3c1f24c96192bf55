"""Webhook senders side by side and killed mid-delivery: each event still goes out, once while
the senders live, again (same webhook-id) only after a killed sender's lease runs out."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import os
import signal
import tempfile
from collections import Counter
from pathlib import Path

import httpx
import trustme

from bench.service import Service, service_env
from bench.smtp import SmtpServer
from bench.webhook_receiver import LOOPBACK_CHECK, Reply, WebhookReceiver
from licensing.db import orm
from licensing.settings import Clock
from licensing.webhook_sender import WebhookSender
from models.company import Company
from models.webhook import DeliveryStatus, WebhookDelivery, WebhookEvent, WebhookEventType
from resolvers.ids import encode_id
from services.audit import Actor
from services.fixtures import load_fixture_text
from services.protection.tokens import create_token
from services.webhooks import deliveries, endpoints
from services.webhooks.deliveries import Attempt
from services.webhooks.endpoints import UrlCheck
from tests.conftest import ACME, EXAMPLE_FIXTURE, TODAY
from tests.test_webhooks import PING, webhook_settings

CLOCK = Clock(pinned_today=TODAY)
NOBODY = Actor(user_id=None, token_id=None)


async def _acme() -> int:
    await load_fixture_text(source="f.json", text=EXAMPLE_FIXTURE.read_text(), now=CLOCK.now())
    return (await Company.get(email="accounts@acme-heating.example")).id


async def _endpoint(company_id: int, url: str) -> int:
    endpoint, _ = await endpoints.create_endpoint(
        company_id=company_id,
        url=url,
        event_types=[WebhookEventType.LICENSE_POOL_CHANGED],
        description=None,
        actor=NOBODY,
        now=CLOCK.now(),
        check=LOOPBACK_CHECK,
    )
    return endpoint.id


async def _all_succeeded(count: int, within: float = 60.0) -> None:
    deadline = asyncio.get_running_loop().time() + within
    while await WebhookDelivery.filter(status=DeliveryStatus.SUCCEEDED).count() < count:
        assert asyncio.get_running_loop().time() < deadline, "not every delivery was recorded"
        await asyncio.sleep(0.05)


async def test_two_senders_deliver_each_of_200_events_once(
    database_url: str, smtp: SmtpServer
) -> None:
    settings = webhook_settings(database_url, smtp)
    async with WebhookReceiver() as receiver, orm(database_url):
        company_id = await _acme()
        endpoint_ids = [await _endpoint(company_id, receiver.url(f"/{n}")) for n in range(4)]
        for n in range(200):
            await deliveries.send_test(
                company_id=company_id,
                endpoint_id=endpoint_ids[n % 4],
                actor=NOBODY,
                now=CLOCK.now(),
            )
        stop = asyncio.Event()
        senders = [WebhookSender(settings) for _ in range(2)]
        running = [asyncio.create_task(sender.run(stop)) for sender in senders]
        try:
            await _all_succeeded(200)
        finally:
            stop.set()
            await asyncio.gather(*running)
        arrived = Counter((each.path, each.event_id) for each in receiver.received)
        assert len(arrived) == 200
        assert set(arrived.values()) == {1}
        rows = await WebhookDelivery.all().values_list("status", "attempts")
        assert rows == [(DeliveryStatus.SUCCEEDED, 1)] * 200


async def _ping(service: Service, token: str, endpoint_id: str) -> str:
    async with httpx.AsyncClient(timeout=10) as http:
        response = await http.post(
            f"{service.base_url}/graphql",
            json={"query": PING, "variables": {"id": endpoint_id}},
            headers={"Authorization": f"Bearer {token}"},
        )
    event_id: str = response.json()["data"]["sendTestWebhook"]["delivery"]["eventId"]
    return event_id


async def test_a_sender_killed_mid_delivery_leaves_it_to_the_next_one(
    database_url: str, smtp: SmtpServer
) -> None:
    async with orm(database_url):
        await _acme()
        token = await create_token(email=ACME["owner"], now=CLOCK.now())
    env = service_env(
        database_url,
        smtp.port,
        LICENSING_TODAY=TODAY.isoformat(),
        WEBHOOK_ALLOWED_CIDRS="127.0.0.0/8",
        WEBHOOK_ALLOW_HTTP="true",
        WEBHOOK_POLL_SECONDS="0.05",
        WEBHOOK_TIMEOUT_SECONDS="1",
        WEBHOOK_LEASE_SECONDS="7",  # the shortest a 1 s attempt allows
    )
    async with WebhookReceiver() as receiver:
        receiver.plan("/hooks", Reply(hang=True))
        async with orm(database_url):
            company_id = (await Company.get(email="accounts@acme-heating.example")).id
            endpoint_id = await _endpoint(company_id, receiver.url())
        global_id = encode_id("WebhookEndpoint", endpoint_id)
        with tempfile.TemporaryDirectory() as folder:
            log = Path(folder) / "serve.log"
            with Service(env, log=log) as first:
                await first.until_healthy()
                event_id = await _ping(first, token, global_id)
                await receiver.wait_for(1)
                os.kill(first.pid, signal.SIGKILL)
            with Service(env, log=log) as second:
                await second.until_healthy()
                retried = await receiver.wait_for(2, within=30)
                async with orm(database_url):
                    await _all_succeeded(1)
                    row = await WebhookDelivery.get()
    assert [each.event_id for each in retried] == [event_id, event_id]
    assert retried[0].body == retried[1].body
    assert row.attempts == 1  # the killed attempt was never recorded


async def _one_delivery(company_id: int, receiver: WebhookReceiver) -> WebhookDelivery:
    endpoint_id = await _endpoint(company_id, receiver.url())
    return await deliveries.send_test(
        company_id=company_id, endpoint_id=endpoint_id, actor=NOBODY, now=CLOCK.now()
    )


async def test_only_the_sender_holding_the_lease_records_its_attempt(database_url: str) -> None:
    lease = dt.timedelta(seconds=30)
    async with WebhookReceiver() as receiver, orm(database_url):
        made = await _one_delivery(await _acme(), receiver)
        fair = deliveries.Fairness(Counter(), Counter(), per_endpoint=4, per_company=8)
        (first,) = await deliveries.claim(now=CLOCK.now(), lease=lease, limit=1, fairness=fair)
        # Its lease ran out and a second sender claimed it: the first's late answer is dropped.
        later = CLOCK.now() + lease + dt.timedelta(seconds=1)
        (second,) = await deliveries.claim(now=later, lease=lease, limit=1, fairness=fair)
        assert first.id == second.id == made.id
        assert first.claim_token != second.claim_token
        assert not await deliveries.record(first, Attempt(status=500), later)
        assert await deliveries.record(second, Attempt(status=200), later)
        row = await WebhookDelivery.get(id=made.id)
        assert (row.status, row.attempts, row.last_response_status) == ("SUCCEEDED", 1, 200)


async def test_asking_twice_to_redeliver_queues_one_delivery(database_url: str) -> None:
    async with WebhookReceiver() as receiver, orm(database_url):
        company_id = await _acme()
        made = await _one_delivery(company_id, receiver)
        await WebhookDelivery.filter(id=made.id).update(status=DeliveryStatus.FAILED)
        again = [
            await deliveries.redeliver(
                company_id=company_id, delivery_id=made.id, actor=NOBODY, now=CLOCK.now()
            )
            for _ in range(2)
        ]
        assert again[0].id == again[1].id != made.id
        assert again[0].event.event_id == made.event.event_id
        assert await WebhookDelivery.all().count() == 2


async def test_finished_deliveries_are_forgotten_after_30_days(database_url: str) -> None:
    async with WebhookReceiver() as receiver, orm(database_url):
        company_id = await _acme()
        old, waiting, recent = [await _one_delivery(company_id, receiver) for _ in range(3)]
        month_ago = CLOCK.now() - dt.timedelta(days=31)
        await WebhookDelivery.filter(id__in=[old.id, waiting.id]).update(created_at=month_ago)
        await WebhookEvent.filter(id__in=[old.event_id, waiting.event_id]).update(
            created_at=month_ago
        )
        await WebhookDelivery.filter(id__in=[old.id, recent.id]).update(
            status=DeliveryStatus.SUCCEEDED
        )
        assert await deliveries.forget_finished(CLOCK.now() - dt.timedelta(days=30)) == 1
        kept = await WebhookDelivery.all().order_by("id").values_list("id", "status")
        assert [pk for pk, _ in kept] == [waiting.id, recent.id]
        assert not await WebhookEvent.filter(id=old.event_id).exists()


async def test_the_connection_goes_to_the_checked_address_with_the_original_host(
    database_url: str, smtp: SmtpServer
) -> None:
    """A name resolved by the sender itself (injected: no DNS), the request sent to that
    address, the Host header still the URL's name."""

    async def resolve(host: str, port: int) -> list[str]:
        assert host == "partner.test"
        return ["127.0.0.1"]

    settings = webhook_settings(database_url, smtp)
    async with WebhookReceiver() as receiver, orm(database_url):
        company_id = await _acme()
        check = UrlCheck(policy=LOOPBACK_CHECK.policy, resolver=resolve)
        endpoint, _ = await endpoints.create_endpoint(
            company_id=company_id,
            url=f"http://partner.test:{receiver.port}/hooks",
            event_types=[WebhookEventType.LICENSE_POOL_CHANGED],
            description=None,
            actor=NOBODY,
            now=CLOCK.now(),
            check=check,
        )
        await deliveries.send_test(
            company_id=company_id, endpoint_id=endpoint.id, actor=NOBODY, now=CLOCK.now()
        )
        stop = asyncio.Event()
        sending = asyncio.create_task(WebhookSender(settings, resolver=resolve).run(stop))
        try:
            (received,) = await receiver.wait_for(1)
            await _all_succeeded(1)
        finally:
            stop.set()
            await sending
    assert received.headers["host"] == f"partner.test:{receiver.port}"


async def test_tls_is_checked_for_the_url_name_on_the_checked_address(
    database_url: str, smtp: SmtpServer, tmp_path: Path
) -> None:
    """HTTPS to a name the sender resolves to loopback (injected: no DNS): the certificate is
    checked against the URL's name, not the address connected to."""
    authority = trustme.CA()
    issued = authority.issue_cert("partner.test")
    certificate, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    issued.cert_chain_pems[0].write_to_path(str(certificate))
    issued.private_key_pem.write_to_path(str(key))

    async def resolve(host: str, port: int) -> list[str]:
        return ["127.0.0.1"]

    settings = dataclasses.replace(webhook_settings(database_url, smtp), webhook_allow_http=False)
    check = UrlCheck(
        policy=dataclasses.replace(LOOPBACK_CHECK.policy, allow_http=False), resolver=resolve
    )
    async with WebhookReceiver(tls=(certificate, key)) as receiver, orm(database_url):
        company_id = await _acme()
        made = {}
        for name in ("partner.test", "impostor.test"):
            endpoint, _ = await endpoints.create_endpoint(
                company_id=company_id,
                url=receiver.url("/hooks", host=name),
                event_types=[WebhookEventType.LICENSE_POOL_CHANGED],
                description=None,
                actor=NOBODY,
                now=CLOCK.now(),
                check=check,
            )
            made[name] = await deliveries.send_test(
                company_id=company_id, endpoint_id=endpoint.id, actor=NOBODY, now=CLOCK.now()
            )
        sender = WebhookSender(settings, resolver=resolve)
        authority.configure_trust(sender.tls)
        stop = asyncio.Event()
        sending = asyncio.create_task(sender.run(stop))
        try:
            (received,) = await receiver.wait_for(1)
            await _all_succeeded(1)
            refused = made["impostor.test"].id
            deadline = asyncio.get_running_loop().time() + 30
            while not await WebhookDelivery.filter(id=refused, attempts=1).exists():
                assert asyncio.get_running_loop().time() < deadline, "never attempted"
                await asyncio.sleep(0.02)
        finally:
            stop.set()
            await sending
        impostor = await WebhookDelivery.get(id=refused)
    assert received.headers["host"] == f"partner.test:{receiver.port}"
    assert impostor.status == DeliveryStatus.RETRYING
    assert impostor.last_response_status is None
    assert impostor.last_error is not None
    assert "CERTIFICATE_VERIFY_FAILED" in impostor.last_error
