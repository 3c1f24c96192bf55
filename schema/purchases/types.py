"""Quotes, purchases and the contract's audit trail."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from enum import Enum

import strawberry
from strawberry import Private

from models import audit as audit_models
from models import purchase as purchase_models
from models.enums import LicenseKind, Product
from resolvers import purchases as resolve
from resolvers.ids import encode_id
from resolvers.pagination import id_cursor
from schema.common import BillingPeriod, LicensePrice, Money, Node, PageInfo, id_page_info
from schema.licenses.types import User
from schema.scalars import UnsignedInt64
from services.purchases.pricing import CostLine as PricedLine
from services.purchases.pricing import Quote
from services.purchases.reads import Page


@strawberry.enum(description="Where a purchase stands. EXPIRED: not signed in time.")
class PurchaseStatus(Enum):
    PENDING_SIGNATURE = "PENDING_SIGNATURE"
    CONFIRMED = "CONFIRMED"
    CANCELLED = "CANCELLED"
    EXPIRED = "EXPIRED"


@strawberry.enum(description="Delivery of the latest confirmation email of a purchase.")
class ConfirmationEmailStatus(Enum):
    QUEUED = "QUEUED"
    RETRYING = "RETRYING"
    SENT = "SENT"
    FAILED = strawberry.enum_value("FAILED", description="Every attempt failed: resend it.")
    DROPPED = strawberry.enum_value(
        "DROPPED",
        description="Not sent: the purchase was signed, cancelled or expired before its turn.",
    )


@strawberry.type(description="The contract side of a purchase.")
class ContractBreakdown:
    product: Product
    kind: LicenseKind
    quantity: int
    current_total: int
    new_total: int
    starts_on: dt.date = strawberry.field(
        description="The day the added licenses are first billed (today)."
    )
    commitment_ends_on: dt.date | None = strawberry.field(
        description="Contract expiry for CONTRACTED; null for MONTHLY and DAILY (rolling)."
    )
    current_allowance_bytes: UnsignedInt64
    new_allowance_bytes: UnsignedInt64


@strawberry.type(description="One line of the cost breakdown, in words a person reads.")
class CostLine:
    description: str
    amount: Money

    @classmethod
    def list_of(cls, lines: Iterable[PricedLine], currency: str) -> list[CostLine]:
        return [
            cls(description=line.description, amount=Money.of(line.amount_minor, currency))
            for line in lines
        ]


@strawberry.type(description="What the purchase costs.")
class CostBreakdown:
    unit_price: LicensePrice
    recurring_amount: Money = strawberry.field(description="unit price x quantity, for one period.")
    subtotal: Money = strawberry.field(
        description="CONTRACTED: today until expiresOn, prorated (see contract README); "
        "MONTHLY: one month; DAILY: one day."
    )
    tax: Money
    total: Money
    total_commitment: Money = strawberry.field(
        description="Equal to total: what the company commits to by signing."
    )
    lines: list[CostLine]


@strawberry.type(description="What the side panel shows before Save.")
class LicensePurchaseQuote:
    contract_breakdown: ContractBreakdown
    cost_breakdown: CostBreakdown

    @classmethod
    def of(cls, quote: Quote) -> LicensePurchaseQuote:
        def money(amount: int) -> Money:
            return Money.of(amount, quote.currency)

        period = BillingPeriod.DAY if quote.kind == LicenseKind.DAILY else BillingPeriod.MONTH
        total = money(quote.total_minor)
        return cls(
            contract_breakdown=ContractBreakdown(
                product=quote.product,
                kind=quote.kind,
                quantity=quote.quantity,
                current_total=quote.current_total,
                new_total=quote.new_total,
                starts_on=quote.starts_on,
                commitment_ends_on=quote.commitment_ends_on,
                current_allowance_bytes=UnsignedInt64(quote.current_allowance_bytes),
                new_allowance_bytes=UnsignedInt64(quote.new_allowance_bytes),
            ),
            cost_breakdown=CostBreakdown(
                unit_price=LicensePrice(
                    kind=quote.kind, unit_amount=money(quote.unit_price_minor), period=period
                ),
                recurring_amount=money(quote.recurring_minor),
                subtotal=money(quote.subtotal_minor),
                tax=money(quote.tax_minor),
                total=total,
                total_commitment=total,
                lines=CostLine.list_of(quote.lines, quote.currency),
            ),
        )


@strawberry.type(description="A request to buy licenses, and its signature.")
class LicensePurchase(Node):
    product: Product
    kind: LicenseKind
    quantity: int
    status: PurchaseStatus
    quote: LicensePurchaseQuote = strawberry.field(
        description="The quote frozen at the moment of purchase (as requested)."
    )
    requested_at: dt.datetime
    confirmation_sent_to: str = strawberry.field(
        description="Company email the confirmation was sent to."
    )
    expires_at: dt.datetime = strawberry.field(description="When the signature link stops working.")
    signed_at: dt.datetime | None
    signer_name: str | None
    signed_quote: LicensePurchaseQuote | None = strawberry.field(
        description="The breakdown as signed (re-dated to the signing day); null until signed."
    )
    row: Private[purchase_models.LicensePurchase]

    @classmethod
    def of(cls, info: strawberry.Info, row: purchase_models.LicensePurchase) -> LicensePurchase:
        return cls(
            id=strawberry.ID(encode_id("LicensePurchase", row.id)),
            product=row.product,
            kind=row.kind,
            quantity=row.quantity,
            status=PurchaseStatus(resolve.purchase_status(info.context, row)),
            quote=LicensePurchaseQuote.of(Quote.from_json(row.quote)),
            requested_at=row.requested_at,
            confirmation_sent_to=row.confirmation_sent_to,
            expires_at=row.expires_at,
            signed_at=row.signed_at,
            signer_name=row.signer_name,
            signed_quote=(
                LicensePurchaseQuote.of(Quote.from_json(row.signed_quote))
                if row.signed_quote
                else None
            ),
            row=row,
        )

    @strawberry.field(description="Who asked for the purchase; null once that user is deleted.")
    async def requested_by(self, info: strawberry.Info) -> User | None:
        user = await resolve.user(info.context, self.row.requested_by_id)
        return None if user is None else User.of(user, info.context)

    @strawberry.field(
        description="Delivery of the latest confirmation email: a failed send is retried with "
        "backoff (RETRYING) and given up after a dozen attempts (FAILED: resend it)."
    )
    async def confirmation_email_status(self, info: strawberry.Info) -> ConfirmationEmailStatus:
        return ConfirmationEmailStatus(await resolve.email_status(info.context, self.row.id))

    @strawberry.field(description="Send attempts of the latest confirmation email so far.")
    async def confirmation_email_attempts(self, info: strawberry.Info) -> int:
        email = await resolve.latest_email(info.context, self.row.id)
        return 0 if email is None else email.attempts


@strawberry.type
class LicensePurchaseEdge:
    node: LicensePurchase
    cursor: str


@strawberry.type(description="A page of purchases, newest first.")
class LicensePurchaseConnection:
    edges: list[LicensePurchaseEdge]
    page_info: PageInfo
    total_count: int


@strawberry.type(description="One recorded change: who, what, when, the counts before and after.")
class ContractEvent:
    action: str = strawberry.field(description="e.g. purchase.confirmed, licenses.deleted.")
    occurred_at: dt.datetime
    subject_id: strawberry.ID = strawberry.field(description="Global id of what changed.")
    details: str = strawberry.field(
        description="The change's facts, as a JSON object. A signer's IP address (`ip`) is "
        "shown only to the finance roles' own tokens (with licenses:write), never to read-only "
        "partner tokens."
    )
    actor_user_id: strawberry.ID | None = strawberry.field(
        description="Global id of the user who made it; null for a signature by link."
    )
    actor_token_id: int | None = strawberry.field(description="The API token used, if any.")

    @classmethod
    def of(cls, info: strawberry.Info, row: audit_models.AuditEvent) -> ContractEvent:
        actor = row.actor_user_id
        return cls(
            action=row.action,
            occurred_at=row.created_at,
            subject_id=strawberry.ID(encode_id(row.subject_type, row.subject_id)),
            details=json.dumps(resolve.event_details(info.context, row), sort_keys=True),
            actor_user_id=None if actor is None else strawberry.ID(encode_id("User", actor)),
            actor_token_id=row.actor_token_id,
        )


@strawberry.type
class ContractEventEdge:
    node: ContractEvent
    cursor: str


@strawberry.type(description="A page of the audit trail, newest first.")
class ContractEventConnection:
    edges: list[ContractEventEdge]
    page_info: PageInfo
    total_count: int


def purchase_connection(
    info: strawberry.Info, page: Page[purchase_models.LicensePurchase], after: str | None
) -> LicensePurchaseConnection:
    edges = [
        LicensePurchaseEdge(node=LicensePurchase.of(info, row), cursor=id_cursor(row.id))
        for row in page.rows
    ]
    return LicensePurchaseConnection(
        edges=edges, page_info=id_page_info(page, after), total_count=page.total_count
    )


def event_connection(
    info: strawberry.Info, page: Page[audit_models.AuditEvent], after: str | None
) -> ContractEventConnection:
    edges = [
        ContractEventEdge(node=ContractEvent.of(info, row), cursor=id_cursor(row.id))
        for row in page.rows
    ]
    return ContractEventConnection(
        edges=edges, page_info=id_page_info(page, after), total_count=page.total_count
    )
