"""Webhook senders' benchmark: how many deliveries a second reach a receiver on loopback.

    python -m bench.webhook_throughput                 # SQLite, 400 events to 4 endpoints
    python -m bench.webhook_throughput --database-url postgres://USER@HOST:PORT/EMPTY_DB
    python -m bench.webhook_throughput --smoke         # seconds: checks that everything works

EVENTS pings are queued for ENDPOINTS endpoints on a real HTTP receiver (uvicorn on loopback,
in this process), then one sender and then two senders (as two service processes would) deliver
them, each delivery claimed with a lease, signed, posted and recorded. The reference, measured
in the same run against the same receiver: the same bodies posted by a bare httpx client, as
many at once, with a new connection each (as the sender makes them) and over kept-alive ones.
"""

from __future__ import annotations

import argparse
import asyncio
import platform
import sys
import tempfile
import time
from pathlib import Path

import httpx

from bench.webhook_receiver import LOOPBACK_CHECK, WebhookReceiver
from licensing import db
from licensing.settings import Clock, Settings
from licensing.webhook_sender import WebhookSender
from models.company import Company
from models.webhook import DeliveryStatus, WebhookDelivery, WebhookEventType
from services.audit import Actor
from services.fixtures import load_fixture_text
from services.webhooks import deliveries, endpoints

CLOCK = Clock()
DEMO_FIXTURE = Path(__file__).resolve().parent.parent / "licensing" / "demo_fixture.json"

NOBODY = Actor(user_id=None, token_id=None)
BODY = b'{"type":"ping","timestamp":"2026-11-26T10:00:00Z","data":{"version":1}}'


async def _queue(receiver: WebhookReceiver, endpoint_count: int, events: int) -> None:
    await WebhookDelivery.all().delete()
    company = await Company.get(email="accounts@acme-heating.example")
    ids = []
    for n in range(endpoint_count):
        endpoint, _ = await endpoints.create_endpoint(
            company_id=company.id,
            url=receiver.url(f"/{n}"),
            event_types=[WebhookEventType.LICENSE_POOL_CHANGED],
            description=None,
            actor=NOBODY,
            now=CLOCK.now(),
            check=LOOPBACK_CHECK,
        )
        ids.append(endpoint.id)
    for n in range(events):
        await deliveries.send_test(
            company_id=company.id,
            endpoint_id=ids[n % endpoint_count],
            actor=NOBODY,
            now=CLOCK.now(),
        )


async def _deliver(settings: Settings, senders: int, events: int) -> float:
    """Seconds for `senders` to deliver every queued event."""
    stop = asyncio.Event()
    started = time.perf_counter()
    running = [asyncio.create_task(WebhookSender(settings).run(stop)) for _ in range(senders)]
    try:
        # The database says when all are recorded: polled, there is no event to wait on.
        while await WebhookDelivery.filter(status=DeliveryStatus.SUCCEEDED).count() < events:  # noqa: ASYNC110
            await asyncio.sleep(0.01)
        return time.perf_counter() - started
    finally:
        stop.set()
        await asyncio.gather(*running)


async def _reference(receiver: WebhookReceiver, events: int, at_once: int, *, reuse: bool) -> float:
    """Seconds for a bare httpx client to post `events` bodies, `at_once` at a time."""
    gate = asyncio.Semaphore(at_once)
    tls = httpx.create_ssl_context()  # made once, as the sender makes it
    shared = httpx.AsyncClient(trust_env=False, verify=tls)

    async def post(n: int) -> None:
        async with gate:
            if reuse:
                await shared.post(receiver.url(f"/ref{n % 4}"), content=BODY)
                return
            async with httpx.AsyncClient(
                trust_env=False, verify=tls, limits=httpx.Limits(max_keepalive_connections=0)
            ) as once:
                await once.post(receiver.url(f"/ref{n % 4}"), content=BODY)

    started = time.perf_counter()
    await asyncio.gather(*(post(n) for n in range(events)))
    await shared.aclose()
    return time.perf_counter() - started


async def run(database_url: str, endpoint_count: int, events: int) -> list[tuple[str, float]]:
    await db.apply_migrations(database_url)
    settings = Settings(
        database_url=database_url,
        webhook_allowed_networks=LOOPBACK_CHECK.policy.allowed_networks,
        webhook_allow_http=True,
        webhook_poll_seconds=0.05,
        clock=CLOCK,
    )
    rows = []
    async with WebhookReceiver() as receiver, db.orm(database_url):
        await load_fixture_text(source="f.json", text=DEMO_FIXTURE.read_text(), now=CLOCK.now())
        for senders in (1, 2):
            await _queue(receiver, endpoint_count, events)
            seconds = await _deliver(settings, senders, events)
            rows.append((f"{senders} sender(s): deliveries/s", events / seconds))
        # As many at once as one sender makes to these endpoints (a quarter of 16 per endpoint).
        at_once = min(16, 4 * endpoint_count)
        for reuse in (False, True):
            seconds = await _reference(receiver, events, at_once, reuse=reuse)
            label = "kept-alive connections" if reuse else "a new connection each"
            rows.append((f"reference, bare httpx, {label}: posts/s", events / seconds))
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", help="default: a fresh SQLite file")
    parser.add_argument("--endpoints", type=int, default=4)
    parser.add_argument("--events", type=int, default=400)
    parser.add_argument("--smoke", action="store_true", help="20 events, to check it works")
    args = parser.parse_args(argv)
    events = 20 if args.smoke else args.events
    database_url = args.database_url or f"sqlite://{tempfile.mkdtemp()}/webhooks.db"
    print(f"webhook throughput: {events} events to {args.endpoints} endpoints, {platform.node()}")
    for label, value in asyncio.run(run(database_url, args.endpoints, events)):
        print(f"{label}: {value:,.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
