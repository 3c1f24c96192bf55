"""Reads of a company's contracts, pools, storage and documents, always scoped by company.

The Licenses page reads these on every uncached load: plain SQL through services/sql.py into
frozen views, a statement per kind of row for the whole company (a company has a contract per
product, two at most).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from models.contract import Contract
from models.enums import KIND_ORDER, PRODUCT_ORDER, LicenseKind, Product
from models.purchase import PurchaseStatus
from services import sql
from services.errors import NotFound


@dataclass(frozen=True)
class PlanView:
    id: int
    name: str
    currency: str
    storage_per_license_bytes: int
    contracted_price_minor: int
    monthly_price_minor: int
    daily_price_minor: int

    def price_minor(self, kind: LicenseKind) -> int:
        if kind == LicenseKind.CONTRACTED:
            return self.contracted_price_minor
        return self.monthly_price_minor if kind == LicenseKind.MONTHLY else self.daily_price_minor


@dataclass(frozen=True)
class ContractView:
    id: int
    company_id: int
    product: Product
    starts_on: dt.date
    expires_on: dt.date
    plan: PlanView
    used_bytes: int
    auto_renews: bool
    term_months: int
    # CONTRACTED licenses of the next term in the signed change that applies when this term
    # ends; None: the next term keeps the CONTRACTED total of its first day.
    scheduled_contracted: int | None


@dataclass(frozen=True)
class PoolView:
    id: int
    contract_id: int
    kind: LicenseKind
    total: int
    assigned: int
    # Licenses in purchases still awaiting a signature (expired ones no longer count).
    pending: int

    @property
    def available(self) -> int:
        return self.total - self.assigned


@dataclass(frozen=True)
class DocumentView:
    id: int
    contract_id: int
    title: str
    signed_at: dt.datetime


def _in(count: int) -> str:
    return ", ".join("?" * count)


_CONTRACTS = """
SELECT c.id, c.company_id, c.product, c.starts_on, c.expires_on,
       p.id, p.name, p.currency, p.storage_allowance_per_license_bytes,
       p.contracted_price_minor, p.monthly_price_minor, p.daily_price_minor,
       COALESCE(s.used_bytes, 0), c.auto_renews, c.term_months,
       (SELECT r.contracted_licenses FROM renewal_change r WHERE r.contract_id = c.id
        AND r.term_expires_on = c.expires_on AND r.status = 'SCHEDULED')
FROM contract c
JOIN plan p ON p.id = c.plan_id
LEFT JOIN storage_usage s ON s.contract_id = c.id
WHERE c.company_id = ?
"""


def _contract(row: sql.Row) -> ContractView:
    return ContractView(
        id=row[0],
        company_id=row[1],
        product=Product(row[2]),
        starts_on=sql.as_date(row[3]),
        expires_on=sql.as_date(row[4]),
        plan=PlanView(*row[5:12]),
        used_bytes=int(row[12]),
        auto_renews=bool(row[13]),
        term_months=int(row[14]),
        scheduled_contracted=row[15],
    )


_POOLS = """
SELECT p.id, p.contract_id, p.kind, p.total, p.assigned,
       (SELECT COALESCE(SUM(lp.quantity), 0) FROM license_purchase lp
        WHERE lp.pool_id = p.id AND lp.status = ? AND lp.expires_at > ?)
FROM license_pool p
JOIN contract c ON c.id = p.contract_id
WHERE c.company_id = ?
"""


def _pool(row: sql.Row) -> PoolView:
    return PoolView(row[0], row[1], LicenseKind(row[2]), row[3], row[4], int(row[5]))


async def pools(company_id: int, now: dt.datetime, ids: Sequence[int] = ()) -> list[PoolView]:
    """The company's pools (only `ids` when given), CONTRACTED, MONTHLY, DAILY per contract."""
    statement = _POOLS + (f" AND p.id IN ({_in(len(ids))})" if ids else "")
    params = (PurchaseStatus.PENDING_SIGNATURE.value, now, company_id, *ids)
    rows = [_pool(row) for row in await sql.fetch(statement, params)]
    return sorted(rows, key=lambda row: (row.contract_id, KIND_ORDER.index(row.kind)))


# Everything the Licenses page shows of a company's contracts, in one statement: a row per
# pool, with its contract, plan and storage beside it (a company has two contracts at most).
_COMPANY_ROWS = """
SELECT c.id, c.company_id, c.product, c.starts_on, c.expires_on,
       p.id, p.name, p.currency, p.storage_allowance_per_license_bytes,
       p.contracted_price_minor, p.monthly_price_minor, p.daily_price_minor,
       COALESCE(s.used_bytes, 0), c.auto_renews, c.term_months,
       (SELECT r.contracted_licenses FROM renewal_change r WHERE r.contract_id = c.id
        AND r.term_expires_on = c.expires_on AND r.status = 'SCHEDULED'),
       lp.id, lp.contract_id, lp.kind, lp.total, lp.assigned,
       {pending}
FROM contract c
JOIN plan p ON p.id = c.plan_id
LEFT JOIN storage_usage s ON s.contract_id = c.id
LEFT JOIN license_pool lp ON lp.contract_id = c.id
WHERE c.company_id = ?
"""
# Licenses in purchases awaiting a signature: a sum over the pool's pending purchases.
_PENDING = """(SELECT COALESCE(SUM(bought.quantity), 0) FROM license_purchase bought
        WHERE bought.pool_id = lp.id AND bought.status = ? AND bought.expires_at > ?)"""
