"""The money rules of the contract README, with hand-computed values."""

from __future__ import annotations

import datetime as dt
from fractions import Fraction

import pytest

from models.enums import LicenseKind, Product
from services.errors import InvalidQuantity
from services.purchases.pricing import (
    ContractExpired,
    CostLine,
    Quote,
    QuoteRequest,
    add_months,
    quote,
    remaining_months,
)

D = dt.date
GB = 1024**3


def request(**changes: object) -> QuoteRequest:
    base: dict[str, object] = {
        "product": Product.JOBS,
        "kind": LicenseKind.CONTRACTED,
        "quantity": 3,
        "today": D(2027, 3, 15),
        "expires_on": D(2027, 12, 31),
        "unit_price_minor": 4500,
        "currency": "GBP",
        "tax_rate_basis_points": 2000,
        "current_total": 10,
        "current_storage_totals": 13,
        "allowance_per_license_bytes": 20 * GB,
    }
    return QuoteRequest(**(base | changes))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("start", "months", "expected"),
    [
        (D(2027, 1, 31), 1, D(2027, 2, 28)),
        (D(2028, 1, 31), 1, D(2028, 2, 29)),
        (D(2027, 1, 31), 2, D(2027, 3, 31)),
        (D(2027, 11, 30), 3, D(2028, 2, 29)),
        (D(2027, 12, 15), 1, D(2028, 1, 15)),
        (D(2028, 2, 29), 12, D(2029, 2, 28)),
    ],
)
def test_add_months_clamps_to_the_month_end(start: dt.date, months: int, expected: dt.date) -> None:
    assert add_months(start, months) == expected


@pytest.mark.parametrize(
    ("today", "expires_on", "months"),
    [
        (D(2027, 3, 15), D(2027, 12, 31), 9 + Fraction(17, 31)),  # the README's example
        (D(2027, 1, 31), D(2027, 3, 30), Fraction(2)),  # Jan 31 + 2 months = Mar 31 = end
        (D(2027, 1, 31), D(2027, 2, 27), Fraction(1)),  # Jan 31 + 1 month = Feb 28 = end
        (D(2027, 1, 31), D(2027, 2, 26), Fraction(27, 28)),  # the billing month is 28 days
        (D(2028, 1, 30), D(2028, 2, 29), 1 + Fraction(1, 30)),  # leap day, then Feb 29..Mar 30
        (D(2028, 2, 29), D(2029, 2, 27), Fraction(12)),  # from a leap day, clamped a year on
        (D(2027, 6, 10), D(2027, 6, 10), Fraction(1, 30)),  # expiring today: one day of June
    ],
)
def test_remaining_months(today: dt.date, expires_on: dt.date, months: Fraction) -> None:
    assert remaining_months(today, expires_on) == months


def test_the_readme_example_end_to_end() -> None:
    result = quote(request())
    # 45.00 x 3 x (9 + 17/31) = 1,289.032...; tax 20% of 1,289.03 = 257.806
    assert (result.recurring_minor, result.subtotal_minor, result.tax_minor) == (
        13500,
        128903,
        25781,
    )
    assert result.total_minor == 154684
    assert result.lines == (
        CostLine("3 Contracted licenses x £45.00 / month x 9.55 months", 128903),
        CostLine("Tax at 20%", 25781),
    )
    assert sum(line.amount_minor for line in result.lines) == result.total_minor
    assert (result.current_total, result.new_total) == (10, 13)
    assert result.commitment_ends_on == D(2027, 12, 31)
    assert result.starts_on == D(2027, 3, 15)
    assert (result.current_allowance_bytes, result.new_allowance_bytes) == (260 * GB, 320 * GB)


@pytest.mark.parametrize(
    ("changes", "subtotal", "tax"),
    [
        ({"today": D(2027, 1, 31), "expires_on": D(2027, 2, 26), "quantity": 1}, 4339, 868),
        ({"today": D(2028, 1, 30), "expires_on": D(2028, 2, 29), "quantity": 1}, 4650, 930),
        ({"today": D(2027, 6, 10), "expires_on": D(2027, 6, 10), "quantity": 1}, 150, 30),
        (
            {"kind": LicenseKind.MONTHLY, "unit_price_minor": 5500, "quantity": 10_000},
            55_000_000,
            11_000_000,
        ),
        (
            {
                "kind": LicenseKind.DAILY,
                "unit_price_minor": 400,
                "quantity": 1,
                "tax_rate_basis_points": 0,
            },
            400,
            0,
        ),
        # 17.5% of 10p is 1.75p: rounded half up once, to 2p.
        (
            {
                "kind": LicenseKind.DAILY,
                "unit_price_minor": 10,
                "quantity": 1,
                "tax_rate_basis_points": 1750,
            },
            10,
            2,
        ),
        # 0.01% of 50.00 is exactly half a penny: up.
        (
            {
                "kind": LicenseKind.MONTHLY,
                "unit_price_minor": 5000,
                "quantity": 1,
                "tax_rate_basis_points": 1,
            },
            5000,
            1,
        ),
    ],
)
def test_subtotal_and_tax(changes: dict[str, object], subtotal: int, tax: int) -> None:
    result = quote(request(**changes))
    assert (result.subtotal_minor, result.tax_minor) == (subtotal, tax)
    assert sum(line.amount_minor for line in result.lines) == subtotal + tax


def test_rolling_kinds_bill_one_period_and_have_no_commitment_end() -> None:
    monthly = quote(request(kind=LicenseKind.MONTHLY, unit_price_minor=5500, quantity=2))
    assert monthly.lines[0].description == "2 Monthly licenses x £55.00 / month x 1 month"
    assert monthly.commitment_ends_on is None
    daily = quote(
        request(kind=LicenseKind.DAILY, unit_price_minor=400, quantity=1, tax_rate_basis_points=0)
    )
    assert daily.lines == (
        CostLine("1 Daily license x £4.00 / day x 1 day", 400),
        CostLine("Tax at 0%", 0),
    )
    # Daily licenses grant no storage.
    assert daily.new_allowance_bytes == daily.current_allowance_bytes == 260 * GB


@pytest.mark.parametrize("kind", list(LicenseKind))
def test_an_expired_contract_cannot_be_bought_into(kind: LicenseKind) -> None:
    with pytest.raises(ContractExpired) as raised:
        quote(request(kind=kind, today=D(2028, 1, 1), expires_on=D(2027, 12, 31)))
    assert raised.value.field == "contractId"
    assert "expired on 2027-12-31" in raised.value.message


@pytest.mark.parametrize("quantity", [0, -1, 10_001])
def test_quantity_is_one_to_ten_thousand(quantity: int) -> None:
    with pytest.raises(InvalidQuantity) as raised:
        quote(request(quantity=quantity))
    assert raised.value.field == "quantity"


def test_quote_survives_freezing() -> None:
    result = quote(request())
    assert Quote.from_json(result.to_json()) == result
