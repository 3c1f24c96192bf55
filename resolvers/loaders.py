"""Per-request DataLoaders: one query per kind of child, whatever the number of parents."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Sequence

from strawberry.dataloader import DataLoader

from models.contract import Contract, LicensePool
from models.document import ContractDocument
from models.purchase import OutboxEmail
from models.user import LicenseAssignment, User
from services import documents, purchase_reads, subscription, users


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


async def _documents(contract_ids: Sequence[int]) -> list[list[ContractDocument]]:
    grouped: dict[int, list[ContractDocument]] = defaultdict(list)
    for document in await documents.documents_for_contracts(contract_ids):
        grouped[document.contract_id].append(document)
    return [grouped[contract_id] for contract_id in contract_ids]


async def _assignments(user_ids: Sequence[int]) -> list[list[LicenseAssignment]]:
    grouped: dict[int, list[LicenseAssignment]] = defaultdict(list)
    for assignment in await users.assignments_for_users(user_ids):
        grouped[assignment.user_id].append(assignment)
    return [grouped[user_id] for user_id in user_ids]


async def _users(user_ids: Sequence[int]) -> list[User | None]:
    found = {user.id: user for user in await User.filter(id__in=list(user_ids))}
    return [found.get(user_id) for user_id in user_ids]


async def _latest_emails(purchase_ids: Sequence[int]) -> list[OutboxEmail | None]:
    latest = await purchase_reads.latest_emails(purchase_ids)
    return [latest.get(purchase_id) for purchase_id in purchase_ids]


class Loaders:
    """Created fresh for every request, so nothing is cached across requests or companies."""

    def __init__(self, now: dt.datetime) -> None:
        async def pending(pool_ids: Sequence[int]) -> list[int]:
            counts = await purchase_reads.pending_by_pool(pool_ids, now)
            return [counts.get(pool_id, 0) for pool_id in pool_ids]

        self.pending_by_pool = DataLoader(load_fn=pending)
        self.users_by_id = DataLoader(load_fn=_users)
        self.latest_email_by_purchase = DataLoader(load_fn=_latest_emails)
        self.contracts_by_company = DataLoader(load_fn=_contracts)
        self.pools_by_contract = DataLoader(load_fn=_pools)
        self.used_bytes_by_contract = DataLoader(load_fn=_used_bytes)
        self.documents_by_contract = DataLoader(load_fn=_documents)
        self.assignments_by_user = DataLoader(load_fn=_assignments)
