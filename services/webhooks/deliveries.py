"""Deliveries: claimed with a lease by the sender of any process, each attempt recorded.

At least once: a delivery is SUCCEEDED only after a 2xx; a sender killed mid-attempt leaves its
lease to run out, and the delivery is attempted again (with the same webhook-id and body).
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections import Counter
from dataclasses import dataclass

from tortoise.expressions import F, Q
from tortoise.transactions import in_transaction

from models.webhook import (
    DeliveryStatus,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
    WebhookEventType,
)
from services import audit, data_version
from services.audit import Actor
from services.errors import NotFound
from services.global_ids import encode_id
from services.purchases.reads import Page, newest_first
from services.webhooks import endpoints, events, schedule

DUE = (DeliveryStatus.PENDING, DeliveryStatus.RETRYING)
# Response bytes kept of an attempt, for the delivery log.
KEPT_RESPONSE_CHARS = 2048


@dataclass(frozen=True)
class Attempt:
    """What one attempt got: an HTTP status (None if no answer), or why it got none."""

    status: int | None
    body: str | None = None
    error: str | None = None
    retry_after: str | None = None

    @property
    def succeeded(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


@dataclass(frozen=True)
class Fairness:
    """What this process has in flight, and how much of it one endpoint and one company may
    hold: a slow endpoint cannot take every slot, nor a company's many endpoints."""

    busy_endpoints: Counter[int]
    busy_companies: Counter[int]
    per_endpoint: int
    per_company: int


def _unleased(now: dt.datetime) -> Q:
    return Q(locked_until__isnull=True) | Q(locked_until__lt=now)


async def claim(
    *, now: dt.datetime, lease: dt.timedelta, limit: int, fairness: Fairness
) -> list[WebhookDelivery]:
    """Up to `limit` due deliveries of enabled endpoints that no sender holds, each won by a
    guarded UPDATE (another process may be claiming the same rows)."""
    query = WebhookDelivery.filter(
        _unleased(now), status__in=DUE, next_attempt_at__lte=now, endpoint__enabled=True
    )
    full = [pk for pk, count in fairness.busy_endpoints.items() if count >= fairness.per_endpoint]
    if full:
        query = query.exclude(endpoint_id__in=full)
    crowded = [pk for pk, count in fairness.busy_companies.items() if count >= fairness.per_company]
    if crowded:
        query = query.exclude(company_id__in=crowded)
    candidates = await query.order_by("next_attempt_at", "id").limit(limit * 4)
    endpoints_held = Counter(fairness.busy_endpoints)
    companies_held = Counter(fairness.busy_companies)
    won: list[WebhookDelivery] = []
    for row in candidates:
        if len(won) == limit:
            break
        if (
            endpoints_held[row.endpoint_id] >= fairness.per_endpoint
            or companies_held[row.company_id] >= fairness.per_company
        ):
            continue
        token = secrets.token_hex(16)
        claimed = await WebhookDelivery.filter(
            _unleased(now), id=row.id, status__in=DUE, next_attempt_at__lte=now
        ).update(locked_until=now + lease, claim_token=token)
        if claimed == 1:
            row.claim_token = token
            won.append(row)
            endpoints_held[row.endpoint_id] += 1
            companies_held[row.company_id] += 1
    return won


async def for_attempt(delivery_id: int) -> WebhookDelivery | None:
    """The delivery with its event and endpoint, or None if its endpoint was deleted."""
    return await WebhookDelivery.filter(id=delivery_id).select_related("event", "endpoint").first()


async def release(delivery: WebhookDelivery) -> None:
    """Give a claimed delivery back untried (its endpoint was disabled meanwhile)."""
    await WebhookDelivery.filter(id=delivery.id, claim_token=delivery.claim_token).update(
        locked_until=None, claim_token=None
    )


def _storable(text: str | None, limit: int) -> str | None:
    """At most `limit` characters, without NUL (PostgreSQL text cannot hold it)."""
    return None if text is None else text[:limit].replace("\x00", "\ufffd")


def _kept(attempt: Attempt) -> dict[str, object]:
    return {
        "last_response_status": attempt.status,
        "last_response_body": _storable(attempt.body, KEPT_RESPONSE_CHARS),
        "last_error": _storable(attempt.error, 500),
    }


async def record(
    delivery: WebhookDelivery, attempt: Attempt, now: dt.datetime, retry_scale: float = 1.0
) -> bool:
    """Record one attempt of the sender that claimed it: success, a retry, or giving up (and
    disabling the endpoint on a 410 or after 5 days of failures). False when its lease was
    lost meanwhile (another sender has it now) or its endpoint was deleted."""
    try:
        async with in_transaction():
            await data_version.changed(delivery.company_id)
            endpoint = await WebhookEndpoint.filter(id=delivery.endpoint_id).first()
            if endpoint is None:
                return False
            values: dict[str, object] = {
                **_kept(attempt),
                "attempts": F("attempts") + 1,
                "last_attempt_at": now,
                "locked_until": None,
                "claim_token": None,
            }
            if attempt.succeeded:
                values.update(status=DeliveryStatus.SUCCEEDED, next_attempt_at=None)
                await WebhookEndpoint.filter(id=endpoint.id).update(failing_since=None)
            else:
                values.update(await _after_failure(delivery, endpoint, attempt, now, retry_scale))
            held = WebhookDelivery.filter(id=delivery.id, claim_token=delivery.claim_token)
            if not await held.update(**values):
                raise _LeaseLost  # undoes what was done to the endpoint above
    except _LeaseLost:
        return False
    return True


