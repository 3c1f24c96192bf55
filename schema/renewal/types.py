"""A contract's next term, the changes to it and their quotes."""

from __future__ import annotations

import datetime as dt
from enum import Enum

import strawberry
from strawberry import Private

from models import renewal as renewal_models
from models.enums import LicenseKind, Product
from resolvers import purchases as resolve_purchases
from resolvers import renewal as resolve
from resolvers.ids import encode_id
from schema.common import BillingPeriod, LicensePrice, Money, Node
from schema.licenses.types import User
from schema.purchases.types import CostLine
from schema.scalars import UnsignedInt64
from services.renewal.pricing import RenewalQuote as RenewalQuoteValue
from services.subscription.reads import ContractView


@strawberry.enum(
    description="ACTIVE, or ENDED from the day after the last term of a contract "
    "that does not renew."
)
class ContractStatus(Enum):
    ACTIVE = "ACTIVE"
    ENDED = "ENDED"


@strawberry.enum(
    description="Where a renewal change stands. EXPIRED: not signed in time; SUPERSEDED: a "
    "newer change replaced it; APPLIED: the term it changed has started."
)
class RenewalChangeStatus(Enum):
    PENDING_SIGNATURE = "PENDING_SIGNATURE"
    SCHEDULED = "SCHEDULED"
    APPLIED = "APPLIED"
    CANCELLED = "CANCELLED"
    SUPERSEDED = "SUPERSEDED"
    EXPIRED = "EXPIRED"


@strawberry.type(description="What the renewal side panel shows before Save.")
class RenewalQuote:
    product: Product
    current_contracted_licenses: int
    contracted_licenses: int
    term_starts_on: dt.date
    term_expires_on: dt.date
    unit_price: LicensePrice
    monthly_amount: Money = strawberry.field(
        description="unit price x contractedLicenses: one month of the next term."
    )
    subtotal: Money = strawberry.field(description="monthlyAmount x termMonths.")
    tax: Money
    total: Money
    total_commitment: Money = strawberry.field(
        description="Equal to total: what the company commits to for the next term by signing."
    )
    current_allowance_bytes: UnsignedInt64 = strawberry.field(
        description="Storage allowance now, and at the start of the next term with today's "
        "MONTHLY total."
    )
    new_allowance_bytes: UnsignedInt64
    lines: list[CostLine]

    @classmethod
    def of(cls, quote: RenewalQuoteValue) -> RenewalQuote:
        def money(amount: int) -> Money:
            return Money.of(amount, quote.currency)

        total = money(quote.total_minor)
        return cls(
            product=quote.product,
            current_contracted_licenses=quote.current_contracted_licenses,
            contracted_licenses=quote.contracted_licenses,
            term_starts_on=quote.term_starts_on,
            term_expires_on=quote.term_expires_on,
            unit_price=LicensePrice(
                kind=LicenseKind.CONTRACTED,
                unit_amount=money(quote.unit_price_minor),
                period=BillingPeriod.MONTH,
            ),
            monthly_amount=money(quote.monthly_minor),
            subtotal=money(quote.subtotal_minor),
            tax=money(quote.tax_minor),
            total=total,
            total_commitment=total,
            current_allowance_bytes=UnsignedInt64(quote.current_allowance_bytes),
            new_allowance_bytes=UnsignedInt64(quote.new_allowance_bytes),
            lines=CostLine.list_of(quote.lines, quote.currency),
        )


@strawberry.type(description="A change of the CONTRACTED licenses the next term starts with.")
class RenewalChange(Node):
    contracted_licenses: int = strawberry.field(description="CONTRACTED licenses of the next term.")
    status: RenewalChangeStatus
    quote: RenewalQuote = strawberry.field(
        description="The preview frozen when the change was requested."
    )
    requested_at: dt.datetime
    confirmation_sent_to: str = strawberry.field(
        description="Company email the signature link was sent to."
    )
    expires_at: dt.datetime = strawberry.field(
        description="When its signature link stops working: requestedAt + "
        "SIGNATURE_LINK_TTL_HOURS, and never after the end of the current term."
    )
    signed_at: dt.datetime | None
    signer_name: str | None
    row: Private[renewal_models.RenewalChange]

    @classmethod
    def of(cls, info: strawberry.Info, row: renewal_models.RenewalChange) -> RenewalChange:
        return cls(
            id=strawberry.ID(encode_id("RenewalChange", row.id)),
            contracted_licenses=row.contracted_licenses,
            status=RenewalChangeStatus(resolve.change_status(info.context, row).value),
            quote=RenewalQuote.of(RenewalQuoteValue.from_json(row.quote)),
            requested_at=row.requested_at,
            confirmation_sent_to=row.confirmation_sent_to,
            expires_at=row.expires_at,
            signed_at=row.signed_at,
            signer_name=row.signer_name,
            row=row,
        )

    @strawberry.field(description="Who asked for the change; null once that user is deleted.")
    async def requested_by(self, info: strawberry.Info) -> User | None:
        user = await resolve_purchases.user(info.context, self.row.requested_by_id)
        return None if user is None else User.of(user, info.context)


@strawberry.type(description="The coming term of a renewing contract.")
class ContractRenewal:
    renews_on: dt.date = strawberry.field(
        description="First day of the next term: expiresOn + 1 day."
    )
    next_term_expires_on: dt.date = strawberry.field(
        description="Last day of the next term: termMonths after renewsOn, less one day."
    )
    window_opens_on: dt.date = strawberry.field(
        description="From this day until expiresOn the next term's CONTRACTED licenses can be "
        "changed (renewsOn - RENEWAL_WINDOW_DAYS)."
    )
    window_open: bool
    contracted_licenses: int = strawberry.field(
        description="CONTRACTED licenses the next term starts with: the scheduled change's "
        "number, else today's CONTRACTED total."
    )
    contract: Private[ContractView]

    @strawberry.field(description="The signed change that applies on renewsOn, if any.")
    async def scheduled_change(self, info: strawberry.Info) -> RenewalChange | None:
        return await self._change(info, renewal_models.RenewalChangeStatus.SCHEDULED)

    @strawberry.field(description="A change awaiting signature, if any.")
    async def pending_change(self, info: strawberry.Info) -> RenewalChange | None:
        return await self._change(info, renewal_models.RenewalChangeStatus.PENDING_SIGNATURE)

    async def _change(
        self, info: strawberry.Info, status: renewal_models.RenewalChangeStatus
    ) -> RenewalChange | None:
        row = await resolve.open_change(info.context, self.contract, status)
        return None if row is None else RenewalChange.of(info, row)

    @classmethod
    def of(
        cls, info: strawberry.Info, contract: ContractView, contracted_total: int
    ) -> ContractRenewal | None:
        """None for a contract that does not renew."""
        if not contract.auto_renews:
            return None
        window = resolve.window(info.context, contract)
        scheduled = contract.scheduled_contracted
        return cls(
            renews_on=window.renews_on,
            next_term_expires_on=window.next_term_expires_on,
            window_opens_on=window.opens_on,
            window_open=window.is_open(info.context.settings.clock.today()),
            contracted_licenses=contracted_total if scheduled is None else scheduled,
            contract=contract,
        )
