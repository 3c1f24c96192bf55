"""A DAILY pool's usage of a month, who used it, and a contract's next invoice."""

from __future__ import annotations

import datetime as dt

import strawberry
from strawberry import Private

from resolvers import billing as resolve
from schema.common import Money, PageInfo, page_info
from schema.licenses.types import User
from schema.purchases.types import CostLine
from services.billing.invoice import InvoiceEstimate as EstimateValue
from services.billing.usage import DailyUser, Month


@strawberry.type(description="A user with billable days in the month.")
class DailyUsageUser:
    user: User | None = strawberry.field(
        description="Null once the user is deleted (their days stay billable)."
    )
    user_name: str = strawberry.field(description="The name the user had.")
    days: int
    last_active_on: dt.date


@strawberry.type(description="A user with billable days and where it stands in the connection.")
class DailyUsageUserEdge:
    node: DailyUsageUser
    row: Private[DailyUser]

    @strawberry.field(description="Where this user stands, for `after`.")
    def cursor(self) -> str:
        return resolve.daily_user_cursor(self.row)


@strawberry.type(description="A page of the users with billable days.")
class DailyUsageUserConnection:
    edges: list[DailyUsageUserEdge]
    page_info: PageInfo
    total_count: int = strawberry.field(description="Users with billable days that month.")


@strawberry.type(description="Billable user-days of a DAILY pool in one month.")
class DailyUsage:
    month: str = strawberry.field(description='The month, "YYYY-MM".')
    pool_id: Private[int]
    period: Private[Month]
    unit_price_minor: Private[int]
    currency: Private[str]

    @classmethod
    def of(cls, pool_id: int, month: Month, unit_price_minor: int, currency: str) -> DailyUsage:
        return cls(
            month=month.label,
            pool_id=pool_id,
            period=month,
            unit_price_minor=unit_price_minor,
            currency=currency,
        )

    @strawberry.field(
        description="Distinct (user, day) pairs of that month on which a user holding a DAILY "
        "license of this product was active."
    )
    async def billable_days(self, info: strawberry.Info) -> int:
        return await resolve.billable_days(info.context, self.pool_id, self.period)

    @strawberry.field(
        description="billableDays x the DAILY unit price, before tax: billed in arrears after "
        "the month ends."
    )
    async def amount(self, info: strawberry.Info) -> Money:
        days = await resolve.billable_days(info.context, self.pool_id, self.period)
        return Money.of(days * self.unit_price_minor, self.currency)

    @strawberry.field(
        description="Users with billable days that month, most days first, then by name. first "
        "defaults to 50, at most 100."
    )
    async def users(
        self, info: strawberry.Info, first: int | None = None, after: str | None = None
    ) -> DailyUsageUserConnection:
        page = await resolve.daily_users(info.context, self.pool_id, self.period, first, after)
        edges = [
            DailyUsageUserEdge(
                node=DailyUsageUser(
                    user=None if row.user is None else User.of(row.user, info.context),
                    user_name=row.name,
                    days=row.days,
                    last_active_on=row.last_active_on,
                ),
                row=row,
            )
            for row in page.users
        ]
        return DailyUsageUserConnection(
            edges=edges,
            page_info=page_info(
                page.users,
                resolve.daily_user_cursor,
                has_next_page=page.has_next_page,
                has_previous_page=bool(after),
            ),
            total_count=page.total_count,
        )


@strawberry.type(description="What a contract's next monthly invoice is expected to hold.")
class InvoiceEstimate:
    issued_on: dt.date = strawberry.field(
        description="When it is issued: the first day of next month."
    )
    lines: list[CostLine] = strawberry.field(
        description="CONTRACTED and MONTHLY licenses held today, for next month, in advance; "
        "then this month's DAILY billable days so far, in arrears."
    )
    subtotal: Money
    tax: Money
    total: Money

    @classmethod
    def of(cls, estimate: EstimateValue) -> InvoiceEstimate:
        def money(amount: int) -> Money:
            return Money.of(amount, estimate.currency)

        return cls(
            issued_on=estimate.issued_on,
            lines=CostLine.list_of(estimate.lines, estimate.currency),
            subtotal=money(estimate.subtotal_minor),
            tax=money(estimate.tax_minor),
            total=money(estimate.total_minor),
        )