class _LeaseLost(Exception):
    """Another sender claimed the delivery since: this attempt is not recorded."""


async def _after_failure(
    delivery: WebhookDelivery,
    endpoint: WebhookEndpoint,
    attempt: Attempt,
    now: dt.datetime,
    retry_scale: float,
) -> dict[str, object]:
    failing_since = endpoint.failing_since or now
    if endpoint.failing_since is None:
        await WebhookEndpoint.filter(id=endpoint.id).update(failing_since=now)
    failure = schedule.Failure(
        status=attempt.status,
        described=f"HTTP {attempt.status}" if attempt.status is not None else str(attempt.error),
        retry_after=attempt.retry_after,
        failed_attempts=delivery.attempts + 1,
        created_at=delivery.created_at,
        failing_since=failing_since,
    )
    verdict = schedule.after_failure(failure, now, retry_scale)
    if verdict.disable_because is not None:
        await endpoints.disable_by_service(endpoint.id, verdict.disable_because, now)
    if verdict.next_attempt_at is None:
        return {"status": DeliveryStatus.FAILED, "next_attempt_at": None}
    return {"status": DeliveryStatus.RETRYING, "next_attempt_at": verdict.next_attempt_at}


async def _audit(delivery: WebhookDelivery, action: str, actor: Actor, now: dt.datetime) -> None:
    await audit.record(
        company_id=delivery.company_id,
        actor=actor,
        action=action,
        subject_type="WebhookDelivery",
        subject_id=delivery.id,
        details={"endpointId": delivery.endpoint_id},
        now=now,
    )


async def send_test(
    *, company_id: int, endpoint_id: int, actor: Actor, now: dt.datetime
) -> WebhookDelivery:
    """A PING to this endpoint alone (sent once the endpoint is enabled)."""
    async with in_transaction():
        await data_version.changed(company_id)
        endpoint = await endpoints.endpoint_of_company(
            company_id=company_id, endpoint_id=endpoint_id
        )
        event = await events.write_event(
            company_id=company_id,
            event_type=WebhookEventType.PING,
            data={"endpointId": encode_id("WebhookEndpoint", endpoint.id)},
            now=now,
        )
        delivery = events.delivery_of(event, endpoint.id, now)
        await delivery.save()
        await _audit(delivery, "webhook.test_sent", actor, now)
    return await WebhookDelivery.filter(id=delivery.id).select_related("event").get()


async def delivery_of_company(*, company_id: int, delivery_id: int) -> WebhookDelivery:
    delivery = await WebhookDelivery.filter(id=delivery_id, company_id=company_id).first()
    if delivery is None:
        raise NotFound("No webhook delivery has this id.", field="deliveryId")
    return delivery


async def redeliver(
    *, company_id: int, delivery_id: int, actor: Actor, now: dt.datetime
) -> WebhookDelivery:
    """A new delivery of the same event (same webhook-id and body) to the same endpoint; the one
    already waiting, if there is one (asking twice queues it once)."""
    async with in_transaction():
        await data_version.changed(company_id)
        earlier = await delivery_of_company(company_id=company_id, delivery_id=delivery_id)
        waiting = await WebhookDelivery.filter(
            event_id=earlier.event_id, endpoint_id=earlier.endpoint_id, status__in=DUE
        ).first()
        if waiting is not None:
            return await WebhookDelivery.filter(id=waiting.id).select_related("event").get()
        event = await WebhookEvent.get(id=earlier.event_id)
        delivery = events.delivery_of(event, earlier.endpoint_id, now)
        await delivery.save()
        await _audit(delivery, "webhook.redelivered", actor, now)
    return await WebhookDelivery.filter(id=delivery.id).select_related("event").get()


async def deliveries_page(
    *, endpoint_id: int, first: int, before_id: int | None, status: DeliveryStatus | None
) -> Page[WebhookDelivery]:
    query = WebhookDelivery.filter(endpoint_id=endpoint_id).select_related("event")
    if status is not None:
        query = query.filter(status=status)
    return await newest_first(query, first=first, before_id=before_id)


async def deliveries_by_ids(company_id: int, ids: list[int]) -> list[WebhookDelivery]:
    return await WebhookDelivery.filter(id__in=ids, company_id=company_id).select_related("event")


async def forget_finished(before: dt.datetime) -> int:
    """Delete deliveries finished before `before`, and the events left without any."""
    done = (DeliveryStatus.SUCCEEDED, DeliveryStatus.FAILED)
    forgotten = await WebhookDelivery.filter(status__in=done, created_at__lt=before).delete()
    orphans = await WebhookEvent.filter(
        created_at__lt=before, deliveries__id__isnull=True
    ).values_list("id", flat=True)
    for start in range(0, len(orphans), 500):
        await WebhookEvent.filter(id__in=list(orphans[start : start + 500])).delete()
    return forgotten
