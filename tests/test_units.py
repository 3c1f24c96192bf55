"""Pure domain rules, tested directly: money, usage, ids, download links, settings."""

from __future__ import annotations

import datetime as dt
from fractions import Fraction

import pytest
from graphql import parse

from licensing.settings import Clock, Settings, SettingsError
from models.enums import LicenseKind
from resolvers.ids import decode_any_id, decode_id, encode_id
from schema.protection.bounded_cache import ENTRY_OVERHEAD_BYTES, ByteBoundedLru
from schema.protection.document_cache import CachedDocument, DocumentStore
from services.money import format_money, is_known_currency, minor_unit_exponent, round_half_up
from services.protection.persisted_queries import sha256_of
from services.subscription.download_links import (
    DownloadLinkExpired,
    DownloadLinkInvalid,
    download_url,
    verify_download,
)
from services.usage import Usage, allowance_bytes, combined


@pytest.mark.parametrize(
    ("amount", "currency", "expected"),
    [
        (123450, "GBP", "£1,234.50"),
        (0, "GBP", "£0.00"),
        (5, "GBP", "£0.05"),
        (-1250, "GBP", "-£12.50"),
        (100000000, "EUR", "€1,000,000.00"),
        (999, "USD", "US$9.99"),
        (1200, "JPY", "JP¥1,200"),
        (1234567, "KWD", "KWD1,234.567"),
        (150, "CHF", "CHF1.50"),
        # Currencies a hand-written table of exponents missed: off by 10x or 100x before Babel.
        (4500, "CLP", "CLP4,500"),
        (45000, "JOD", "JOD45.000"),
        (1250000, "VND", "₫1,250,000"),
    ],
)
def test_format_money(amount: int, currency: str, expected: str) -> None:
    assert format_money(amount, currency) == expected


@pytest.mark.parametrize(
    ("currency", "exponent"), [("GBP", 2), ("JPY", 0), ("CLP", 0), ("VND", 0), ("JOD", 3)]
)
def test_minor_units_come_from_babel(currency: str, exponent: int) -> None:
    assert minor_unit_exponent(currency) == exponent
    assert is_known_currency(currency)


def test_unknown_and_non_tender_currencies_are_not_known() -> None:
    for code in ("ABC", "gbp", "XXX", "XAU", "DEM"):
        assert not is_known_currency(code), code


def test_minor_units_follow_cldr_where_iso_differs() -> None:
    """Amounts in HUF or IDR are in whole units, as CLDR has them (ISO 4217 says 2)."""
    assert (minor_unit_exponent("HUF"), minor_unit_exponent("IDR")) == (0, 0)
    assert format_money(150000, "HUF") == "HUF150,000"


@pytest.mark.parametrize(
    ("value", "expected"),
    [(Fraction(5, 2), 3), (Fraction(-5, 2), -3), (Fraction(249, 100), 2), (Fraction(7), 7)],
)
def test_round_half_up(value: Fraction, expected: int) -> None:
    assert round_half_up(value) == expected


@pytest.mark.parametrize(
    ("used", "allowance", "percent"),
    [
        (0, 0, 0.0),
        (1, 0, 100.0),
        (1, 3, 33.3),
        (2, 3, 66.7),
        (1, 2000, 0.1),
        (1, 2001, 0.0),
        (1, 400, 0.3),
        (30, 20, 150.0),
    ],
)
def test_percent_used(used: int, allowance: int, percent: float) -> None:
    assert Usage(used, allowance).percent_used == percent


def test_allowance_counts_contracted_and_monthly_only() -> None:
    totals = {LicenseKind.CONTRACTED: 10, LicenseKind.MONTHLY: 3, LicenseKind.DAILY: 50}
    assert allowance_bytes(20, totals) == 260
    assert combined([Usage(1, 10), Usage(2, 20)]) == Usage(3, 30)


