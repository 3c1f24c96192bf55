"""Changes to the next term's CONTRACTED licenses: quote, request, cancel, and the limit a
signed reduction puts on assignments (contract README, "Terms and renewal").

A change is requested inside the renewal window and waits for a signature through a link
emailed to the company (services/renewal/signing.py). A newer request supersedes the pending
one; a newer signature supersedes the scheduled one. Each step is one transaction that bumps
the company's data version first: the lock every change of the company takes, so a signature
and an assignment never both see room for the same license.
"""

from __future__ import annotations

import datetime as dt
import hashlib

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from models.contract import Contract
from models.enums import LicenseKind
from models.outbox import EmailKind, OutboxEmail
from models.renewal import RenewalChange, RenewalChangeStatus
from services import audit, data_version, idempotency
from services.access import CompanyFacts
from services.audit import Actor
from services.errors import (
    ContractNotRenewing,
    LicensesAssigned,
    NotFound,
    RenewalChangeNotOpen,
    RenewalWindowClosed,
)
from services.licenses.users import holder_names
from services.purchases.lifecycle import term_end
from services.renewal.pricing import RenewalQuote, RenewalRequest, renewal_quote
from services.renewal.terms import RenewalWindow, renewal_window
from services.subscription.reads import ContractView, PoolView, contract_and_pools

OPEN = (RenewalChangeStatus.PENDING_SIGNATURE, RenewalChangeStatus.SCHEDULED)


def effective_status(change: RenewalChange, now: dt.datetime) -> RenewalChangeStatus:
    """A pending change past its link's expiry reads EXPIRED, with no job having to run."""
    if change.status == RenewalChangeStatus.PENDING_SIGNATURE and change.expires_at <= now:
        return RenewalChangeStatus.EXPIRED
    return RenewalChangeStatus(change.status)


def _renewing(contract: ContractView) -> None:
    if not contract.auto_renews:
        raise ContractNotRenewing(
            f"This contract does not renew: it ends after {contract.expires_on.isoformat()}. "
            "Contact your account manager to renew it.",
            field="contractId",
        )


def _request(
    company: CompanyFacts,
    contract: ContractView,
    pools: dict[LicenseKind, PoolView],
    contracted: int,
) -> RenewalRequest:
    return RenewalRequest(
        product=contract.product,
        contracted_licenses=contracted,
        current_contracted_licenses=pools[LicenseKind.CONTRACTED].total,
        expires_on=contract.expires_on,
        term_months=contract.term_months,
        unit_price_minor=contract.plan.contracted_price_minor,
        currency=contract.plan.currency,
        tax_rate_basis_points=company.tax_rate_basis_points,
        monthly_total=pools[LicenseKind.MONTHLY].total,
        allowance_per_license_bytes=contract.plan.storage_per_license_bytes,
    )


async def quote_renewal(
    *, company: CompanyFacts, contract_id: int, contracted: int
) -> RenewalQuote:
    """What the next term costs with `contracted` licenses; any day of the term."""
    contract, pools = await contract_and_pools(
        company_id=company.id, contract_id=contract_id, field="contractId"
    )
    _renewing(contract)
    return renewal_quote(_request(company, contract, pools, contracted))


def window_of(contract: ContractView, window_days: int) -> RenewalWindow:
    return renewal_window(
        expires_on=contract.expires_on, term_months=contract.term_months, window_days=window_days
    )


def _inside_window(contract: ContractView, window_days: int, today: dt.date) -> None:
    window = window_of(contract, window_days)
    if not window.is_open(today):
        raise RenewalWindowClosed(
            f"Contracted licenses for the term starting {window.renews_on.isoformat()} can be "
            f"changed from {window.opens_on.isoformat()} to {window.closes_on.isoformat()}. "
            "Come back then; until then the contract renews with its current contracted "
            "licenses.",
            field="contractId",
        )