_COMPANY = _COMPANY_ROWS.format(pending=_PENDING)
# A quote or a purchase prices from the totals alone: no sum over pending purchases.
_CONTRACT_FOR_PRICING = _COMPANY_ROWS.format(pending="0") + " AND c.id = ?"


_POOL_AT = 16  # the first column of the pool in a row of _COMPANY


async def company(company_id: int, now: dt.datetime) -> tuple[list[ContractView], list[PoolView]]:
    """The company's contracts (JOBS first) and pools (CONTRACTED, MONTHLY, DAILY each)."""
    params = (PurchaseStatus.PENDING_SIGNATURE.value, now, company_id)
    found: dict[int, ContractView] = {}
    pools = []
    for row in await sql.fetch(_COMPANY, params):
        if row[0] not in found:
            found[row[0]] = _contract(row[:_POOL_AT])
        if row[_POOL_AT] is not None:  # every contract has its three pools (services/fixtures)
            pools.append(_pool(row[_POOL_AT:]))
    contracts = sorted(found.values(), key=lambda row: PRODUCT_ORDER.index(row.product))
    pools.sort(key=lambda row: (row.contract_id, KIND_ORDER.index(row.kind)))
    return contracts, pools


async def contract_and_pools(
    *, company_id: int, contract_id: int, field: str
) -> tuple[ContractView, dict[LicenseKind, PoolView]]:
    """One contract of this company with its pools by kind, for a quote or a purchase (their
    `pending` is not read: 0); another company's contract reads like an unknown id."""
    rows = await sql.fetch(_CONTRACT_FOR_PRICING, (company_id, contract_id))
    if not rows:
        raise NotFound(
            "No contract has this id. Reload the subscription to get current ids.", field=field
        )
    found = (_pool(row[_POOL_AT:]) for row in rows if row[_POOL_AT] is not None)
    return _contract(rows[0][:_POOL_AT]), {pool.kind: pool for pool in found}


async def contracts_by_ids(company_id: int, ids: Sequence[int]) -> list[ContractView]:
    statement = _CONTRACTS + f" AND c.id IN ({_in(len(ids))})"
    return [_contract(row) for row in await sql.fetch(statement, (company_id, *ids))]


@dataclass(frozen=True)
class DocumentPage:
    """Which documents of a contract: the `first` newest after (older than) a document."""

    contract_id: int
    first: int
    after: tuple[dt.datetime, int] | None = None  # (signed_at, id) of the last one seen


_DOCUMENT_COLUMNS = "id, contract_id, title, signed_at"
# The newest `first` of each contract, in one statement whatever the number of contracts.
_NEWEST_DOCUMENTS = f"""
SELECT {_DOCUMENT_COLUMNS} FROM (
  SELECT {_DOCUMENT_COLUMNS},
         ROW_NUMBER() OVER (PARTITION BY contract_id ORDER BY signed_at DESC, id DESC) AS position
  FROM contract_document WHERE contract_id IN ({{contracts}})
) ranked WHERE position <= ? ORDER BY contract_id, position
"""
_DOCUMENTS_AFTER = f"""
SELECT {_DOCUMENT_COLUMNS} FROM contract_document
WHERE contract_id = ? AND (signed_at < ? OR (signed_at = ? AND id < ?))
ORDER BY signed_at DESC, id DESC LIMIT ?
"""


def _document(row: sql.Row) -> DocumentView:
    return DocumentView(row[0], row[1], row[2], sql.as_datetime(row[3]))


async def newest_documents(contract_ids: Sequence[int], first: int) -> list[DocumentView]:
    """Document metadata (never the PDF bytes), newest first by signedAt, then id."""
    statement = _NEWEST_DOCUMENTS.format(contracts=_in(len(contract_ids)))
    return [_document(row) for row in await sql.fetch(statement, (*contract_ids, first))]


async def documents_page(page: DocumentPage) -> list[DocumentView]:
    if page.after is None:
        return await newest_documents([page.contract_id], page.first)
    signed_at, document_id = page.after
    params = (page.contract_id, signed_at, signed_at, document_id, page.first)
    return [_document(row) for row in await sql.fetch(_DOCUMENTS_AFTER, params)]


_DOCUMENTS_BY_ID = """
SELECT d.id, d.contract_id, d.title, d.signed_at FROM contract_document d
JOIN contract c ON c.id = d.contract_id WHERE c.company_id = ? AND d.id IN ({ids})
"""


async def documents_by_ids(company_id: int, ids: Sequence[int]) -> list[DocumentView]:
    statement = _DOCUMENTS_BY_ID.format(ids=_in(len(ids)))
    return [_document(row) for row in await sql.fetch(statement, (company_id, *ids))]


async def contract_of_company(*, company_id: int, contract_id: int, field: str) -> Contract:
    """A contract of this company, for a change; another company's reads like an unknown id."""
    row = (
        await Contract.filter(id=contract_id, company_id=company_id).select_related("plan").first()
    )
    if row is None:
        raise NotFound(
            "No contract has this id. Reload the subscription to get current ids.", field=field
        )
    return row
