"""The confirmation-email outbox: claim due rows with a lease, record each attempt."""

from __future__ import annotations

import datetime as dt
import random

from tortoise.expressions import F, Q
from tortoise.transactions import in_transaction

from models.outbox import EmailStatus, OutboxEmail
from models.purchase import LicensePurchase, PurchaseStatus
from services import data_version
from services.renewal.terms import has_ended

MAX_ATTEMPTS = 12
MAX_BACKOFF = dt.timedelta(hours=1)
# Spreads retries out, so emails that failed together (an SMTP outage) do not retry together.
_jitter = random.Random()  # noqa: S311 (timing, not secrecy)
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


def backoff(attempts: int, base: dt.timedelta, rng: random.Random = _jitter) -> dt.timedelta:
    """About base, 2 x base, 4 x base... after the 1st, 2nd, 3rd failed attempt, at most an hour.

    "Equal jitter": half the delay is fixed, the other half random.
    """
    # 2^(n-1) stops growing past the cap: a thousand attempts must not overflow a timedelta.
    delay: dt.timedelta = min(base * (2 ** min(attempts - 1, 40)), MAX_BACKOFF)
    return delay / 2 + delay * (rng.random() / 2)


def reason_to_drop(purchase: LicensePurchase, now: dt.datetime) -> str | None:
    """Why a confirmation email must not go out any more, or None to send it.

    `purchase.contract` must be loaded.
    """
    if purchase.status != PurchaseStatus.PENDING_SIGNATURE or purchase.expires_at <= now:
        return "the purchase no longer awaits a signature"
    contract = purchase.contract
    if has_ended(
        auto_renews=contract.auto_renews, expires_on=contract.expires_on, today=now.date()
    ):
        return "the purchase's contract has ended"
    return None


def delivery_status(email: OutboxEmail | None) -> str:
    """What the purchase shows of its latest email: QUEUED, RETRYING, SENT or FAILED."""
    if email is None or email.status == EmailStatus.SENT:
        return "SENT"
    if email.status in (EmailStatus.FAILED, EmailStatus.DROPPED):
        return str(email.status)
    return "RETRYING" if email.attempts else "QUEUED"


def company_of(email: OutboxEmail) -> int:
    assert email.company_id is not None, "every email since 0006 names its company"
    return email.company_id


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
    error: str,
    now: dt.datetime,
    retry_base: dt.timedelta,
    max_attempts: int = MAX_ATTEMPTS,
) -> bool:
    """Record a failed attempt; True when it was the last one (the row is then FAILED)."""
    attempts = email.attempts + 1
    gave_up = attempts >= max_attempts
    await _change(
        email.id,
        company_of(email),
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
        email_id, company_id, status=EmailStatus.DROPPED, last_error=reason, locked_until=None
    )