async def check_room(
    pool_id: int, assigned: int, contracted: int, field: str, *, name_holders: bool = True
) -> None:
    """The next term cannot start with fewer contracted licenses than are assigned.

    Holders are named to the finance roles' own requests, not on a page anyone with the
    emailed link can open.
    """
    if assigned <= contracted:
        return
    excess = assigned - contracted
    if not name_holders:
        raise LicensesAssigned(
            f"{assigned} contracted licenses are assigned now, so the next term cannot "
            f"start with {contracted}. Nothing was signed and this link still works: sign "
            f"again once {excess} of these users are moved to monthly or daily licenses on "
            "the Licenses page, or request a new change there.",
            field=field,
        )
    named = await holder_names(pool_id, assigned)
    raise LicensesAssigned(
        f"{assigned} contracted licenses are assigned ({named}), so the next term cannot "
        f"start with {contracted}. Move {excess} of these users to monthly or daily licenses "
        f"(or remove them) first, or keep at least {assigned}.",
        field=field,
    )


def _fingerprint(contract_id: int, contracted: int) -> str:
    return hashlib.sha256(f"renewal:{contract_id}:{contracted}".encode()).hexdigest()


async def _replay(company_id: int, key: str, fingerprint: str) -> RenewalChange | None:
    return await idempotency.earlier(
        RenewalChange,
        company_id=company_id,
        key=key,
        fingerprint=fingerprint,
        what="renewal change",
    )


async def schedule_renewal(
    *,
    company: CompanyFacts,
    contract_id: int,
    contracted: int,
    idempotency_key: str | None,
    actor: Actor,
    now: dt.datetime,
    link_ttl: dt.timedelta,
    window_days: int,
) -> RenewalChange:
    """Request the change and email its signature link; the pending one it replaces is
    SUPERSEDED."""
    key = idempotency.clean_key(idempotency_key)
    fingerprint = _fingerprint(contract_id, contracted)
    if key and (earlier := await _replay(company.id, key, fingerprint)):
        return earlier
    contract, pools = await contract_and_pools(
        company_id=company.id, contract_id=contract_id, field="contractId"
    )
    _renewing(contract)
    quote = renewal_quote(_request(company, contract, pools, contracted))
    _inside_window(contract, window_days, now.date())
    held = pools[LicenseKind.CONTRACTED]
    await check_room(held.id, held.assigned, contracted, "contractedLicenses")
    try:
        return await _create(company, contract, quote, key, fingerprint, actor, now, link_ttl)
    except IntegrityError:
        # A concurrent request with the same key won the unique index: answer with its change.
        if key and (winner := await _replay(company.id, key, fingerprint)):
            return winner
        raise


async def _create(
    company: CompanyFacts,
    contract: ContractView,
    quote: RenewalQuote,
    key: str | None,
    fingerprint: str,
    actor: Actor,
    now: dt.datetime,
    link_ttl: dt.timedelta,
) -> RenewalChange:
    async with in_transaction():
        await data_version.changed(company.id)
        # Under the company lock: a renewal that committed since the read moved the term on.
        if not await Contract.exists(id=contract.id, expires_on=contract.expires_on):
            raise RenewalWindowClosed(
                "The contract has just started its next term: reload it and request the change "
                "for the term after, in its renewal window.",
                field="contractId",
            )
        await _supersede(
            company.id, contract.id, contract.expires_on, RenewalChangeStatus.PENDING_SIGNATURE, now
        )
        change = await RenewalChange.create(
            company_id=company.id,
            contract_id=contract.id,
            term_expires_on=contract.expires_on,
            contracted_licenses=quote.contracted_licenses,
            status=RenewalChangeStatus.PENDING_SIGNATURE,
            quote=quote.to_json(),
            requested_by_id=actor.user_id,
            requested_at=now,
            confirmation_sent_to=company.email,
            expires_at=min(now + link_ttl, term_end(contract.expires_on)),
            idempotency_key=key,
            request_fingerprint=fingerprint,
        )
        await OutboxEmail.create(
            kind=EmailKind.RENEWAL_CONFIRMATION,
            company_id=company.id,
            renewal_change_id=change.id,
            to_address=company.email,
            next_attempt_at=now,
            created_at=now,
        )
        await record(change, "renewal_change.requested", actor, now)
    return change


async def record(change: RenewalChange, action: str, actor: Actor, now: dt.datetime) -> None:
    await audit.record(
        company_id=change.company_id,
        contract_id=change.contract_id,
        actor=actor,
        action=action,
        subject_type="RenewalChange",
        subject_id=change.id,
        details={
            "contractedLicenses": change.contracted_licenses,
            "termExpiresOn": change.term_expires_on.isoformat(),
        },
        now=now,
    )


