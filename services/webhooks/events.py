"""Webhook events, written in the transaction of the change they report.

Call these inside that transaction, after `data_version.changed`: a rolled-back change then
leaves no event, and `data.version` is the version the change made. A company without an
endpoint for the event's type pays one small query. `data` holds global ids, statuses and
counts only: never names, emails or IP addresses.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

import orjson

from models.company import Company
from models.contract import LicensePool
from models.enums import Product
from models.purchase import LicensePurchase
from models.renewal import RenewalChange
from models.webhook import (
    DeliveryStatus,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
    WebhookEventType,
)
from services.global_ids import encode_id
from services.webhooks.signing import new_event_id

Data = dict[str, Any]


async def _subscribed(company_id: int, event_type: WebhookEventType) -> list[int]:
    rows = await WebhookEndpoint.filter(company_id=company_id, enabled=True).values_list(
        "id", "event_types"
    )
    return [int(pk) for pk, types in rows if event_type.value in types]


def timestamp_of(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


async def write_event(
    *, company_id: int, event_type: WebhookEventType, data: Data, now: dt.datetime
) -> WebhookEvent:
    """The event with its body, serialized once (every attempt sends these bytes)."""
    company = await Company.filter(id=company_id).only("id", "data_version").get()
    body = {
        "type": event_type.wire_name,
        "timestamp": timestamp_of(now),
        "data": {**data, "version": company.data_version},
    }
    return await WebhookEvent.create(
        company_id=company_id,
        event_id=new_event_id(),
        event_type=event_type,
        body=orjson.dumps(body).decode(),
        created_at=now,
    )


def delivery_of(event: WebhookEvent, endpoint_id: int, now: dt.datetime) -> WebhookDelivery:
    return WebhookDelivery(
        event_id=event.id,
        endpoint_id=endpoint_id,
        company_id=event.company_id,
        status=DeliveryStatus.PENDING,
        next_attempt_at=now,
        created_at=now,
    )


async def queue(event: WebhookEvent, endpoint_ids: Iterable[int], now: dt.datetime) -> None:
    await WebhookDelivery.bulk_create(
        [delivery_of(event, endpoint_id, now) for endpoint_id in endpoint_ids]
    )


async def emit(
    *, company_id: int, event_type: WebhookEventType, data: Data, now: dt.datetime
) -> None:
    endpoint_ids = await _subscribed(company_id, event_type)
    if endpoint_ids:
        await _emit_to(endpoint_ids, company_id, event_type, data, now)


async def _emit_to(
    endpoint_ids: list[int],
    company_id: int,
    event_type: WebhookEventType,
    data: Data,
    now: dt.datetime,
) -> None:
    """The event and its deliveries, for a caller that has looked its endpoints up already."""
    event = await write_event(company_id=company_id, event_type=event_type, data=data, now=now)
    await queue(event, endpoint_ids, now)


def _pool_data(pool: LicensePool) -> Data:
    return {
        "id": encode_id("LicensePool", pool.id),
        "contractId": encode_id("Contract", pool.contract_id),
        "productSection": str(pool.contract.product),
        "kind": str(pool.kind),
        "total": pool.total,
        "assigned": pool.assigned,
        "available": max(pool.total - pool.assigned, 0),
    }


async def pools_changed(company_id: int, pool_ids: Iterable[int], now: dt.datetime) -> None:
    """license_pool.changed: the pools as the change left them."""
    event_type = WebhookEventType.LICENSE_POOL_CHANGED
    ids = sorted(set(pool_ids))
    endpoint_ids = await _subscribed(company_id, event_type) if ids else []
    if not endpoint_ids:
        return
    pools = await LicensePool.filter(id__in=ids).select_related("contract").order_by("id")
    data = {"pools": [_pool_data(pool) for pool in pools]}
    await _emit_to(endpoint_ids, company_id, event_type, data, now)


async def purchase_event(
    purchase: LicensePurchase, event_type: WebhookEventType, status: str, now: dt.datetime
) -> None:
    """license_purchase.created, .confirmed, .cancelled or .expired."""
    data = {
        "purchaseId": encode_id("LicensePurchase", purchase.id),
        "contractId": encode_id("Contract", purchase.contract_id),
        "productSection": str(purchase.product),
        "kind": str(purchase.kind),
        "quantity": purchase.quantity,
        "status": status,
    }
    await emit(company_id=purchase.company_id, event_type=event_type, data=data, now=now)


async def user_license_changed(
    *,
    company_id: int,
    user_id: int,
    product: Product,
    pool_id: int | None,
    previous_pool_id: int | None,
    now: dt.datetime,
    user_deleted: bool = False,
) -> None:
    """user_license.changed: the license kind a user holds for a product now (null: none) and
    before."""
    event_type = WebhookEventType.USER_LICENSE_CHANGED
    endpoint_ids = await _subscribed(company_id, event_type)
    if not endpoint_ids:
        return
    ids = [pk for pk in (pool_id, previous_pool_id) if pk is not None]
    kinds = dict(await LicensePool.filter(id__in=ids).values_list("id", "kind"))
    data = {
        "userId": encode_id("User", user_id),
        "productSection": str(product),
        "kind": None if pool_id is None else str(kinds[pool_id]),
        "previousKind": None if previous_pool_id is None else str(kinds[previous_pool_id]),
        "userDeleted": user_deleted,
    }
    await _emit_to(endpoint_ids, company_id, event_type, data, now)


async def renewal_change_scheduled(change: RenewalChange, now: dt.datetime) -> None:
    data = {
        "renewalChangeId": encode_id("RenewalChange", change.id),
        "contractId": encode_id("Contract", change.contract_id),
        "contractedLicenses": change.contracted_licenses,
        "renewsOn": (change.term_expires_on + dt.timedelta(days=1)).isoformat(),
        "status": "SCHEDULED",
    }
    event_type = WebhookEventType.RENEWAL_CHANGE_SCHEDULED
    await emit(company_id=change.company_id, event_type=event_type, data=data, now=now)


async def contract_renewed(
    *,
    company_id: int,
    contract_id: int,
    term: int,
    starts_on: dt.date,
    expires_on: dt.date,
    contracted_licenses: int,
    now: dt.datetime,
) -> None:
    data = {
        "contractId": encode_id("Contract", contract_id),
        "term": term,
        "startsOn": starts_on.isoformat(),
        "expiresOn": expires_on.isoformat(),
        "contractedLicenses": contracted_licenses,
    }
    event_type = WebhookEventType.CONTRACT_RENEWED
    await emit(company_id=company_id, event_type=event_type, data=data, now=now)
