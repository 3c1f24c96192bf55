"""The subscription: contracts, plans, license pools, usage and documents."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import strawberry
from cachetools import LRUCache
from strawberry import Private

from models.enums import KIND_ORDER, LicenseKind, Product
from resolvers import billing as resolve_billing
from resolvers import purchases as resolve_purchases
from resolvers import subscription as resolve
from resolvers.ids import encode_id
from resolvers.subscription import Snapshot
from schema.billing.types import DailyUsage, InvoiceEstimate
from schema.common import LicensePrice, Node
from schema.licenses.types import Company
from schema.purchases.types import (
    ContractEventConnection,
    LicensePurchaseConnection,
    PurchaseStatus,
    event_connection,
    purchase_connection,
)
from schema.renewal.types import ContractRenewal, ContractStatus
from schema.scalars import UnsignedInt64
from schema.selection import selects_any
from services.access import CompanyInfo
from services.subscription.reads import ContractView, DocumentView, PlanView, PoolView
from services.usage import Usage as UsageValue


@strawberry.type(description="A subscription tier.")
class Plan:
    name: str = strawberry.field(description="Subscription tier, e.g. 'Customer Journey Plan'.")
    storage_allowance_per_license_bytes: UnsignedInt64 = strawberry.field(
        description="Storage granted per CONTRACTED or MONTHLY license (DAILY licenses grant none)."
    )
    prices: list[LicensePrice] = strawberry.field(description="One price per license kind.")

    @classmethod
    def of(cls, plan: PlanView) -> Plan:
        """Read-only once built: the same plan's object serves every request (a bounded cache)."""
        built = _plans.get(plan)
        if built is None:
            built = _plans[plan] = cls(
                name=plan.name,
                storage_allowance_per_license_bytes=UnsignedInt64(plan.storage_per_license_bytes),
                prices=[LicensePrice.of(plan, kind) for kind in KIND_ORDER],
            )
        return built

    def price(self, kind: LicenseKind) -> LicensePrice:
        return self.prices[KIND_ORDER.index(kind)]


# Plans with their prices (formatted money), by their values: a few per company, small each.
_plans: LRUCache[PlanView, Plan] = LRUCache(maxsize=4096)


@strawberry.type(description="Storage used against the allowance.")
class Usage:
    used_bytes: UnsignedInt64
    allowance_bytes: UnsignedInt64 = strawberry.field(
        description="storageAllowancePerLicenseBytes x (CONTRACTED total + MONTHLY total)."
    )
    percent_used: float = strawberry.field(
        description="usedBytes / allowanceBytes x 100, rounded half up to one decimal, not "
        "capped; with no allowance: 0.0 if nothing is used, else 100.0."
    )

    @classmethod
    def of(cls, value: UsageValue) -> Usage:
        return cls(
            used_bytes=UnsignedInt64(value.used_bytes),
            allowance_bytes=UnsignedInt64(value.allowance_bytes),
            percent_used=value.percent_used,
        )


@strawberry.type(description="The licenses of one kind under a contract.")
class LicensePool(Node):
    kind: LicenseKind
    total: int = strawberry.field(
        description="Licenses held (confirmed purchases included, pending ones not)."
    )
    assigned: int = strawberry.field(description="Licenses assigned to users.")
    available: int = strawberry.field(
        description="total - assigned: what can be assigned or deleted."
    )
    deletable: bool = strawberry.field(
        description="False for CONTRACTED: those are only adjusted at renewal."
    )
    price: LicensePrice
    pending: int = strawberry.field(description="Licenses in purchases awaiting signature.")
    pk: Private[int]
    plan: Private[PlanView]

    @classmethod
    async def of_view(cls, info: strawberry.Info, row: PoolView) -> LicensePool:
        """A pool whose contract's plan is not at hand (node, mutation payloads)."""
        return cls.of(row, (await resolve.contract_of_pool(info.context, row)).plan)

    @classmethod
    def of(cls, row: PoolView, plan: PlanView) -> LicensePool:
        return cls(
            id=strawberry.ID(encode_id("LicensePool", row.id)),
            kind=row.kind,
            total=row.total,
            assigned=row.assigned,
            available=row.available,
            deletable=row.kind != LicenseKind.CONTRACTED,
            price=Plan.of(plan).price(row.kind),
            pending=row.pending,
            pk=row.id,
            plan=plan,
        )

    @strawberry.field(
        description="DAILY pools only (null for the others): billable user-days of a month, "
        '"YYYY-MM", the current month (UTC) when omitted.'
    )
    def daily_usage(self, info: strawberry.Info, month: str | None = None) -> DailyUsage | None:
        if self.kind != LicenseKind.DAILY:
            return None
        price = self.plan.price_minor(LicenseKind.DAILY)
        period = resolve_billing.month_of(info.context, month)
        return DailyUsage.of(self.pk, period, price, self.plan.currency)


@strawberry.type(description="A signed contract document.")
class ContractDocument(Node):
    title: str
    signed_at: dt.datetime
    pk: Private[int]

    @strawberry.field(
        description="Short-lived signed URL of the PDF; fetching it needs no bearer token."
    )
    def download_url(self, info: strawberry.Info) -> str:
        return resolve.document_download_url(info.context, self.pk)

    @classmethod
    def of(cls, row: DocumentView) -> ContractDocument:
        return cls(
            id=strawberry.ID(encode_id("ContractDocument", row.id)),
            title=row.title,
            signed_at=row.signed_at,
            pk=row.id,
        )