async def _supersede(
    company_id: int,
    contract_id: int,
    term_expires_on: dt.date,
    status: RenewalChangeStatus,
    now: dt.datetime,
    *,
    actor: Actor | None = None,
) -> None:
    """The contract's change of this term in `status` gives way to a newer one."""
    earlier = await RenewalChange.filter(
        company_id=company_id,
        contract_id=contract_id,
        term_expires_on=term_expires_on,
        status=status,
    )
    for change in earlier:
        await RenewalChange.filter(id=change.id, status=status).update(
            status=RenewalChangeStatus.SUPERSEDED, closed_at=now
        )
        await record(change, "renewal_change.superseded", actor or audit.Actor(None, None), now)


async def supersede_scheduled(change: RenewalChange, actor: Actor, now: dt.datetime) -> None:
    """A newly signed change replaces the contract's scheduled one (in the signing transaction)."""
    await _supersede(
        change.company_id,
        change.contract_id,
        change.term_expires_on,
        RenewalChangeStatus.SCHEDULED,
        now,
        actor=actor,
    )


async def change_of_company(*, company_id: int, change_id: int) -> RenewalChange:
    change = await RenewalChange.filter(id=change_id, company_id=company_id).first()
    if change is None:
        raise NotFound("No renewal change has this id.", field="renewalChangeId")
    return change


def not_open(change: RenewalChange, now: dt.datetime, field: str) -> RenewalChangeNotOpen:
    """For a cancellation of a change that is no longer pending or scheduled."""
    status = effective_status(change, now).replace("_", " ").lower()
    return RenewalChangeNotOpen(
        f"This renewal change is {status}: only a change awaiting signature or scheduled can be "
        "cancelled. Request a new change if the next term should differ.",
        field=field,
    )


def not_signable(change: RenewalChange, now: dt.datetime) -> RenewalChangeNotOpen:
    status = effective_status(change, now)
    if status == RenewalChangeStatus.SCHEDULED:
        message = "This renewal change has already been signed: it applies when the term ends."
    else:
        message = (
            f"This renewal change was {status.replace('_', ' ').lower()}: it can no longer be "
            "signed. While the renewal window is open, request a new change on the Licenses "
            "page."
        )
    return RenewalChangeNotOpen(message, field="token")


async def cancel_renewal_change(
    *, company_id: int, change_id: int, actor: Actor, now: dt.datetime
) -> RenewalChange:
    """Withdraw a pending or scheduled change: the contract then renews with its CONTRACTED
    total of that day."""
    change = await change_of_company(company_id=company_id, change_id=change_id)
    async with in_transaction():
        await data_version.changed(company_id)
        pending = RenewalChange.filter(
            id=change.id, status=RenewalChangeStatus.PENDING_SIGNATURE, expires_at__gt=now
        )
        scheduled = RenewalChange.filter(id=change.id, status=RenewalChangeStatus.SCHEDULED)
        closed = await pending.update(status=RenewalChangeStatus.CANCELLED, closed_at=now)
        closed += await scheduled.update(status=RenewalChangeStatus.CANCELLED, closed_at=now)
        if closed != 1:
            raise not_open(await RenewalChange.get(id=change.id), now, "renewalChangeId")
        await record(change, "renewal_change.cancelled", actor, now)
    return await RenewalChange.get(id=change.id)


async def open_changes(company_id: int) -> list[RenewalChange]:
    """The company's changes that may still apply: pending (maybe expired by now) and
    scheduled, newest first."""
    return await RenewalChange.filter(company_id=company_id, status__in=OPEN).order_by("-id")


async def changes_by_ids(company_id: int, ids: list[int]) -> list[RenewalChange]:
    return await RenewalChange.filter(company_id=company_id, id__in=ids)


async def scheduled_reduction(contract_id: int) -> tuple[dt.date, int] | None:
    """(renewal day, count) of a signed change that applies when the current term ends."""
    contract = await Contract.filter(id=contract_id).only("id", "expires_on").get()
    change = await RenewalChange.filter(
        contract_id=contract_id,
        term_expires_on=contract.expires_on,
        status=RenewalChangeStatus.SCHEDULED,
    ).first()
    if change is None:
        return None
    return contract.expires_on + dt.timedelta(days=1), change.contracted_licenses
