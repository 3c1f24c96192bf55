"""Starting a renewing contract's next term, once, on whichever process gets there first.

A renewal is one transaction: a guarded UPDATE moves the contract's dates from the term that
ended to the next (only one process's UPDATE finds the old dates), the CONTRACTED total becomes
the next term's count, the scheduled change is APPLIED, and the term row, the audit event and the
"your contract renewed" email are written beside them. The term's master agreement is rendered
afterwards (services/renewal/masters.py). A contract whose term ended long ago catches up one
term per transaction.
"""

from __future__ import annotations

import datetime as dt
import logging

from tortoise.transactions import in_transaction

from models.company import Company
from models.contract import Contract, ContractTerm, LicensePool
from models.enums import LicenseKind
from models.outbox import EmailKind, OutboxEmail
from models.renewal import RenewalChange, RenewalChangeStatus
from services import audit, data_version, sql
from services.renewal.terms import Term, next_term
from services.webhooks import events as webhook_events

logger = logging.getLogger(__name__)
OPERATOR = audit.Actor(user_id=None, token_id=None)

# The next term's CONTRACTED count, never below what is assigned (the pool's CHECK): a scheduled
# change was checked against the assigned licenses when signed, and assignments honour it since.
_SET_CONTRACTED = (
    "UPDATE license_pool SET total = CASE WHEN assigned > ? THEN assigned ELSE ? END "
    "WHERE contract_id = ? AND kind = ?"
)
_DUE_COMPANIES = "SELECT DISTINCT company_id FROM contract WHERE auto_renews = ? AND expires_on < ?"


async def due_companies(today: dt.date) -> list[int]:
    """Companies with a renewing contract whose term ended before today."""
    return [row[0] for row in await sql.fetch(_DUE_COMPANIES, (True, today))]


async def renew_due(company_id: int, *, now: dt.datetime) -> int:
    """Start every term of the company's renewing contracts that began by today; how many."""
    contracts = await Contract.filter(
        company_id=company_id, auto_renews=True, expires_on__lt=now.date()
    ).only("id")
    renewed = 0
    for contract in contracts:
        renewed += await _catch_up(company_id, contract.id, now=now, notify=True)
    return renewed


async def roll_forward(company_id: int, contract_id: int, *, now: dt.datetime) -> int:
    """A contract just loaded with a term that has ended: to the term holding today, quietly
    (the company is being set up, not renewing); how many terms."""
    return await _catch_up(company_id, contract_id, now=now, notify=False)


async def _catch_up(company_id: int, contract_id: int, *, now: dt.datetime, notify: bool) -> int:
    renewed = 0
    # Re-read each time: another process may be renewing the same contract term by term too.
    while (ended_on := await _ended_term(contract_id, now.date())) is not None:
        if await _start_next_term(company_id, contract_id, ended_on, now=now, notify=notify):
            renewed += 1
    return renewed


async def _ended_term(contract_id: int, today: dt.date) -> dt.date | None:
    """The last day of the contract's term if it renews and that term ended before today."""
    contract = (
        await Contract.filter(id=contract_id, auto_renews=True, expires_on__lt=today)
        .only("id", "expires_on")
        .first()
    )
    return None if contract is None else contract.expires_on


async def _start_next_term(
    company_id: int, contract_id: int, ended_on: dt.date, *, now: dt.datetime, notify: bool
) -> Term | None:
    """The term after the one that ended on `ended_on`; False when another process did it."""
    async with in_transaction():
        await data_version.changed(company_id)
        contract = await Contract.filter(id=contract_id).only("id", "term_months").get()
        following = next_term(ended_on, contract.term_months)
        won = await Contract.filter(id=contract_id, expires_on=ended_on, auto_renews=True).update(
            starts_on=following.starts_on, expires_on=following.expires_on
        )
        if won != 1:
            return None
        before = await _contracted_total(contract_id)
        change = await _scheduled_change(contract_id, ended_on)
        wanted = before if change is None else change.contracted_licenses
        await sql.execute(
            _SET_CONTRACTED, [wanted, wanted, contract_id, LicenseKind.CONTRACTED.value]
        )
        after = await _contracted_total(contract_id)
        if after != wanted:
            # More were assigned than the next term's count (an operator's load can do that):
            # the total stays at what is assigned, and the event and the log say so.
            logger.warning(
                "contract %s renewed with %s contracted licenses, not %s: %s are assigned",
                contract_id,
                after,
                wanted,
                after,
            )
        await _close_changes_of(company_id, contract_id, ended_on, applied=change, now=now)
        term = await _record_term(
            contract_id, following.starts_on, following.expires_on, after, now=now
        )
        await audit.record(
            company_id=company_id,
            actor=OPERATOR,
            action="contract.renewed",
            subject_type="Contract",
            subject_id=contract_id,
            contract_id=contract_id,
            details={
                "term": term.number,
                "startsOn": following.starts_on.isoformat(),
                "expiresOn": following.expires_on.isoformat(),
                "contractedBefore": before,
                "contractedAfter": after,
                "contractedAsked": wanted,
                "renewalChangeId": change.id if change else None,
            },
            now=now,
        )
        await _tell_webhooks(company_id, contract_id, term, changed=after != before, now=now)
        if notify:
            await _queue_renewed_email(company_id, term, now=now)
    logger.info(
        "contract %s renewed: term %s from %s", contract_id, term.number, following.starts_on
    )
    return following


