"""Money as integer minor units, and its human form."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction

_SYMBOLS = {"GBP": "£", "EUR": "€", "USD": "$", "AUD": "A$", "CAD": "C$", "NZD": "NZ$"}
# ISO 4217 minor-unit exponents that differ from 2.
_EXPONENTS = {"JPY": 0, "KRW": 0, "ISK": 0, "BHD": 3, "KWD": 3, "OMR": 3, "TND": 3}


def minor_unit_exponent(currency: str) -> int:
    return _EXPONENTS.get(currency.upper(), 2)


def round_half_up(value: Fraction) -> int:
    """Round an exact amount to a whole number of minor units, halves away from zero."""
    exact = Decimal(value.numerator) / Decimal(value.denominator)
    return int(exact.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def format_money(amount_minor: int, currency: str) -> str:
    """'£1,234.50', '-€3.00', 'JPY 1,200' for currencies without a known symbol."""
    exponent = minor_unit_exponent(currency)
    major = Decimal(abs(amount_minor)).scaleb(-exponent)
    digits = f"{major:,.{exponent}f}"
    symbol = _SYMBOLS.get(currency.upper())
    body = f"{symbol}{digits}" if symbol else f"{currency.upper()} {digits}"
    return f"-{body}" if amount_minor < 0 else body
