"""Leaky buckets of query cost, kept in the database so every worker shares them."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

from tortoise.exceptions import IntegrityError

from models.api import RateLimitBucket

ATTEMPTS = 8


@dataclass(frozen=True)
class Bucket:
    capacity: float
    restore_rate: float  # cost units per second


@dataclass(frozen=True)
class Decision:
    allowed: bool
    available: float
    retry_after_seconds: float


def _refilled(row: RateLimitBucket, bucket: Bucket, now: float) -> float:
    elapsed = max(now - row.updated_at, 0.0)
    return min(bucket.capacity, row.available + elapsed * bucket.restore_rate)


async def take(*, key: str, cost: int, bucket: Bucket, now: float) -> Decision:
    """Spend `cost` from the bucket if it holds that much; otherwise say when it will."""
    for _ in range(ATTEMPTS):
        row = await RateLimitBucket.get_or_none(key=key)
        if row is None:
            with contextlib.suppress(IntegrityError):  # another request may create it first
                await RateLimitBucket.create(key=key, available=bucket.capacity, updated_at=now)
            continue
        available = _refilled(row, bucket, now)
        if available < cost:
            wait = (cost - available) / bucket.restore_rate
            return Decision(allowed=False, available=available, retry_after_seconds=wait)
        won = await RateLimitBucket.filter(key=key, version=row.version).update(
            available=available - cost, updated_at=now, version=row.version + 1
        )
        if won == 1:
            return Decision(allowed=True, available=available - cost, retry_after_seconds=0.0)
    # Lost every race to other requests of the same token: treat it as throttled.
    return Decision(allowed=False, available=0.0, retry_after_seconds=1.0)
