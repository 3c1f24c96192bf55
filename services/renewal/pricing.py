"""What the next term costs with a number of CONTRACTED licenses: a pure function (contract
README, "Terms and renewal"). Integers throughout; the tax is the one rounding."""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass
from fractions import Fraction
from typing import Any

from models.enums import Product
from services.errors import InvalidQuantity
from services.money import format_money, round_half_up
from services.purchases.pricing import MAX_QUANTITY, CostLine, percent
from services.renewal.terms import next_term


@dataclass(frozen=True)
class RenewalRequest:
    product: Product
    contracted_licenses: int
    current_contracted_licenses: int
    expires_on: dt.date  # the current term's last day
    term_months: int
    unit_price_minor: int
    currency: str
    tax_rate_basis_points: int
    monthly_total: int  # MONTHLY licenses today: they carry over into the next term
    allowance_per_license_bytes: int


@dataclass(frozen=True)
class RenewalQuote:
    product: Product
    current_contracted_licenses: int
    contracted_licenses: int
    term_starts_on: dt.date
    term_expires_on: dt.date
    term_months: int
    currency: str
    unit_price_minor: int
    monthly_minor: int
    subtotal_minor: int
    tax_minor: int
    tax_rate_basis_points: int
    current_allowance_bytes: int
    new_allowance_bytes: int
    lines: tuple[CostLine, ...]

    @property
    def total_minor(self) -> int:
        return self.subtotal_minor + self.tax_minor

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["term_starts_on"] = self.term_starts_on.isoformat()
        data["term_expires_on"] = self.term_expires_on.isoformat()
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RenewalQuote:
        return cls(
            **{
                **data,
                "product": Product(data["product"]),
                "term_starts_on": dt.date.fromisoformat(data["term_starts_on"]),
                "term_expires_on": dt.date.fromisoformat(data["term_expires_on"]),
                "lines": tuple(CostLine(**line) for line in data["lines"]),
            }
        )


def validate_contracted(count: int) -> None:
    if not 0 <= count <= MAX_QUANTITY:
        raise InvalidQuantity(
            f"Enter a number of contracted licenses from 0 to {MAX_QUANTITY:,}.",
            field="contractedLicenses",
        )


def renewal_quote(request: RenewalRequest) -> RenewalQuote:
    """monthlyAmount = unit x count; subtotal = monthlyAmount x termMonths; tax as purchases."""
    validate_contracted(request.contracted_licenses)
    following = next_term(request.expires_on, request.term_months)
    count = request.contracted_licenses
    monthly = request.unit_price_minor * count
    subtotal = monthly * request.term_months
    tax = round_half_up(Fraction(subtotal * request.tax_rate_basis_points, 10_000))
    unit = format_money(request.unit_price_minor, request.currency)
    noun = "license" if count == 1 else "licenses"
    months = "month" if request.term_months == 1 else "months"
    lines = (
        CostLine(
            f"{count:,} Contracted {noun} x {unit} / month x {request.term_months} {months}",
            subtotal,
        ),
        CostLine(f"Tax at {percent(request.tax_rate_basis_points)}", tax),
    )
    per_license = request.allowance_per_license_bytes
    return RenewalQuote(
        product=request.product,
        current_contracted_licenses=request.current_contracted_licenses,
        contracted_licenses=count,
        term_starts_on=following.starts_on,
        term_expires_on=following.expires_on,
        term_months=request.term_months,
        currency=request.currency,
        unit_price_minor=request.unit_price_minor,
        monthly_minor=monthly,
        subtotal_minor=subtotal,
        tax_minor=tax,
        tax_rate_basis_points=request.tax_rate_basis_points,
        current_allowance_bytes=per_license
        * (request.current_contracted_licenses + request.monthly_total),
        new_allowance_bytes=per_license * (count + request.monthly_total),
        lines=lines,
    )
