"""The soak's partner integration: two webhook endpoints on a real receiver, one of them flaky,
and the checks that every event of the load reached both, signed, with the right counts."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import random
import time
from collections import Counter
from typing import Any

from standardwebhooks import Webhook

from bench.soak_check import Baseline, Report
from bench.webhook_receiver import LOOPBACK_CHECK, Received, Reply, WebhookReceiver
from models.audit import AuditEvent
from models.contract import LicensePool
from models.webhook import DeliveryStatus, WebhookDelivery, WebhookEventType
from resolvers.ids import decode_id
from services.audit import Actor
from services.webhooks import endpoints

PATHS = ("/steady", "/flaky")
FLAKY_SHARE = 0.3  # of the flaky endpoint's first attempts, 503s asking to retry in a second
ENV = {
    "WEBHOOK_ALLOWED_CIDRS": "127.0.0.0/8",
    "WEBHOOK_ALLOW_HTTP": "true",
    "WEBHOOK_POLL_SECONDS": "0.1",
    "WEBHOOK_LEASE_SECONDS": "20",
    "WEBHOOK_RETRY_SCALE": "0.1",  # retries after about 0.5 s, 3 s, 12 s...
}
# Events that match one audit action each.
MATCHING_ACTIONS = {
    "license_purchase.created": "purchase.requested",
    "license_purchase.confirmed": "purchase.confirmed",
    "license_purchase.cancelled": "purchase.cancelled",
}


def flaky_receiver(seed: int) -> WebhookReceiver:
    """The flaky endpoint answers the first attempt of some events with a 503: retried once,
    each then arrives within the settling time whatever the seed."""
    chance = random.Random(seed)  # noqa: S311 - a fault mix, not a secret
    refused: set[str] = set()

    def answer(path: str, event_id: str) -> Reply:
        if path == "/flaky" and event_id not in refused and chance.random() < FLAKY_SHARE:
            refused.add(event_id)
            return Reply(503, {"Retry-After": "1"})
        return Reply()

    return WebhookReceiver(answer)


async def register(company_id: int, receiver: WebhookReceiver, now: dt.datetime) -> dict[str, str]:
    """An endpoint per path for every event type; their secrets by path."""
    secrets = {}
    for path in PATHS:
        _, secrets[path] = await endpoints.create_endpoint(
            company_id=company_id,
            url=receiver.url(path),
            event_types=[t for t in WebhookEventType if t != WebhookEventType.PING],
            description=f"soak {path}",
            actor=Actor(user_id=None, token_id=None),
            now=now,
            check=LOOPBACK_CHECK,
        )
    return secrets


async def settle(within: float) -> float:
    """Until no delivery waits for an attempt."""
    started = time.monotonic()
    due = (DeliveryStatus.PENDING, DeliveryStatus.RETRYING)
    while time.monotonic() - started < within:
        if not await WebhookDelivery.filter(status__in=due).exists():
            break
        await asyncio.sleep(0.2)
    return time.monotonic() - started


def _signed_by(received: Received, secret: str) -> bool:
    """Checked with the stock library's signer, at the timestamp the request carried (the
    verifier's 5-minute tolerance would refuse a long soak's early requests afterwards)."""
    headers = received.headers
    moment = dt.datetime.fromtimestamp(int(headers["webhook-timestamp"]), dt.UTC)
    expected = Webhook(secret).sign(headers["webhook-id"], moment, received.body.decode())
    return expected in headers["webhook-signature"].split(" ")


async def check_webhooks(
    before: Baseline,
    receiver: WebhookReceiver,
    secrets: dict[str, str],
    kills: int,
    report: Report,
) -> None:
    rows = await WebhookDelivery.all().select_related("event", "endpoint")
    statuses = Counter(str(row.status) for row in rows)
    report.figures["webhook deliveries"] = dict(statuses)
    report.figures["webhook requests"] = len(receiver.received)
    report.figures["webhook requests answered 503"] = sum(
        1 for each in receiver.received if each.status == 503
    )
    report.check(
        "webhooks: every delivery succeeded",
        set(statuses) == {"SUCCEEDED"},
        json.dumps(statuses),
    )
    answered = Counter(
        (each.path, each.event_id) for each in receiver.received if each.status == 200
    )
    missing = [row.id for row in rows if (_path(row), row.event.event_id) not in answered]
    report.check(
        "webhooks: each event reached each endpoint", not missing, f"missing {missing[:5]}"
    )
    twice = sum(1 for count in answered.values() if count > 1)
    report.figures["webhook events answered twice"] = twice
    report.check(
        "webhooks: none answered twice unless a worker was killed mid-delivery",
        twice == 0 or kills > 0,
        f"{twice} twice, {kills} kills",
    )
    unsigned = [r for r in receiver.received if not _signed_by(r, secrets[r.path])]
    report.check("webhooks: every request carries a valid signature", not unsigned)
    bodies = {row.event.event_id: json.loads(row.event.body) for row in rows}
    await _check_counts(before, list(bodies.values()), report)
    await _check_newest_pools(list(bodies.values()), report)


def _path(row: WebhookDelivery) -> str:
    return "/" + row.endpoint.url.rsplit("/", 1)[1]


async def _check_counts(before: Baseline, bodies: list[dict[str, Any]], report: Report) -> None:
    types = Counter(body["type"] for body in bodies)
    report.figures["webhook events"] = dict(types)
    audited = await AuditEvent.filter(id__gt=before.last_event_id).values_list("action", "id")
    actions: Counter[str] = Counter(str(action) for action, _ in audited)
    wrong = {
        event: (types[event], actions[action])
        for event, action in MATCHING_ACTIONS.items()
        if types[event] != actions[action]
    }
    report.check("webhooks: one purchase event per audited purchase change", not wrong, str(wrong))


async def _check_newest_pools(bodies: list[dict[str, Any]], report: Report) -> None:
    """The newest license_pool.changed of each pool shows the pool as it is now."""
    newest: dict[str, tuple[int, dict[str, Any]]] = {}
    for body in bodies:
        if body["type"] != "license_pool.changed":
            continue
        version = body["data"]["version"]
        for pool in body["data"]["pools"]:
            if pool["id"] not in newest or newest[pool["id"]][0] < version:
                newest[pool["id"]] = (version, pool)
    pools = {pool.id: pool for pool in await LicensePool.all()}
    wrong = []
    for global_id, (_, shown) in newest.items():
        pool = pools[_pk(global_id)]
        if (shown["total"], shown["assigned"]) != (pool.total, pool.assigned):
            wrong.append((global_id, shown["total"], shown["assigned"], pool.total, pool.assigned))
    report.check(
        "webhooks: each pool's newest event shows its final counts",
        bool(newest) and not wrong,
        f"{len(newest)} pools, wrong: {wrong[:3]}",
    )


def _pk(global_id: str) -> int:
    pk = decode_id(global_id, "LicensePool")
    assert pk is not None, global_id
    return pk