def test_global_ids_round_trip_and_reject_garbage() -> None:
    assert decode_id(encode_id("Contract", 7), "Contract") == 7
    assert decode_id(encode_id("Contract", 7), "User") is None
    for garbage in ("", "abc", "Q29udHJhY3Q=", encode_id("Contract", 1) + "x", "Q29udHJhY3Q6LTE="):
        assert decode_any_id(garbage) is None


def test_download_links_verify_and_expire() -> None:
    url = download_url(
        base_url="http://h", secret_key="k", document_id=3, now_ts=1000, ttl_seconds=60
    )
    query = dict(part.split("=") for part in url.split("?")[1].split("&"))
    verify_download(secret_key="k", document_id=3, now_ts=1060, **query)
    with pytest.raises(DownloadLinkExpired):
        verify_download(secret_key="k", document_id=3, now_ts=1061, **query)
    with pytest.raises(DownloadLinkInvalid):
        verify_download(secret_key="other", document_id=3, now_ts=1000, **query)
    with pytest.raises(DownloadLinkInvalid):
        verify_download(secret_key="k", document_id=4, now_ts=1000, **query)


def test_settings_from_env_and_the_pinned_clock() -> None:
    settings = Settings.from_env(
        {
            "LICENSING_TODAY": "2027-03-15",
            "SECRET_KEY": "s",
            "RATE_LIMIT_ENABLED": "false",
            "PUBLIC_BASE_URL": "https://x.example/",
        }
    )
    assert settings.clock.today() == dt.date(2027, 3, 15)
    assert settings.clock.now().tzinfo is not None
    assert settings.public_base_url == "https://x.example"
    assert settings.rate_limit_enabled is False
    assert Clock().today() == dt.datetime.now(dt.UTC).date()
    with pytest.raises(SettingsError, match="LICENSING_TODAY must be YYYY-MM-DD"):
        Settings.from_env({"LICENSING_TODAY": "15/03/2027", "SECRET_KEY": "s"})
    with pytest.raises(SettingsError, match="SMTP_PORT"):
        Settings.from_env({"SMTP_PORT": "x", "SECRET_KEY": "s"})


def test_the_least_recently_used_entry_goes_first() -> None:
    # Room for two entries of 100 bytes with their overhead, not three.
    cache: ByteBoundedLru[str, bytes] = ByteBoundedLru(
        max_bytes=2 * (100 + ENTRY_OVERHEAD_BYTES) + 50, size_of=len
    )
    cache.put("a", b"1" * 100)
    cache.put("b", b"2" * 100)
    assert cache.get("a") is not None  # now b is the least recently used
    cache.put("c", b"3" * 100)
    assert (cache.get("a") is not None, cache.get("b"), cache.get("c") is not None) == (
        True,
        None,
        True,
    )


def test_a_cache_is_bounded_by_bytes_not_entries() -> None:
    cache: ByteBoundedLru[str, bytes] = ByteBoundedLru(max_bytes=64 * 1024, size_of=len)
    for n in range(100):
        cache.put(f"small{n}", b"x" * 10)
    assert len(cache) == 100
    cache.put("big", b"x" * 40 * 1024)  # evicts small ones until it fits
    assert cache.get("big") is not None
    assert cache.bytes_used <= 64 * 1024
    cache.put("huge", b"x" * 1024 * 1024)  # bigger than the whole cache: never kept
    assert cache.get("huge") is None
    assert cache.bytes_used <= 64 * 1024


def test_a_huge_document_is_never_kept_by_the_document_cache() -> None:
    store = DocumentStore(max_bytes=16 * 1024 * 1024)
    small = "{ viewer { name } }"
    huge = "# padding\n" * 100_000 + small  # a megabyte of comments, few tokens
    for query in (small, huge):
        store.put(sha256_of(query), CachedDocument(parse(query), len(query)))
    assert store.get(sha256_of(small)) is not None
    assert store.get(sha256_of(huge)) is None
    assert store.bytes_used < 16 * 1024
