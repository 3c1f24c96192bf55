"""Per-request reads: one statement per kind of row, whatever the number of parents.

`CompanyReads` holds what the Licenses page reads of the viewer's company as a whole (its
contracts, its pools), each read once per request however many fields ask. DataLoaders fetch
rows by id (node, nodes, payloads) and the pieces that depend on a parent (documents,
licenses, emails), batched. All are made fresh for each request, scoped to the viewer's
company: nothing is shared across requests or companies.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

from strawberry.dataloader import DataLoader

from models.enums import LicenseKind
from models.outbox import OutboxEmail
from models.purchase import LicensePurchase
from models.renewal import RenewalChange
from services.billing import usage as daily_usage
from services.billing.usage import DailyUsersPage, Month
from services.licenses import users
from services.licenses.users import HeldLicense
from services.purchases import reads as purchase_reads
from services.renewal import changes as renewal_changes
from services.subscription import reads as subscription
from services.subscription.reads import ContractView, DocumentPage, DocumentView, PoolView

T = TypeVar("T")


class _HasId(Protocol):
    @property
    def id(self) -> int: ...


R = TypeVar("R", bound=_HasId)


class Once(Generic[T]):
    """A read done at most once per request; callers that come while it runs wait for it."""

    def __init__(self, load: Callable[[], Awaitable[T]]) -> None:
        self._load = load
        self._result: asyncio.Future[T] | None = None

    async def get(self) -> T:
        if self._result is None:
            self._result = asyncio.get_running_loop().create_future()
            try:
                value = await self._load()
            except BaseException as error:
                self._result.set_exception(error)
                self._result.exception()  # retrieved: the first caller raises it
                raise
            self._result.set_result(value)
            return value
        return await self._result


class CompanyReads:
    """The viewer's company's contracts and pools, read once for the whole request."""

    def __init__(self, company_id: int | None, now: dt.datetime) -> None:
        async def read() -> tuple[list[ContractView], list[PoolView]]:
            return ([], []) if company_id is None else await subscription.company(company_id, now)

        async def open_changes() -> list[RenewalChange]:
            return [] if company_id is None else await renewal_changes.open_changes(company_id)

        self.contracts_and_pools = Once(read)
        self.open_renewal_changes = Once(open_changes)
        self._billable_days: dict[Month, Once[dict[int, int]]] = {}

    def billable_days(self, month: Month) -> Once[dict[int, int]]:
        """The month's billable days of every DAILY pool of the company: one statement for
        every field that asks (dailyUsage, nextInvoice), whatever their depth."""
        found = self._billable_days.get(month)
        if found is None:

            async def read() -> dict[int, int]:
                _, pools = await self.contracts_and_pools.get()
                daily = [pool.id for pool in pools if pool.kind == LicenseKind.DAILY]
                return await daily_usage.billable_days(daily, month)

            found = self._billable_days[month] = Once(read)
        return found


def _in_key_order(rows: Sequence[R], keys: Sequence[int]) -> list[R | None]:
    found = {row.id: row for row in rows}
    return [found.get(key) for key in keys]


def _by_id(
    company_id: int | None, read: Callable[[int, list[int]], Awaitable[Sequence[R]]]
) -> DataLoader[int, R | None]:
    """Rows by id, only the viewer's company's: another company's read as missing."""

    async def load(ids: Sequence[int]) -> list[R | None]:
        if company_id is None:
            return [None] * len(ids)
        return _in_key_order(await read(company_id, list(ids)), ids)

    return DataLoader(load_fn=load)


async def _document_pages(pages: Sequence[DocumentPage]) -> list[list[DocumentView]]:
    """The first pages of every contract in one statement; later pages one each."""
    found: dict[DocumentPage, list[DocumentView]] = {}
    firsts: dict[int, list[DocumentPage]] = defaultdict(list)
    for page in pages:
        if page.after is None:
            firsts[page.first].append(page)
        else:
            found[page] = await subscription.documents_page(page)
    for first, group in firsts.items():
        rows = await subscription.newest_documents([p.contract_id for p in group], first)
        for page in group:
            found[page] = [row for row in rows if row.contract_id == page.contract_id]
    return [found[page] for page in pages]


@dataclass(frozen=True)
class DailyUsersKey:
    """Which page of a DAILY pool's users of a month: the first, or after a position."""

    pool_id: int
    month: Month
    first: int
    after: tuple[int, str, int] | None = None


async def _daily_users(keys: Sequence[DailyUsersKey]) -> list[DailyUsersPage]:
    """The first pages of every pool in one statement per month; later pages one each."""
    found: dict[DailyUsersKey, DailyUsersPage] = {}
    firsts: dict[tuple[Month, int], list[DailyUsersKey]] = defaultdict(list)
    for key in keys:
        if key.after is None:
            firsts[(key.month, key.first)].append(key)
        else:
            found[key] = await daily_usage.page_after(key.pool_id, key.month, key.first, key.after)
    for (month, first), group in firsts.items():
        pages = await daily_usage.first_pages([key.pool_id for key in group], month, first)
        for key in group:
            found[key] = pages[key.pool_id]
    return [found[key] for key in keys]


async def _licenses(user_ids: Sequence[int]) -> list[list[HeldLicense]]:
    grouped: dict[int, list[HeldLicense]] = defaultdict(list)
    for held in await users.licenses_of(user_ids):
        grouped[held.user_id].append(held)
    return [grouped[user_id] for user_id in user_ids]


async def _latest_emails(purchase_ids: Sequence[int]) -> list[OutboxEmail | None]:
    latest = await purchase_reads.latest_emails(purchase_ids)
    return [latest.get(purchase_id) for purchase_id in purchase_ids]


async def _purchases(company_id: int, ids: list[int]) -> list[LicensePurchase]:
    return await purchase_reads.purchases_by_ids(company_id, ids)


class Loaders:
    def __init__(self, now: dt.datetime, company_id: int | None) -> None:
        self.company = CompanyReads(company_id, now)

        async def pools(company: int, ids: list[int]) -> list[PoolView]:
            return await subscription.pools(company, now, ids)

        self.users_by_id = _by_id(company_id, users.users_by_ids)
        self.contracts_by_id = _by_id(company_id, subscription.contracts_by_ids)
        self.pools_by_id = _by_id(company_id, pools)
        self.documents_by_id = _by_id(company_id, subscription.documents_by_ids)
        self.purchases_by_id = _by_id(company_id, _purchases)
        self.renewal_changes_by_id = _by_id(company_id, renewal_changes.changes_by_ids)
        self.document_pages = DataLoader(load_fn=_document_pages)
        self.licenses_by_user = DataLoader(load_fn=_licenses)
        self.latest_email_by_purchase = DataLoader(load_fn=_latest_emails)
        self.daily_users = DataLoader(load_fn=_daily_users)
