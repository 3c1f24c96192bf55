"""Signing a renewal change through its emailed link: it becomes SCHEDULED.

The same `/sign/{token}` page and rules as a purchase's link: only the token's hash is stored,
opening the link changes nothing, and a used, cancelled, superseded or expired link says so.
At the signature the assigned CONTRACTED licenses are checked again: with more assigned than
the change keeps, nothing changes and the link stays usable.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass

from tortoise.transactions import in_transaction

from models.contract import LicensePool
from models.enums import LicenseKind
from models.renewal import RenewalChange, RenewalChangeStatus, RenewalSignatureToken
from services import data_version
from services.access import CompanyFacts
from services.audit import Actor
from services.errors import SignatureTokenExpired, SignatureTokenInvalid
from services.purchases.signing import clean_name
from services.renewal.changes import (
    check_room,
    effective_status,
    not_signable,
    record,
    supersede_scheduled,
)
from services.renewal.pricing import RenewalQuote
from services.webhooks import events as webhook_events

SIGNER = Actor(user_id=None, token_id=None)  # a person with the emailed link, not a user


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def create_signature_token(*, change_id: int, now: dt.datetime) -> str:
    """A new link token for the change; only its hash is kept."""
    token = secrets.token_urlsafe(32)
    await RenewalSignatureToken.create(
        renewal_change_id=change_id, token_hash=token_hash(token), created_at=now
    )
    return token


async def is_renewal_token(token: str) -> bool:
    return await RenewalSignatureToken.exists(token_hash=token_hash(token))


@dataclass(frozen=True)
class RenewalSignatureRequest:
    """What the signature page shows."""

    change: RenewalChange
    company: CompanyFacts
    quote: RenewalQuote


async def signature_request(*, token: str, now: dt.datetime) -> RenewalSignatureRequest:
    """The pending change a link stands for, or the reason it cannot be signed."""
    row = (
        await RenewalSignatureToken.filter(token_hash=token_hash(token))
        .select_related("renewal_change__company", "renewal_change__requested_by")
        .first()
    )
    if row is None:
        raise SignatureTokenInvalid(
            "This signature link is not valid. Use the link from the most recent email.",
            field="token",
        )
    change = row.renewal_change
    status = effective_status(change, now)
    if status == RenewalChangeStatus.EXPIRED:
        raise SignatureTokenExpired(
            "This signature link has expired: the change was not made. If the renewal window "
            "is still open, request it again on the Licenses page.",
            field="token",
        )
    if status != RenewalChangeStatus.PENDING_SIGNATURE:
        raise not_signable(change, now)
    return RenewalSignatureRequest(change, change.company, RenewalQuote.from_json(change.quote))


async def sign_renewal_change(
    *,
    token: str,
    signer_name: str,
    now: dt.datetime,
    signer_ip: str | None = None,
    signer_user_agent: str | None = None,
) -> RenewalChange:
    name = clean_name(signer_name)
    request = await signature_request(token=token, now=now)
    change = request.change
    async with in_transaction():
        # The company lock first: assignments wait for this signature, or it sees theirs.
        await data_version.changed(change.company_id)
        pool = await LicensePool.get(contract_id=change.contract_id, kind=LicenseKind.CONTRACTED)
        await check_room(
            pool.id, pool.assigned, change.contracted_licenses, "token", name_holders=False
        )
        # Before this one is SCHEDULED (a failed signature below rolls it back).
        await supersede_scheduled(change, SIGNER, now)
        signed = await RenewalChange.filter(
            id=change.id, status=RenewalChangeStatus.PENDING_SIGNATURE, expires_at__gt=now
        ).update(
            status=RenewalChangeStatus.SCHEDULED,
            signed_at=now,
            signer_name=name,
            signer_ip=(signer_ip or "")[:64] or None,
            signer_user_agent=(signer_user_agent or "")[:500] or None,
        )
        if signed != 1:
            raise not_signable(await RenewalChange.get(id=change.id), now)
        await record(change, "renewal_change.signed", SIGNER, now)
        await webhook_events.renewal_change_scheduled(change, now)
    return await RenewalChange.get(id=change.id)
