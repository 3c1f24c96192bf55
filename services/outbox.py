"""The confirmation-email outbox: claim due rows with a lease, record each attempt."""

from __future__ import annotations

import datetime as dt

from tortoise.expressions import F, Q
from tortoise.transactions import in_transaction

from models.purchase import EmailStatus, OutboxEmail
from services import data_version

MAX_ATTEMPTS = 12
MAX_BACKOFF = dt.timedelta(hours=1)
# Rows a sender looks at per claim: enough that several senders rarely all want the same one.
CANDIDATES = 5


def _unleased(now: dt.datetime) -> Q:
    return Q(locked_until__isnull=True) | Q(locked_until__lt=now)


async def claim_next(*, now: dt.datetime, lease: dt.timedelta) -> OutboxEmail | None:
    """The next row due for an attempt that no other sender holds, claimed by a guarded UPDATE.

    One row at a time, just before it is sent: the lease covers one SMTP conversation, so a
    slow batch never outlives it and lets a second sender send the same email. A sender that
    dies mid-send frees its row when the lease runs out.
    """
    candidates = (
        await OutboxEmail.filter(
            _unleased(now), status=EmailStatus.QUEUED, next_attempt_at__lte=now
        )
        .order_by("id")
        .limit(CANDIDATES)
    )
    for row in candidates:
        # Re-checks every condition: another sender may have claimed, sent or rescheduled it.
        won = await OutboxEmail.filter(
            _unleased(now), id=row.id, status=EmailStatus.QUEUED, next_attempt_at__lte=now
        ).update(locked_until=now + lease)
        if won == 1:
            return row
    return None


def backoff(attempts: int, base: dt.timedelta) -> dt.timedelta:
    """base, 2 x base, 4 x base... after the 1st, 2nd, 3rd failed attempt, at most an hour."""
    delay: dt.timedelta = base * (2 ** (attempts - 1))
    return min(delay, MAX_BACKOFF)


async def _change(email_id: int, company_id: int, **values: object) -> None:
    """Update one row; its delivery status is shown to the company, so it is a change."""
    async with in_transaction():
        await data_version.changed(company_id)
        await OutboxEmail.filter(id=email_id).update(**values)


async def mark_sent(*, email_id: int, company_id: int, now: dt.datetime) -> None:
    await _change(
        email_id,
        company_id,
        status=EmailStatus.SENT,
        sent_at=now,
        locked_until=None,
        attempts=F("attempts") + 1,
        last_error=None,
    )


async def mark_failed(
    *,
    email: OutboxEmail,
    company_id: int,
    error: str,
    now: dt.datetime,
    retry_base: dt.timedelta,
) -> bool:
    """Record a failed attempt; True when it was the last one (the row is then FAILED)."""
    attempts = email.attempts + 1
    gave_up = attempts >= MAX_ATTEMPTS
    await _change(
        email.id,
        company_id,
        attempts=attempts,
        last_error=error[:500],
        locked_until=None,
        status=EmailStatus.FAILED if gave_up else EmailStatus.QUEUED,
        next_attempt_at=now + backoff(attempts, retry_base),
    )
    return gave_up


async def drop(*, email_id: int, company_id: int, reason: str) -> None:
    """Never send this one (its purchase was signed, cancelled or expired meanwhile)."""
    await _change(
        email_id, company_id, status=EmailStatus.FAILED, last_error=reason, locked_until=None
    )
