"""Settings, read once from the environment (see the README's configuration table)."""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from services.webhooks.addresses import RESOLVE_TIMEOUT_SECONDS, AddressPolicy


class SettingsError(ValueError):
    """An environment variable holds a value the service cannot use."""


def _flag(value: str) -> bool:
    lowered = value.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise SettingsError(f"expected true or false, got {value!r}")


def _whole_number(name: str, value: str, *, least: int) -> int:
    try:
        number = int(value)
    except ValueError:
        raise SettingsError(f"{name} must be a whole number, got {value!r}") from None
    if number < least:
        raise SettingsError(f"{name} must be at least {least}, got {number}")
    return number


def _positive_int(name: str, value: str) -> int:
    return _whole_number(name, value, least=1)


def _non_negative_int(name: str, value: str) -> int:
    return _whole_number(name, value, least=0)


def _positive_float(name: str, value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise SettingsError(f"{name} must be a number, got {value!r}") from None
    if number <= 0:
        raise SettingsError(f"{name} must be positive, got {number}")
    return number


def _api_limits(env: Mapping[str, str]) -> dict[str, Any]:
    def number(name: str, default: str) -> int:
        return _positive_int(name, env.get(name, default))

    return {
        "max_request_bytes": number("MAX_REQUEST_BYTES", str(1024 * 1024)),
        "max_query_depth": number("MAX_QUERY_DEPTH", "12"),
        "max_query_aliases": number("MAX_QUERY_ALIASES", "30"),
        "max_query_tokens": number("MAX_QUERY_TOKENS", "2000"),
        "max_query_cost": number("MAX_QUERY_COST", "1000"),
        "max_batch_operations": number("MAX_BATCH_OPERATIONS", "10"),
        "rate_limit_capacity": number("RATE_LIMIT_CAPACITY", "2000"),
        "rate_limit_restore_rate": _positive_float(
            "RATE_LIMIT_RESTORE_RATE", env.get("RATE_LIMIT_RESTORE_RATE", "100")
        ),
        "persisted_queries_only": _flag(env.get("PERSISTED_QUERIES_ONLY", "false")),
        "graphql_introspection": _flag(env.get("GRAPHQL_INTROSPECTION", "true")),
        "graphiql": _flag(env.get("GRAPHIQL", "true")),
    }


def _caches(env: Mapping[str, str]) -> dict[str, Any]:
    def size(name: str, default: int, *, least: int) -> int:
        return _whole_number(name, env.get(name, str(default)), least=least)

    return {
        "response_cache_bytes": size("RESPONSE_CACHE_BYTES", 64 * 1024 * 1024, least=0),
        "document_cache_bytes": size("DOCUMENT_CACHE_BYTES", 16 * 1024 * 1024, least=0),
        "max_persisted_query_bytes": size("MAX_PERSISTED_QUERY_BYTES", 32 * 1024, least=1),
        "max_automatic_persisted_queries": size("MAX_AUTOMATIC_PERSISTED_QUERIES", 10_000, least=1),
    }


def _live_updates(env: Mapping[str, str]) -> dict[str, Any]:
    def number(name: str, default: int) -> int:
        return _positive_int(name, env.get(name, str(default)))

    return {
        "live_connections_per_token": number("LIVE_CONNECTIONS_PER_TOKEN", 5),
        "live_connections_per_company": number("LIVE_CONNECTIONS_PER_COMPANY", 50),
        "live_init_timeout_seconds": _positive_float(
            "LIVE_INIT_TIMEOUT_SECONDS", env.get("LIVE_INIT_TIMEOUT_SECONDS", "10")
        ),
        "live_max_message_bytes": number("LIVE_MAX_MESSAGE_BYTES", 64 * 1024),
    }


def _networks(value: str) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    try:
        return tuple(
            ipaddress.ip_network(part.strip()) for part in value.split(",") if part.strip()
        )
    except ValueError as error:
        raise SettingsError(
            f"WEBHOOK_ALLOWED_CIDRS must be networks separated by commas, e.g. 127.0.0.0/8: {error}"
        ) from None


def _webhooks(env: Mapping[str, str]) -> dict[str, Any]:
    def seconds(name: str, default: str) -> float:
        return _positive_float(name, env.get(name, default))

    return {
        "webhook_allowed_networks": _networks(env.get("WEBHOOK_ALLOWED_CIDRS", "")),
        "webhook_allow_http": _flag(env.get("WEBHOOK_ALLOW_HTTP", "false")),
        "webhook_timeout_seconds": seconds("WEBHOOK_TIMEOUT_SECONDS", "10"),
        "webhook_poll_seconds": seconds("WEBHOOK_POLL_SECONDS", "1"),
        "webhook_lease_seconds": seconds("WEBHOOK_LEASE_SECONDS", "60"),
        "webhook_concurrency": _positive_int(
            "WEBHOOK_CONCURRENCY", env.get("WEBHOOK_CONCURRENCY", "16")
        ),
        "webhook_retry_scale": seconds("WEBHOOK_RETRY_SCALE", "1"),
    }


def _operations(env: Mapping[str, str]) -> dict[str, Any]:
    names = env.get("METRICS_OPERATION_NAMES", "")
    return {
        "metrics_token": env.get("METRICS_TOKEN") or None,
        "metrics_operation_names": tuple(name for name in names.replace(",", " ").split() if name),
    }


def _pinned_date(value: str | None) -> dt.date | None:
    if not value:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise SettingsError(f"LICENSING_TODAY must be YYYY-MM-DD, got {value!r}") from None


@dataclass(frozen=True)
class Clock:
    """The service's notion of now, in UTC; `pinned_today` fixes the date (tests, demos)."""

    pinned_today: dt.date | None = None

    def now(self) -> dt.datetime:
        real = dt.datetime.now(dt.UTC)
        if self.pinned_today is None:
            return real
        return dt.datetime.combine(self.pinned_today, real.timetz())

    def today(self) -> dt.date:
        return self.now().date()


@dataclass(frozen=True)
class Settings:
    database_url: str = "sqlite://licensing.db"
    database_pool_max: int = 10
    database_statement_timeout_ms: int = 15_000
    smtp_host: str | None = None
    smtp_port: int = 25
    smtp_username: str | None = None
    smtp_password: str | None = field(default=None, repr=False)
    smtp_starttls: bool = False
    mail_from: str = "licensing@localhost"
    public_base_url: str = "http://127.0.0.1:8000"
    secret_key: str = field(default_factory=lambda: secrets.token_urlsafe(32), repr=False)
    # No SECRET_KEY was set: the key above was made for this start (`licensing serve` warns).
    secret_key_generated: bool = False
    signature_link_ttl_hours: int = 720
    download_url_ttl_seconds: int = 900
    rate_limit_enabled: bool = True
    max_request_bytes: int = 1024 * 1024
    max_query_depth: int = 12
    max_query_aliases: int = 30
    max_query_tokens: int = 2000
    max_query_cost: int = 1000
    max_batch_operations: int = 10
    rate_limit_capacity: int = 2000
    rate_limit_restore_rate: float = 100.0
    persisted_queries_only: bool = False
    graphql_introspection: bool = True
    graphiql: bool = True
    outbox_poll_seconds: float = 1.0
    outbox_retry_base_seconds: float = 10.0
    outbox_max_attempts: int = 12
    # Long enough for one SMTP conversation, short enough that a crashed sender's rows move on.
    outbox_lease_seconds: float = 120.0
    renewal_window_days: int = 28
    signature_reminder_hours: int = 168
    # How often each process looks for due renewals, agreements to render and notices to send.
    renewal_poll_seconds: float = 30.0
    response_cache_bytes: int = 64 * 1024 * 1024
    # Live updates (WebSocket): connections per token and per company in each process, the
    # wait for connection_init, and the largest message a client may send.
    live_connections_per_token: int = 5
    live_connections_per_company: int = 50
    live_init_timeout_seconds: float = 10.0
    live_max_message_bytes: int = 64 * 1024
    document_cache_bytes: int = 16 * 1024 * 1024
    max_persisted_query_bytes: int = 32 * 1024
    max_automatic_persisted_queries: int = 10_000
    # Webhooks: networks and http:// allowed despite the SSRF rules (tests only), the time an
    # attempt may take, how often each process looks for due deliveries, a sender's lease on
    # one, and the attempts one process makes at once.
    webhook_allowed_networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = ()
    webhook_allow_http: bool = False
    webhook_timeout_seconds: float = 10.0
    webhook_poll_seconds: float = 1.0
    webhook_lease_seconds: float = 60.0
    webhook_concurrency: int = 16
    webhook_retry_scale: float = 1.0  # shortens the retry schedule (tests, soaks)
    # /metrics: the bearer token it asks for (else loopback clients only), and the operation
    # names it reports as they are besides those of registered persisted queries.
    metrics_token: str | None = field(default=None, repr=False)
    metrics_operation_names: tuple[str, ...] = ()
    clock: Clock = field(default_factory=Clock)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        secret_key = env.get("SECRET_KEY") or ""
        return cls(
            database_url=env.get("DATABASE_URL", cls.database_url),
            database_pool_max=_positive_int(
                "DATABASE_POOL_MAX", env.get("DATABASE_POOL_MAX", "10")
            ),
            database_statement_timeout_ms=_positive_int(
                "DATABASE_STATEMENT_TIMEOUT_MS", env.get("DATABASE_STATEMENT_TIMEOUT_MS", "15000")
            ),
            smtp_host=env.get("SMTP_HOST") or None,
            smtp_port=_positive_int("SMTP_PORT", env.get("SMTP_PORT", "25")),
            smtp_username=env.get("SMTP_USERNAME") or None,
            smtp_password=env.get("SMTP_PASSWORD") or None,
            smtp_starttls=_flag(env.get("SMTP_STARTTLS", "false")),
            mail_from=env.get("MAIL_FROM", cls.mail_from),
            public_base_url=env.get("PUBLIC_BASE_URL", cls.public_base_url).rstrip("/"),
            secret_key=secret_key or secrets.token_urlsafe(32),
            secret_key_generated=not secret_key,
            signature_link_ttl_hours=_positive_int(
                "SIGNATURE_LINK_TTL_HOURS", env.get("SIGNATURE_LINK_TTL_HOURS", "720")
            ),
            download_url_ttl_seconds=_positive_int(
                "DOWNLOAD_URL_TTL_SECONDS", env.get("DOWNLOAD_URL_TTL_SECONDS", "900")
            ),
            rate_limit_enabled=_flag(env.get("RATE_LIMIT_ENABLED", "true")),
            **_api_limits(env),
            outbox_poll_seconds=_positive_float(
                "OUTBOX_POLL_SECONDS", env.get("OUTBOX_POLL_SECONDS", "1")
            ),
            outbox_retry_base_seconds=_positive_float(
                "OUTBOX_RETRY_BASE_SECONDS", env.get("OUTBOX_RETRY_BASE_SECONDS", "10")
            ),
            outbox_max_attempts=_positive_int(
                "OUTBOX_MAX_ATTEMPTS", env.get("OUTBOX_MAX_ATTEMPTS", "12")
            ),
            outbox_lease_seconds=_positive_float(
                "OUTBOX_LEASE_SECONDS", env.get("OUTBOX_LEASE_SECONDS", "120")
            ),
            renewal_window_days=_positive_int(
                "RENEWAL_WINDOW_DAYS", env.get("RENEWAL_WINDOW_DAYS", "28")
            ),
            signature_reminder_hours=_positive_int(
                "SIGNATURE_REMINDER_HOURS", env.get("SIGNATURE_REMINDER_HOURS", "168")
            ),
            renewal_poll_seconds=_positive_float(
                "RENEWAL_POLL_SECONDS", env.get("RENEWAL_POLL_SECONDS", "30")
            ),
            **_caches(env),
            **_live_updates(env),
            **_webhooks(env),
            **_operations(env),
            clock=Clock(pinned_today=_pinned_date(env.get("LICENSING_TODAY"))),
        )

    def __post_init__(self) -> None:
        # A lease must outlast an attempt (its lookup included), or a second sender could send
        # the same delivery while the first still waits for the answer.
        shortest = self.webhook_timeout_seconds + RESOLVE_TIMEOUT_SECONDS + 1
        if self.webhook_lease_seconds < shortest:
            raise SettingsError(
                f"WEBHOOK_LEASE_SECONDS must be at least {shortest:g} (WEBHOOK_TIMEOUT_SECONDS "
                f"+ {RESOLVE_TIMEOUT_SECONDS:g} s for the lookup + 1), got "
                f"{self.webhook_lease_seconds:g}"
            )

    @property
    def webhook_policy(self) -> AddressPolicy:
        return AddressPolicy(
            allowed_networks=self.webhook_allowed_networks, allow_http=self.webhook_allow_http
        )

    @property
    def database_options(self) -> dict[str, int]:
        return {
            "pool_max": self.database_pool_max,
            "statement_timeout_ms": self.database_statement_timeout_ms,
        }
