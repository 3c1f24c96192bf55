"""What the API protection and the response cache need from the domain, behind one seam."""

from __future__ import annotations

import datetime as dt
import time

from resolvers.context import RequestContext
from services.protection import rate_limit
from services.purchases import reads as purchase_reads

# Download links in a cached answer must stay usable for most of their lifetime.
MAX_ANSWER_AGE = dt.timedelta(seconds=60)


def bucket_of(ctx: RequestContext) -> rate_limit.Bucket:
    return rate_limit.Bucket(
        capacity=ctx.settings.rate_limit_capacity,
        restore_rate=ctx.settings.rate_limit_restore_rate,
    )


def rate_limit_key(ctx: RequestContext) -> str:
    """Per token; without one, per client address."""
    viewer = ctx.viewer_or_none
    return f"token:{viewer.token_id}" if viewer else f"ip:{ctx.client_ip or 'unknown'}"


async def take_cost(ctx: RequestContext, cost: int) -> rate_limit.Decision:
    """Spend `cost` from the caller's bucket, shared by every worker through the database."""
    return await rate_limit.take(
        key=rate_limit_key(ctx), cost=cost, bucket=bucket_of(ctx), now=time.time()
    )


async def answer_valid_until(ctx: RequestContext, now: dt.datetime) -> dt.datetime:
    """The first moment an answer may change without a write: a lapse, midnight or its age.

    A pending purchase lapses with no write at all; quotes prorate by the date.
    """
    viewer = ctx.viewer
    midnight = dt.datetime.combine(now.date() + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC)
    lapse = await purchase_reads.next_lapse(company_id=viewer.company_id, now=now)
    moments = (now + MAX_ANSWER_AGE, midnight, lapse)
    return min(moment for moment in moments if moment is not None)
