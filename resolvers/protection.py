"""What the API protection and the response cache need from the domain, behind one seam."""

from __future__ import annotations

import datetime as dt
import hashlib
import time
from typing import Any

from licensing.settings import Settings
from resolvers.context import RequestContext
from services.access import Viewer
from services.protection import rate_limit
from services.purchases import reads as purchase_reads

# Download links in a cached answer must stay usable for most of their lifetime.
MAX_ANSWER_AGE = dt.timedelta(seconds=60)


def bucket_of(settings: Settings) -> rate_limit.Bucket:
    return rate_limit.Bucket(
        capacity=settings.rate_limit_capacity, restore_rate=settings.rate_limit_restore_rate
    )


def rate_limit_key(viewer: Viewer | None, client_ip: str | None) -> str:
    """Per token; without one, per client address (hashed: an address header can be long)."""
    if viewer is not None:
        return f"token:{viewer.token_id}"
    return "ip:" + hashlib.sha256((client_ip or "unknown").encode()).hexdigest()[:40]


async def take_cost(ctx: RequestContext, cost: int) -> rate_limit.Decision:
    """Spend `cost` from the caller's bucket, shared by every worker through the database."""
    return await rate_limit.take(
        key=rate_limit_key(ctx.viewer_or_none, ctx.client_ip),
        cost=cost,
        bucket=bucket_of(ctx.settings),
        now=time.time(),
    )


async def take_cost_of(settings: Settings, viewer: Viewer, cost: int) -> rate_limit.Decision | None:
    """`take_cost` for a request answered from the cache; None when throttling is off."""
    if not settings.rate_limit_enabled:
        return None
    return await rate_limit.take(
        key=rate_limit_key(viewer, None), cost=cost, bucket=bucket_of(settings), now=time.time()
    )


def cost_extension(
    settings: Settings, requested: int, actual: int, decision: rate_limit.Decision | None
) -> dict[str, Any]:
    """What every answer reports under `extensions`: its cost and the caller's bucket."""
    bucket = bucket_of(settings)
    available = decision.available if decision else float(bucket.capacity)
    return {
        "cost": {
            "requestedQueryCost": requested,
            "actualQueryCost": actual,
            "throttleStatus": {
                "maximumAvailable": bucket.capacity,
                "currentlyAvailable": round(available, 1),
                "restoreRate": bucket.restore_rate,
            },
        }
    }


async def answer_valid_until(ctx: RequestContext, now: dt.datetime) -> dt.datetime:
    """The first moment an answer may change without a write: a lapse, midnight or its age.

    A pending purchase lapses with no write at all; quotes prorate by the date.
    """
    viewer = ctx.viewer
    midnight = dt.datetime.combine(now.date() + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC)
    lapse = await purchase_reads.next_lapse(company_id=viewer.company_id, now=now)
    moments = (now + MAX_ANSWER_AGE, midnight, lapse)
    return min(moment for moment in moments if moment is not None)
