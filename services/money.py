"""Money as integer minor units, and its human form (Babel's CLDR data, not a table of ours)."""

from __future__ import annotations

import functools
import threading
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction

from babel.core import get_global
from babel.numbers import (
    format_currency,
    get_currency_precision,
    get_territory_currencies,
    is_currency,
)
from cachetools import LRUCache, cached

# The service has no per-company locale yet: amounts read as a British customer reads them
# ("£1,234.50", "€3.00", "US$3.00").
LOCALE = "en_GB"


@functools.cache
def _legal_tender() -> frozenset[str]:
    """Currencies that are legal tender somewhere today, by CLDR (not XXX, XAU or DEM)."""
    territories = get_global("territory_currencies")
    return frozenset(code for t in territories for code in get_territory_currencies(t))


def is_known_currency(currency: str) -> bool:
    """A currency customers pay in today, known to Babel (so its minor unit is not guessed)."""
    return is_currency(currency) and currency in _legal_tender()


def minor_unit_exponent(currency: str) -> int:
    """Digits after the decimal point, as CLDR's financial `digits`: 2 for GBP, 3 for JOD, 0
    for JPY and CLP, and 0 for HUF, IDR, COP and IQD, which ISO 4217 lists with 2 or 3 but
    which are used without them."""
    return int(get_currency_precision(currency))


def round_half_up(value: Fraction) -> int:
    """Round an exact amount to a whole number of minor units, halves away from zero."""
    exact = Decimal(value.numerator) / Decimal(value.denominator)
    return int(exact.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def major_units(amount_minor: int, currency: str) -> Decimal:
    """The exact amount in major units: 123450 GBP minor units is Decimal('1234.50')."""
    return Decimal(amount_minor).scaleb(-minor_unit_exponent(currency))


# Formatting through CLDR takes about 100 us; prices repeat on every page. The entries are a
# number, a code and a short string: bounding their count bounds their memory. PDFs format in
# threads, hence the lock.
@cached(LRUCache(maxsize=8192), lock=threading.Lock())
def format_money(amount_minor: int, currency: str) -> str:
    """'£1,234.50', '-€3.00', 'JOD45.000': exact, since the amount is already in minor units."""
    return str(format_currency(major_units(amount_minor, currency), currency, locale=LOCALE))