@strawberry.type(description="A company's contract for one product section.")
class Contract(Node):
    product: Product
    plan: Plan
    starts_on: dt.date
    expires_on: dt.date = strawberry.field(description="Last day of the current term (inclusive).")
    auto_renews: bool = strawberry.field(
        description="Whether the contract renews by itself for another term after expiresOn."
    )
    term_months: int = strawberry.field(
        description="Length of one term in months (12 unless the contract says otherwise)."
    )
    license_pools: list[LicensePool] = strawberry.field(
        description="Always three pools, in the order CONTRACTED, MONTHLY, DAILY."
    )
    usage: Usage = strawberry.field(
        description="Storage used by this contract against its allowance."
    )
    row: Private[ContractView]

    @classmethod
    def of(cls, row: ContractView, snapshot: Snapshot) -> Contract:
        """Built whole from the company's snapshot: no field below waits for a read."""
        return cls(
            id=strawberry.ID(encode_id("Contract", row.id)),
            product=row.product,
            plan=Plan.of(row.plan),
            starts_on=row.starts_on,
            expires_on=row.expires_on,
            auto_renews=row.auto_renews,
            term_months=row.term_months,
            license_pools=[LicensePool.of(pool, row.plan) for pool in snapshot.pools_of(row.id)],
            usage=Usage.of(snapshot.usage_of(row)),
            row=row,
        )

    @classmethod
    async def of_view(cls, info: strawberry.Info, row: ContractView) -> Contract:
        """A contract on its own (node): its company's snapshot is read for it."""
        return cls.of(row, await resolve.snapshot(info.context))

    @strawberry.field(
        description="ACTIVE, or ENDED from the day after expiresOn of a contract that does not "
        "renew."
    )
    def status(self, info: strawberry.Info) -> ContractStatus:
        return ContractStatus(resolve.contract_status(info.context, self.row).value)

    @strawberry.field(description="The coming term; null when the contract does not renew.")
    def renewal(self, info: strawberry.Info) -> ContractRenewal | None:
        contracted = next(p for p in self.license_pools if p.kind == LicenseKind.CONTRACTED)
        return ContractRenewal.of(info, self.row, contracted.total)

    @strawberry.field(
        description="What the next monthly invoice of this contract is expected to hold, from "
        "today's licenses and this month's daily usage."
    )
    async def next_invoice(self, info: strawberry.Info) -> InvoiceEstimate:
        totals = {pool.kind: pool.total for pool in self.license_pools}
        daily = self.license_pool(LicenseKind.DAILY).pk
        estimate = await resolve_billing.next_invoice(info.context, self.row, totals, daily)
        return InvoiceEstimate.of(estimate)

    @strawberry.field(description="The pool of one kind.")
    def license_pool(self, kind: LicenseKind) -> LicensePool:
        return next(pool for pool in self.license_pools if pool.kind == kind)

    @strawberry.field(description="Newest first. first defaults to 50, at most 100.")
    async def purchases(
        self,
        info: strawberry.Info,
        first: int | None = None,
        after: str | None = None,
        status: PurchaseStatus | None = None,
    ) -> LicensePurchaseConnection:
        page = await resolve_purchases.contract_purchases(
            info.context, self.row.id, first, after, status.value if status else None
        )
        return purchase_connection(info, page, after)

    @strawberry.field(
        description="The audit trail of this contract's purchases, pools and assignments, "
        "newest first. first defaults to 50, at most 100."
    )
    async def events(
        self, info: strawberry.Info, first: int | None = None, after: str | None = None
    ) -> ContractEventConnection:
        page = await resolve_purchases.contract_events(info.context, self.row.id, first, after)
        return event_connection(info, page, after)

    @strawberry.field(
        description="Signed contract documents, newest first by signedAt: one addendum per "
        "signed purchase, and a master agreement per term (signedAt: its startsOn at 00:00 "
        "UTC). At most `first` (default 50, at most 100) of them; for older ones pass the id of "
        "the last document seen as `after`."
    )
    async def documents(
        self,
        info: strawberry.Info,
        first: int | None = None,
        after: Annotated[
            strawberry.ID | None,
            strawberry.argument(description="The id of the last document of the page before."),
        ] = None,
    ) -> list[ContractDocument]:
        rows = await resolve.documents(info.context, self.row.id, first, after)
        return [ContractDocument.of(row) for row in rows]


@strawberry.type(description="A company's subscription across product sections.")
class Subscription(Node):
    usage: Usage = strawberry.field(
        description="Company-wide storage: the sum over all contracts (the allowance is one pool)."
    )
    contracts: list[Contract] = strawberry.field(
        description="One contract per product section the company subscribes to (Jobs, Sales), "
        "JOBS first."
    )
    company_row: Private[CompanyInfo]

    @classmethod
    def of(cls, company: CompanyInfo, snapshot: Snapshot) -> Subscription:
        return cls(
            id=strawberry.ID(encode_id("Subscription", company.id)),
            usage=Usage.of(snapshot.usage()),
            contracts=[Contract.of(row, snapshot) for row in snapshot.contracts],
            company_row=company,
        )

    @classmethod
    async def read(cls, info: strawberry.Info, company: CompanyInfo) -> Subscription:
        """The company's snapshot is read only when a field below needs it."""
        wanted = selects_any(info, "contracts", "contract", "usage")
        snapshot = await resolve.snapshot(info.context) if wanted else resolve.NOTHING_READ
        return cls.of(company, snapshot)

    @strawberry.field(description="The subscribing company.")
    def company(self) -> Company:
        return Company.of(self.company_row)

    @strawberry.field(description="The contract of one product section, or null.")
    def contract(self, product: Product) -> Contract | None:
        return next((row for row in self.contracts if row.product == product), None)
