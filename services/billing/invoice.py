"""What a contract's next monthly invoice is expected to hold: a pure function of today's
licenses, this month's billable days and the prices (contract README, InvoiceEstimate).

CONTRACTED and MONTHLY licenses are billed for next month, in advance: a line per pool that
has licenses, unless the contract does not renew and ends before next month. DAILY licenses
are billed in arrears: one line for this month's billable days so far. Amounts are exact
integers; the tax is rounded half up once, as for purchases. Pending purchases are not billed.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from fractions import Fraction

from models.enums import LicenseKind
from services.billing.usage import Month
from services.money import format_money, round_half_up
from services.purchases.pricing import CostLine

IN_ADVANCE = (LicenseKind.CONTRACTED, LicenseKind.MONTHLY)


@dataclass(frozen=True)
class InvoiceRequest:
    today: dt.date
    currency: str
    tax_rate_basis_points: int
    unit_prices_minor: Mapping[LicenseKind, int]
    # Licenses held today, per kind (DAILY's does not matter: days are billed, not licenses).
    totals: Mapping[LicenseKind, int]
    daily_billable_days: int
    # The contract's last day if it does not renew; None if it renews.
    ends_on: dt.date | None = None


@dataclass(frozen=True)
class InvoiceEstimate:
    issued_on: dt.date
    currency: str
    lines: tuple[CostLine, ...]
    subtotal_minor: int
    tax_minor: int

    @property
    def total_minor(self) -> int:
        return self.subtotal_minor + self.tax_minor


def _count(number: int, singular: str, plural: str) -> str:
    return f"{number:,} {singular if number == 1 else plural}"


def next_invoice(request: InvoiceRequest) -> InvoiceEstimate:
    def unit(kind: LicenseKind) -> str:
        return format_money(request.unit_prices_minor[kind], request.currency)

    issued_on = Month.of(request.today).next_first_day
    runs_next_month = request.ends_on is None or request.ends_on >= issued_on
    lines = [
        CostLine(
            f"{_count(request.totals[kind], kind.title() + ' license', kind.title() + ' licenses')}"
            f" x {unit(kind)} / month",
            request.totals[kind] * request.unit_prices_minor[kind],
        )
        for kind in IN_ADVANCE
        if runs_next_month and request.totals.get(kind, 0) > 0
    ]
    days = request.daily_billable_days
    lines.append(
        CostLine(
            f"{_count(days, 'Daily license day', 'Daily license days')} in "
            f"{request.today:%B %Y} so far x {unit(LicenseKind.DAILY)} / day",
            days * request.unit_prices_minor[LicenseKind.DAILY],
        )
    )
    subtotal = sum(line.amount_minor for line in lines)
    tax = round_half_up(Fraction(subtotal * request.tax_rate_basis_points, 10_000))
    return InvoiceEstimate(
        issued_on=issued_on,
        currency=request.currency,
        lines=tuple(lines),
        subtotal_minor=subtotal,
        tax_minor=tax,
    )
