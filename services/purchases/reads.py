"""Reads of purchases: pending counts, the purchases and events of a contract, email status."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from tortoise.functions import Sum
from tortoise.models import Model
from tortoise.queryset import QuerySet

from models.audit import AuditEvent
from models.purchase import LicensePurchase, OutboxEmail, PurchaseStatus

M = TypeVar("M", bound=Model)


@dataclass(frozen=True)
class Page(Generic[M]):
    rows: list[M]
    has_next_page: bool
    total_count: int


async def newest_first(query: QuerySet[M], *, first: int, before_id: int | None) -> Page[M]:
    """Keyset paging by descending id: `before_id` is the last id of the previous page."""
    total = await query.count()
    if before_id is not None:
        query = query.filter(id__lt=before_id)
    rows = await query.order_by("-id").limit(first + 1)
    return Page(rows=rows[:first], has_next_page=len(rows) > first, total_count=total)


def _with_status(
    query: QuerySet[LicensePurchase], status: str, now: dt.datetime
) -> QuerySet[LicensePurchase]:
    if status == "EXPIRED":
        return query.filter(status=PurchaseStatus.PENDING_SIGNATURE, expires_at__lte=now)
    if status == PurchaseStatus.PENDING_SIGNATURE:
        return query.filter(status=status, expires_at__gt=now)
    return query.filter(status=status)


async def purchases_page(
    *, contract_id: int, first: int, before_id: int | None, status: str | None, now: dt.datetime
) -> Page[LicensePurchase]:
    query = LicensePurchase.filter(contract_id=contract_id)
    if status is not None:
        query = _with_status(query, status, now)
    return await newest_first(query, first=first, before_id=before_id)


async def events_page(*, contract_id: int, first: int, before_id: int | None) -> Page[AuditEvent]:
    return await newest_first(
        AuditEvent.filter(contract_id=contract_id), first=first, before_id=before_id
    )


async def pending_by_pool(pool_ids: Sequence[int], now: dt.datetime) -> dict[int, int]:
    """Licenses in purchases still awaiting a signature (expired ones no longer count)."""
    rows = (
        await LicensePurchase.filter(
            pool_id__in=list(pool_ids),
            status=PurchaseStatus.PENDING_SIGNATURE,
            expires_at__gt=now,
        )
        .annotate(pending=Sum("quantity"))
        .group_by("pool_id")
        .values_list("pool_id", "pending")
    )
    return {int(pool_id): int(pending) for pool_id, pending in rows}


async def purchases_by_ids(company_id: int, ids: Sequence[int]) -> list[LicensePurchase]:
    return await LicensePurchase.filter(id__in=list(ids), company_id=company_id)


async def latest_emails(purchase_ids: Sequence[int]) -> dict[int, OutboxEmail]:
    """The newest confirmation email of each purchase."""
    latest: dict[int, OutboxEmail] = {}
    for email in await OutboxEmail.filter(purchase_id__in=list(purchase_ids)).order_by("id"):
        latest[email.purchase_id] = email
    return latest


async def next_lapse(*, company_id: int, now: dt.datetime) -> dt.datetime | None:
    """When the company's next pending purchase lapses: its reads change then, with no write."""
    purchase = (
        await LicensePurchase.filter(
            company_id=company_id, status=PurchaseStatus.PENDING_SIGNATURE, expires_at__gt=now
        )
        .order_by("expires_at")
        .only("id", "expires_at")
        .first()
    )
    return purchase.expires_at if purchase else None
