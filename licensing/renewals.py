"""Renewals nobody has to ask for: a loop in every service process, safe to run several at once.

Each pass starts the terms that are due (also applied by a company's first request of the day,
whichever comes first), renders the master agreements terms are waiting for, and queues the
notices that time alone makes due (services/renewal/notices.py). Every step is guarded in the
database, so a renewal, a document and an email happen once however many processes run.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging

from licensing.settings import Settings
from services.purchases.lifecycle import record_expired_purchases
from services.renewal import masters, notices
from services.renewal.apply import due_companies, renew_due

logger = logging.getLogger(__name__)


async def run_once(settings: Settings) -> None:
    now = settings.clock.now()
    for company_id in await due_companies(now.date()):
        await renew_due(company_id, now=now)
    await masters.add_missing(now=now)
    await record_expired_purchases(now)
    await notices.queue_due(
        now=now,
        window_days=settings.renewal_window_days,
        reminder=dt.timedelta(hours=settings.signature_reminder_hours),
    )


async def run(settings: Settings, stop: asyncio.Event) -> None:
    """A pass at start, then every RENEWAL_POLL_SECONDS until `stop`."""
    while not stop.is_set():
        try:
            await run_once(settings)
        except Exception:
            logger.exception("renewal pass failed; trying again shortly")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=settings.renewal_poll_seconds)
