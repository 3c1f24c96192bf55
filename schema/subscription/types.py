"""The subscription: contracts, plans, license pools, usage and documents."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import strawberry
from strawberry import Private

from models.enums import KIND_ORDER, LicenseKind, Product
from resolvers import purchases as resolve_purchases
from resolvers import subscription as resolve
from resolvers.ids import encode_id
from schema.common import LicensePrice, Node
from schema.licenses.types import Company
from schema.purchases.types import (
    ContractEventConnection,
    LicensePurchaseConnection,
    PurchaseStatus,
    event_connection,
    purchase_connection,
)
from schema.scalars import UnsignedInt64
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
        return cls(
            name=plan.name,
            storage_allowance_per_license_bytes=UnsignedInt64(plan.storage_per_license_bytes),
            prices=[LicensePrice.of(plan, kind) for kind in KIND_ORDER],
        )


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
            price=LicensePrice.of(plan, row.kind),
            pending=row.pending,
            pk=row.id,
        )


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
    row: Private[ContractView]

    @classmethod
    def of(cls, row: ContractView) -> Contract:
        return cls(
            id=strawberry.ID(encode_id("Contract", row.id)),
            product=row.product,
            plan=Plan.of(row.plan),
            starts_on=row.starts_on,
            expires_on=row.expires_on,
            row=row,
        )

    @strawberry.field(description="Always three pools, in the order CONTRACTED, MONTHLY, DAILY.")
    async def license_pools(self, info: strawberry.Info) -> list[LicensePool]:
        rows = await resolve.pools(info.context, self.row.id)
        return [LicensePool.of(pool, self.row.plan) for pool in rows]

    @strawberry.field(description="The pool of one kind.")
    async def license_pool(self, info: strawberry.Info, kind: LicenseKind) -> LicensePool:
        row = await resolve.pool(info.context, self.row.id, kind)
        return LicensePool.of(row, self.row.plan)

    @strawberry.field(description="Storage used by this contract against its allowance.")
    async def usage(self, info: strawberry.Info) -> Usage:
        return Usage.of(await resolve.contract_usage(info.context, self.row))

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
    company_row: Private[CompanyInfo]

    @strawberry.field(description="The subscribing company.")
    def company(self) -> Company:
        return Company.of(self.company_row)

    @strawberry.field(
        description="Company-wide storage: the sum over all contracts (the allowance is one pool)."
    )
    async def usage(self, info: strawberry.Info) -> Usage:
        return Usage.of(await resolve.company_usage(info.context))

    @strawberry.field(
        description="One contract per product section the company subscribes to (Jobs, Sales), "
        "JOBS first."
    )
    async def contracts(self, info: strawberry.Info) -> list[Contract]:
        return [Contract.of(row) for row in await resolve.contracts(info.context)]

    @strawberry.field(description="The contract of one product section, or null.")
    async def contract(self, info: strawberry.Info, product: Product) -> Contract | None:
        row = await resolve.contract_for_product(info.context, product)
        return None if row is None else Contract.of(row)
