"""Daily licenses billed by use: the activity intake, the month's usage and the next invoice."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from models.enums import ActivityKind, LicenseKind, Product
from resolvers.context import RequestContext
from resolvers.errors import bad_request
from resolvers.ids import decode_id
from resolvers.loaders import DailyUsersKey
from resolvers.outcome import Outcome, outcome
from resolvers.pagination import decode_cursor, encode_cursor, page_size
from services.billing import activity, invoice
from services.billing.activity import ActivityEvent, Recorded
from services.billing.invoice import InvoiceEstimate, InvoiceRequest
from services.billing.usage import DailyUser, DailyUsersPage, Month, parse_month
from services.subscription.reads import ContractView

# An event as the client sent it: (User id, product, kind, day), the id still global.
EventInput = tuple[str, Product, ActivityKind, dt.date]


async def record_activity(ctx: RequestContext, events: Iterable[EventInput]) -> Outcome[Recorded]:
    viewer = ctx.activity_reporter()
    user_ids: dict[str, int | None] = {}  # a report names the same users many times
    decoded = []
    for global_id, product, kind, on in events:
        if global_id not in user_ids:
            user_ids[global_id] = decode_id(global_id, "User")
        decoded.append(ActivityEvent(user_ids[global_id], product, kind, on))
    return await outcome(
        activity.record_activity(
            company_id=viewer.company_id, events=decoded, now=ctx.settings.clock.now()
        )
    )


def month_of(ctx: RequestContext, month: str | None) -> Month:
    """The month asked for, the current one (UTC) when none is."""
    if month is None:
        return Month.of(ctx.settings.clock.today())
    parsed = parse_month(month)
    if parsed is None:
        raise bad_request('`month` must be a month as "YYYY-MM", e.g. "2026-11".')
    return parsed


async def billable_days(ctx: RequestContext, pool_id: int, month: Month) -> int:
    ctx.license_manager()
    return (await ctx.loaders.company.billable_days(month).get()).get(pool_id, 0)


async def daily_users(
    ctx: RequestContext, pool_id: int, month: Month, first: int | None, after: str | None
) -> DailyUsersPage:
    ctx.license_manager()
    key = DailyUsersKey(pool_id, month, page_size(first), _position(after) if after else None)
    return await ctx.loaders.daily_users.load(key)


_LARGEST_KEY = 2**63 - 1  # what both databases compare as an integer


def _position(after: str) -> tuple[int, str, int]:
    """(days, name, user id) from a cursor of this connection, checked: a crafted one is a
    client error, not a database's."""
    days, name, user_id = decode_cursor(after, int, str, int)
    if not (0 <= days <= _LARGEST_KEY and 0 <= user_id <= _LARGEST_KEY) or "\x00" in name:
        raise bad_request("`after` is not a cursor from this connection.")
    return days, name, user_id


def daily_user_cursor(row: DailyUser) -> str:
    return encode_cursor(*row.position)


async def next_invoice(
    ctx: RequestContext, contract: ContractView, totals: dict[LicenseKind, int], daily_pool: int
) -> InvoiceEstimate:
    viewer = ctx.license_manager()
    today = ctx.settings.clock.today()
    days = await billable_days(ctx, daily_pool, Month.of(today))
    return invoice.next_invoice(
        InvoiceRequest(
            today=today,
            currency=contract.plan.currency,
            tax_rate_basis_points=viewer.company.tax_rate_basis_points,
            unit_prices_minor={kind: contract.plan.price_minor(kind) for kind in LicenseKind},
            totals=totals,
            daily_billable_days=days,
            ends_on=None if contract.auto_renews else contract.expires_on,
        )
    )
