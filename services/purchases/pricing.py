"""Quotes for buying licenses: pure functions of the contract's rules (contract README).

Every amount is exact (integers and Fractions) until it is rounded half up to the minor unit,
once, at the end. Nothing here reads the clock or the database.
"""

from __future__ import annotations

import calendar
import datetime as dt
from dataclasses import asdict, dataclass
from decimal import Decimal
from fractions import Fraction
from typing import Any

from models.enums import LicenseKind, Product
from services.errors import ContractExpired, InvalidQuantity
from services.money import format_money, round_half_up
from services.usage import STORAGE_GRANTING_KINDS

MAX_QUANTITY = 10_000


def add_months(start: dt.date, months: int) -> dt.date:
    """The same day `months` calendar months later, clamped to that month's last day."""
    index = start.month - 1 + months
    year, month = start.year + index // 12, index % 12 + 1
    return dt.date(year, month, min(start.day, calendar.monthrange(year, month)[1]))


def remaining_months(today: dt.date, expires_on: dt.date) -> Fraction:
    """Months from today (inclusive) to expires_on (inclusive): m whole months + d/D."""
    end = expires_on + dt.timedelta(days=1)
    whole = 0
    while add_months(today, whole + 1) <= end:
        whole += 1
    start_of_part, end_of_part = add_months(today, whole), add_months(today, whole + 1)
    days = (end - start_of_part).days
    month_length = (end_of_part - start_of_part).days
    return whole + Fraction(days, month_length)


@dataclass(frozen=True)
class QuoteRequest:
    """Everything a quote depends on, as plain values."""

    product: Product
    kind: LicenseKind
    quantity: int
    today: dt.date
    expires_on: dt.date
    unit_price_minor: int
    currency: str
    tax_rate_basis_points: int
    current_total: int
    current_storage_totals: int
    allowance_per_license_bytes: int


@dataclass(frozen=True)
class CostLine:
    description: str
    amount_minor: int


@dataclass(frozen=True)
class Quote:
    product: Product
    kind: LicenseKind
    quantity: int
    current_total: int
    new_total: int
    starts_on: dt.date
    commitment_ends_on: dt.date | None
    current_allowance_bytes: int
    new_allowance_bytes: int
    currency: str
    unit_price_minor: int
    recurring_minor: int
    subtotal_minor: int
    tax_minor: int
    lines: tuple[CostLine, ...]
    # What re-dating the quote to another day keeps (quotes stored before it was kept: None).
    tax_rate_basis_points: int | None = None
    allowance_per_license_bytes: int | None = None

    @property
    def total_minor(self) -> int:
        return self.subtotal_minor + self.tax_minor

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["starts_on"] = self.starts_on.isoformat()
        data["commitment_ends_on"] = (
            self.commitment_ends_on.isoformat() if self.commitment_ends_on else None
        )
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Quote:
        """A stored quote (also one stored before its last two fields were kept)."""
        ends = data["commitment_ends_on"]
        return cls(
            **{
                **data,
                "product": Product(data["product"]),
                "kind": LicenseKind(data["kind"]),
                "starts_on": dt.date.fromisoformat(data["starts_on"]),
                "commitment_ends_on": dt.date.fromisoformat(ends) if ends else None,
                "lines": tuple(CostLine(**line) for line in data["lines"]),
            }
        )


def validate_quantity(quantity: int) -> None:
    if not 1 <= quantity <= MAX_QUANTITY:
        raise InvalidQuantity(
            f"Enter a number of licenses from 1 to {MAX_QUANTITY:,}.", field="quantity"
        )


def percent(basis_points: int) -> str:
    return f"{Decimal(basis_points).scaleb(-2).normalize():f}%"


def _periods(request: QuoteRequest) -> tuple[Fraction, str]:
    """How many billing periods the subtotal covers, and how to say it."""
    if request.kind == LicenseKind.CONTRACTED:
        months = remaining_months(request.today, request.expires_on)
        return months, f"{float(months):.2f} months"
    if request.kind == LicenseKind.MONTHLY:
        return Fraction(1), "1 month"
    return Fraction(1), "1 day"


def quote(request: QuoteRequest) -> Quote:
    """The contract and cost breakdown of buying `quantity` licenses of `kind` today."""
    validate_quantity(request.quantity)
    if request.expires_on < request.today:
        raise ContractExpired(
            f"This contract expired on {request.expires_on.isoformat()}: licenses can no longer "
            "be bought into it. Renew the contract first.",
            field="contractId",
        )
    periods, periods_text = _periods(request)
    recurring = request.unit_price_minor * request.quantity
    subtotal = round_half_up(recurring * periods)
    tax = round_half_up(Fraction(subtotal * request.tax_rate_basis_points, 10_000))
    per = "day" if request.kind == LicenseKind.DAILY else "month"
    noun = "license" if request.quantity == 1 else "licenses"
    unit = format_money(request.unit_price_minor, request.currency)
    lines = (
        CostLine(
            f"{request.quantity:,} {request.kind.title()} {noun} x {unit} / {per} x {periods_text}",
            subtotal,
        ),
        CostLine(f"Tax at {percent(request.tax_rate_basis_points)}", tax),
    )
    grants_storage = request.kind in STORAGE_GRANTING_KINDS
    current_allowance = request.allowance_per_license_bytes * request.current_storage_totals
    added_allowance = request.allowance_per_license_bytes * request.quantity * grants_storage
    return Quote(
        product=request.product,
        kind=request.kind,
        quantity=request.quantity,
        current_total=request.current_total,
        new_total=request.current_total + request.quantity,
        starts_on=request.today,
        commitment_ends_on=(request.expires_on if request.kind == LicenseKind.CONTRACTED else None),
        current_allowance_bytes=current_allowance,
        new_allowance_bytes=current_allowance + added_allowance,
        currency=request.currency,
        unit_price_minor=request.unit_price_minor,
        recurring_minor=recurring,
        subtotal_minor=subtotal,
        tax_minor=tax,
        lines=lines,
        tax_rate_basis_points=request.tax_rate_basis_points,
        allowance_per_license_bytes=request.allowance_per_license_bytes,
    )


def redated(
    requested: Quote,
    *,
    today: dt.date,
    expires_on: dt.date,
    current_total: int,
    current_storage_totals: int,
    allowance_per_license_bytes: int,
    tax_rate_basis_points: int,
) -> Quote:
    """The requested quote for another day: licenses are billed from the day they are signed.

    Same unit price and tax rate as requested; the pools as they are that day.
    `tax_rate_basis_points` is used only for quotes stored before their rate was kept.
    """
    return quote(
        QuoteRequest(
            product=requested.product,
            kind=requested.kind,
            quantity=requested.quantity,
            today=today,
            expires_on=expires_on,
            unit_price_minor=requested.unit_price_minor,
            currency=requested.currency,
            tax_rate_basis_points=(
                tax_rate_basis_points
                if requested.tax_rate_basis_points is None
                else requested.tax_rate_basis_points
            ),
            current_total=current_total,
            current_storage_totals=current_storage_totals,
            allowance_per_license_bytes=allowance_per_license_bytes,
        )
    )
