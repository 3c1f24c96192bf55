"""Leaky buckets of query cost, kept in the database so every worker shares them."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

from tortoise.connection import get_connection
from tortoise.exceptions import IntegrityError

from models.api import RateLimitBucket


@dataclass(frozen=True)
class Bucket:
    capacity: float
    restore_rate: float  # cost units per second


@dataclass(frozen=True)
class Decision:
    allowed: bool
    available: float
    retry_after_seconds: float


# Refill for the time elapsed (capped at capacity) and take the cost, in one statement, only
# if enough is there: concurrent requests of one token, from any worker, never overspend.
# Numbered parameters (?1 on SQLite, $1 on PostgreSQL) let the statement reuse them.
# A request that read the clock just before a concurrent one refills nothing (never less).
_ELAPSED = "(CASE WHEN {now} > updated_at THEN {now} - updated_at ELSE 0 END)"
_REFILLED = f"(available + {_ELAPSED} * {{rate}})"
_BOUNDED = f"(CASE WHEN {_REFILLED} > {{capacity}} THEN {{capacity}} ELSE {_REFILLED} END)"
_LATEST = "(CASE WHEN {now} > updated_at THEN {now} ELSE updated_at END)"
_TAKE = (
    f"UPDATE rate_limit_bucket SET available = {_BOUNDED} - {{cost}}, updated_at = {_LATEST}, "
    f"version = version + 1 WHERE key = {{key}} AND {_BOUNDED} >= {{cost}} RETURNING available"
)


def _take_sql(dialect: str) -> str:
    marker = "$" if dialect == "postgres" else "?"
    names = ["key", "now", "rate", "capacity", "cost"]
    return _TAKE.format(**{name: f"{marker}{n}" for n, name in enumerate(names, start=1)})


async def _try_take(key: str, cost: int, bucket: Bucket, now: float) -> float | None:
    connection = get_connection("default")
    values = [key, now, bucket.restore_rate, bucket.capacity, cost]
    # execute_query_dict, because the asyncpg client's execute_query drops RETURNING rows.
    sql = _take_sql(connection.capabilities.dialect)
    rows = await connection.execute_query_dict(sql, values)
    return float(rows[0]["available"]) if rows else None


async def take(*, key: str, cost: int, bucket: Bucket, now: float) -> Decision:
    """Spend `cost` from the bucket if it holds that much; otherwise say when it will."""
    left = await _try_take(key, cost, bucket, now)
    if left is None:
        # Perhaps the key's first request: create its full bucket (unless a concurrent request
        # just did) and try once more.
        with contextlib.suppress(IntegrityError):
            await RateLimitBucket.create(key=key, available=bucket.capacity, updated_at=now)
        left = await _try_take(key, cost, bucket, now)
    if left is not None:
        return Decision(allowed=True, available=left, retry_after_seconds=0.0)
    row = await RateLimitBucket.get(key=key)
    elapsed = max(now - row.updated_at, 0.0)
    available = min(bucket.capacity, row.available + elapsed * bucket.restore_rate)
    wait = max(cost - available, 0.0) / bucket.restore_rate
    return Decision(allowed=False, available=available, retry_after_seconds=wait)


_FULL = (
    "DELETE FROM rate_limit_bucket WHERE available + ({now} - updated_at) * {rate} >= {capacity}"
)


async def forget_full(*, bucket: Bucket, now: float) -> int:
    """Delete the buckets that have refilled by now: a missing bucket is a full one.

    Without this, every client address ever seen would keep a row. Returns how many went.
    """
    connection = get_connection("default")
    marker = "$" if connection.capabilities.dialect == "postgres" else "?"
    sql = _FULL.format(now=f"{marker}1", rate=f"{marker}2", capacity=f"{marker}3")
    deleted, _ = await connection.execute_query(sql, [now, bucket.restore_rate, bucket.capacity])
    return int(deleted)
