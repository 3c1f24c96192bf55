"""Per-request DataLoaders: one query per kind of child, whatever the number of parents."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

from strawberry.dataloader import DataLoader
from tortoise.models import Model
from tortoise.queryset import QuerySet

from models.contract import Contract, LicensePool
from models.document import ContractDocument
from models.purchase import OutboxEmail
from models.user import LicenseAssignment
from services import node_reads as reads
from services.licenses import users
from services.purchases import reads as purchase_reads
from services.subscription import documents
from services.subscription import reads as subscription

M = TypeVar("M", bound=Model)


async def _contracts(company_ids: Sequence[int]) -> list[list[Contract]]:
    return [await subscription.contracts_for_company(company_id) for company_id in company_ids]


async def _pools(contract_ids: Sequence[int]) -> list[list[LicensePool]]:
    grouped: dict[int, list[LicensePool]] = defaultdict(list)
    for pool in await subscription.pools_for_contracts(contract_ids):
        grouped[pool.contract_id].append(pool)
    return [grouped[contract_id] for contract_id in contract_ids]


async def _used_bytes(contract_ids: Sequence[int]) -> list[int]:
    used = await subscription.used_bytes_for_contracts(contract_ids)
    return [used.get(contract_id, 0) for contract_id in contract_ids]


async def _documents(pages: Sequence[documents.DocumentPage]) -> list[list[ContractDocument]]:
    # A company has a contract per product, two at most: a query each (LIMIT is per contract).
    return [await documents.documents_page(page) for page in pages]


async def _assignments(user_ids: Sequence[int]) -> list[list[LicenseAssignment]]:
    grouped: dict[int, list[LicenseAssignment]] = defaultdict(list)
    for assignment in await users.assignments_for_users(user_ids):
        grouped[assignment.user_id].append(assignment)
    return [grouped[user_id] for user_id in user_ids]


def _in_key_order(rows: Sequence[M], keys: Sequence[int]) -> list[M | None]:
    found = {int(row.pk): row for row in rows}
    return [found.get(key) for key in keys]


async def _latest_emails(purchase_ids: Sequence[int]) -> list[OutboxEmail | None]:
    latest = await purchase_reads.latest_emails(purchase_ids)
    return [latest.get(purchase_id) for purchase_id in purchase_ids]


class _ByIdOfCompany(Generic[M]):
    """Rows by primary key, only the viewer's company's: another company's read as missing."""

    def __init__(self, company_id: int | None, query: Callable[[int, list[int]], QuerySet[M]]):
        self.company_id = company_id
        self.query = query

    async def __call__(self, ids: Sequence[int]) -> list[M | None]:
        if self.company_id is None:
            return [None] * len(ids)
        return _in_key_order(await self.query(self.company_id, list(ids)), ids)


def _loader(
    company_id: int | None, query: Callable[[int, list[int]], QuerySet[M]]
) -> DataLoader[int, M | None]:
    return DataLoader(load_fn=_ByIdOfCompany(company_id, query))


class Loaders:
    """Created fresh for every request, so nothing is cached across requests or companies.

    Rows looked up by id come only from `company_id`, the viewer's company.
    """

    def __init__(self, now: dt.datetime, company_id: int | None) -> None:
        async def pending(pool_ids: Sequence[int]) -> list[int]:
            counts = await purchase_reads.pending_by_pool(pool_ids, now)
            return [counts.get(pool_id, 0) for pool_id in pool_ids]

        self.pending_by_pool = DataLoader(load_fn=pending)
        self.users_by_id = _loader(company_id, reads.users)
        self.contracts_by_id = _loader(company_id, reads.contracts)
        self.pools_by_id = _loader(company_id, reads.pools)
        self.documents_by_id = _loader(company_id, reads.documents)
        self.purchases_by_id = _loader(company_id, reads.purchases)
        self.latest_email_by_purchase = DataLoader(load_fn=_latest_emails)
        self.contracts_by_company = DataLoader(load_fn=_contracts)
        self.pools_by_contract = DataLoader(load_fn=_pools)
        self.used_bytes_by_contract = DataLoader(load_fn=_used_bytes)
        self.document_pages = DataLoader(load_fn=_documents)
        self.assignments_by_user = DataLoader(load_fn=_assignments)