async def _tell_webhooks(
    company_id: int, contract_id: int, term: ContractTerm, *, changed: bool, now: dt.datetime
) -> None:
    await webhook_events.contract_renewed(
        company_id=company_id,
        contract_id=contract_id,
        term=term.number,
        starts_on=term.starts_on,
        expires_on=term.expires_on,
        contracted_licenses=term.contracted_licenses,
        now=now,
    )
    if changed:
        pool = await LicensePool.get(contract_id=contract_id, kind=LicenseKind.CONTRACTED)
        await webhook_events.pools_changed(company_id, [pool.id], now)


async def _contracted_total(contract_id: int) -> int:
    pool = await LicensePool.get(contract_id=contract_id, kind=LicenseKind.CONTRACTED)
    return int(pool.total)


async def _scheduled_change(contract_id: int, ended_on: dt.date) -> RenewalChange | None:
    return await RenewalChange.filter(
        contract_id=contract_id,
        term_expires_on=ended_on,
        status=RenewalChangeStatus.SCHEDULED,
    ).first()


async def _close_changes_of(
    company_id: int,
    contract_id: int,
    ended_on: dt.date,
    *,
    applied: RenewalChange | None,
    now: dt.datetime,
) -> None:
    """The scheduled change is APPLIED; one still awaiting a signature has EXPIRED (an event
    of its own)."""
    if applied is not None:  # the renewal's own event names it
        await RenewalChange.filter(id=applied.id).update(
            status=RenewalChangeStatus.APPLIED, closed_at=now
        )
    unsigned = await RenewalChange.filter(
        contract_id=contract_id,
        term_expires_on=ended_on,
        status=RenewalChangeStatus.PENDING_SIGNATURE,
    )
    for change in unsigned:
        await RenewalChange.filter(id=change.id).update(
            status=RenewalChangeStatus.EXPIRED, closed_at=now
        )
        await _audit_change(company_id, change, "renewal_change.expired", now=now)


async def _audit_change(
    company_id: int, change: RenewalChange, action: str, *, now: dt.datetime
) -> None:
    await audit.record(
        company_id=company_id,
        actor=OPERATOR,
        action=action,
        subject_type="RenewalChange",
        subject_id=change.id,
        contract_id=change.contract_id,
        details={"contractedLicenses": change.contracted_licenses},
        now=now,
    )


async def _record_term(
    contract_id: int, starts_on: dt.date, expires_on: dt.date, contracted: int, *, now: dt.datetime
) -> ContractTerm:
    latest = await ContractTerm.filter(contract_id=contract_id).order_by("-number").first()
    return await ContractTerm.create(
        contract_id=contract_id,
        number=1 if latest is None else latest.number + 1,
        starts_on=starts_on,
        expires_on=expires_on,
        contracted_licenses=contracted,
        created_at=now,
    )


async def _queue_renewed_email(company_id: int, term: ContractTerm, *, now: dt.datetime) -> None:
    company = await Company.filter(id=company_id).only("id", "email").get()
    await OutboxEmail.create(
        kind=EmailKind.CONTRACT_RENEWED,
        company_id=company_id,
        contract_term_id=term.id,
        dedupe_key=f"renewed:{term.id}",
        to_address=company.email,
        next_attempt_at=now,
        created_at=now,
    )
