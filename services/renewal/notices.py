"""What time alone makes due: the renewal window's email, signature reminders, and the record
of renewal changes that expired unsigned.

Each email is queued once per contract and term (or once per purchase or change): its outbox row
carries a unique `dedupe_key`, so processes that notice the same thing at once queue it once.
"""

from __future__ import annotations

import datetime as dt

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from models.contract import Contract, ContractTerm
from models.outbox import EmailKind, OutboxEmail
from models.purchase import LicensePurchase, PurchaseStatus
from models.renewal import RenewalChange, RenewalChangeStatus
from services import data_version
from services.audit import Actor
from services.renewal.changes import record

NOBODY = Actor(user_id=None, token_id=None)


async def queue_due(*, now: dt.datetime, window_days: int, reminder: dt.timedelta) -> int:
    """Queue the emails that are due now and record expired changes; how many emails."""
    queued = await _window_notices(now, window_days)
    queued += await _reminders(now, reminder)
    await _record_expired_changes(now)
    return queued


async def _queue_once(email: OutboxEmail, *, shown_to_company: bool) -> bool:
    """Insert the row unless its dedupe key is taken; True when this call inserted it."""
    if await OutboxEmail.exists(dedupe_key=email.dedupe_key):
        return False
    try:
        async with in_transaction():
            if shown_to_company and email.company_id is not None:
                await data_version.changed(email.company_id)  # a purchase's email status moves
            await email.save()
    except IntegrityError:
        return False  # another process queued it first
    return True


async def _window_notices(now: dt.datetime, window_days: int) -> int:
    """Renewing contracts whose window is open today (expiresOn - window_days < today)."""
    today = now.date()
    contracts = await Contract.filter(
        auto_renews=True,
        expires_on__gte=today,
        expires_on__lt=today + dt.timedelta(days=window_days),
    ).select_related("company")
    queued = 0
    for contract in contracts:
        term = await ContractTerm.filter(contract_id=contract.id).order_by("-number").first()
        email = OutboxEmail(
            kind=EmailKind.RENEWAL_WINDOW_OPEN,
            company_id=contract.company_id,
            contract_term_id=None if term is None else term.id,
            dedupe_key=f"window:{contract.id}:{contract.expires_on.isoformat()}",
            to_address=contract.company.email,
            next_attempt_at=now,
            created_at=now,
        )
        queued += await _queue_once(email, shown_to_company=False)
    return queued


def _reminder_due(
    requested_at: dt.datetime, expires_at: dt.datetime, reminder: dt.timedelta
) -> bool:
    """A link that lives longer than the reminder lead gets one, that long before it expires."""
    return expires_at - reminder > requested_at


async def _reminders(now: dt.datetime, reminder: dt.timedelta) -> int:
    """Pending purchases and renewal changes whose link expires within the reminder lead."""
    due = {"expires_at__gt": now, "expires_at__lte": now + reminder}
    purchases = await LicensePurchase.filter(
        status=PurchaseStatus.PENDING_SIGNATURE, **due
    ).select_related("company")
    changes = await RenewalChange.filter(
        status=RenewalChangeStatus.PENDING_SIGNATURE, **due
    ).select_related("company")
    emails = [
        _reminder(purchase, f"reminder:purchase:{purchase.id}", now, purchase_id=purchase.id)
        for purchase in purchases
        if _reminder_due(purchase.requested_at, purchase.expires_at, reminder)
    ] + [
        _reminder(change, f"reminder:change:{change.id}", now, renewal_change_id=change.id)
        for change in changes
        if _reminder_due(change.requested_at, change.expires_at, reminder)
    ]
    queued = 0
    for email in emails:
        # A purchase shows its latest email's delivery status: that is a change to its reads.
        queued += await _queue_once(email, shown_to_company=email.purchase_id is not None)
    return queued


def _reminder(
    row: LicensePurchase | RenewalChange, key: str, now: dt.datetime, **about: int
) -> OutboxEmail:
    return OutboxEmail(
        kind=EmailKind.SIGNATURE_REMINDER,
        company_id=row.company_id,
        dedupe_key=key,
        to_address=row.company.email,
        next_attempt_at=now,
        created_at=now,
        **about,
    )


async def _record_expired_changes(now: dt.datetime) -> None:
    """A pending change past its link's expiry already reads EXPIRED; store it, with its audit
    event, once (the guarded UPDATE decides which process writes the event)."""
    expired = await RenewalChange.filter(
        status=RenewalChangeStatus.PENDING_SIGNATURE, expires_at__lte=now
    )
    for change in expired:
        async with in_transaction():
            await data_version.changed(change.company_id)
            won = await RenewalChange.filter(
                id=change.id, status=RenewalChangeStatus.PENDING_SIGNATURE
            ).update(status=RenewalChangeStatus.EXPIRED, closed_at=now)
            if won == 1:
                await record(change, "renewal_change.expired", NOBODY, now)
