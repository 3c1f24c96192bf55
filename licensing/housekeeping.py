"""Chores of every service process that no request waits for."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import time

from licensing.settings import Settings
from services.protection import rate_limit
from services.webhooks import deliveries

logger = logging.getLogger(__name__)
INTERVAL_SECONDS = 300.0
DELIVERY_LOG_KEPT = dt.timedelta(days=30)


async def run(settings: Settings, stop: asyncio.Event) -> None:
    """Every few minutes until `stop`: forget the rate-limit buckets that have refilled, and
    webhook deliveries finished more than 30 days ago."""
    bucket = rate_limit.Bucket(
        capacity=settings.rate_limit_capacity, restore_rate=settings.rate_limit_restore_rate
    )
    while True:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=INTERVAL_SECONDS)
        if stop.is_set():
            return
        try:
            await rate_limit.forget_full(bucket=bucket, now=time.time())
            await deliveries.forget_finished(settings.clock.now() - DELIVERY_LOG_KEPT)
        except Exception:
            logger.exception("housekeeping failed; trying again later")
