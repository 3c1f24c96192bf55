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
from models.outbox import OutboxEmail
from models.purchase import LicensePurchase, PurchaseStatus
from services import sql

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
    """The newest email of each purchase (its confirmation, or a reminder)."""
    latest: dict[int, OutboxEmail] = {}
    for email in await OutboxEmail.filter(purchase_id__in=list(purchase_ids)).order_by("id"):
        if email.purchase_id is not None:
            latest[email.purchase_id] = email
    return latest


# Pending purchases and renewal changes lapse with no write at all: the company's reads change then.
_NEXT_LAPSE = """
SELECT MIN(expires_at) FROM (
  SELECT expires_at FROM license_purchase WHERE company_id = ? AND status = ? AND expires_at > ?
  UNION ALL
  SELECT expires_at FROM renewal_change WHERE company_id = ? AND status = ? AND expires_at > ?
) pending
"""


async def next_lapse(*, company_id: int, now: dt.datetime) -> dt.datetime | None:
    """When the company's next pending purchase or renewal change lapses."""
    pending = PurchaseStatus.PENDING_SIGNATURE.value
    params = (company_id, pending, now, company_id, pending, now)
    [(moment,)] = await sql.fetch(_NEXT_LAPSE, params)
    return sql.as_optional_datetime(moment)
