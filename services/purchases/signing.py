"""Digital signature through the emailed link: the only way purchased licenses are added."""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import json
import secrets
from dataclasses import dataclass
from functools import partial

from tortoise.expressions import F
from tortoise.transactions import in_transaction

from models.contract import Contract, LicensePool
from models.enums import LicenseKind
from models.purchase import LicensePurchase, PurchaseStatus, SignatureToken
from models.webhook import WebhookEventType
from services import audit, data_version
from services.access import CompanyFacts
from services.audit import Actor
from services.errors import (
    ContractExpired,
    PurchaseNotPending,
    QuoteChanged,
    SignatureTokenExpired,
    SignatureTokenInvalid,
    SignerNameRequired,
)
from services.purchases.pricing import Quote, redated
from services.renewal.apply import renew_due
from services.renewal.terms import has_ended
from services.subscription.documents import RenderedDocument, render_addendum, store_addendum
from services.usage import STORAGE_GRANTING_KINDS
from services.webhooks import events as webhook_events

MAX_NAME_LENGTH = 200
SIGN_ATTEMPTS = 3


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def create_signature_token(*, purchase_id: int, now: dt.datetime) -> str:
    """A new link token for the purchase; only its hash is kept."""
    token = secrets.token_urlsafe(32)
    await SignatureToken.create(purchase_id=purchase_id, token_hash=_hash(token), created_at=now)
    return token


@dataclass(frozen=True)
class SignatureRequest:
    """What the signature page shows."""

    purchase: LicensePurchase
    company: CompanyFacts
    quote: Quote  # as requested


async def signature_request(*, token: str, now: dt.datetime) -> SignatureRequest:
    """The pending purchase a link stands for, or the reason it cannot be signed."""
    row = (
        await SignatureToken.filter(token_hash=_hash(token))
        .select_related("purchase__company", "purchase__requested_by", "purchase__contract")
        .first()
    )
    if row is None:
        raise SignatureTokenInvalid(
            "This signature link is not valid. Use the link from the most recent email, or "
            "ask for the confirmation to be sent again.",
            field="token",
        )
    purchase = row.purchase
    if purchase.status == PurchaseStatus.CONFIRMED:
        raise PurchaseNotPending("This purchase has already been signed.", field="token")
    if purchase.status == PurchaseStatus.CANCELLED:
        raise PurchaseNotPending(
            "This purchase was cancelled: it can no longer be signed.", field="token"
        )
    if purchase.expires_at <= now:
        raise SignatureTokenExpired(
            "This signature link has expired: the purchase was not made. Start a new purchase "
            "from the Licenses page.",
            field="token",
        )
    contract = purchase.contract
    today = now.date()
    if has_ended(auto_renews=contract.auto_renews, expires_on=contract.expires_on, today=today):
        raise ContractExpired(
            f"The contract this purchase was for ended on "
            f"{contract.expires_on.isoformat()}: licenses can no longer be added to it.",
            field="token",
        )
    if contract.expires_on < today:
        # Its renewal is due and no request of the company has applied it yet.
        await renew_due(purchase.company_id, now=now)
        await contract.refresh_from_db()
    return SignatureRequest(purchase, purchase.company, Quote.from_json(purchase.quote))


async def quote_as_of(*, purchase: LicensePurchase, company: CompanyFacts, today: dt.date) -> Quote:
    """The purchase's breakdown if signed `today`: licenses are billed from the signing day."""
    contract = await Contract.filter(id=purchase.contract_id).select_related("plan").get()
    totals = {
        LicenseKind(kind): int(total)
        for kind, total in await LicensePool.filter(contract_id=contract.id).values_list(
            "kind", "total"
        )
    }
    return redated(
        Quote.from_json(purchase.quote),
        today=today,
        expires_on=contract.expires_on,
        current_total=totals.get(LicenseKind(purchase.kind), 0),
        current_storage_totals=sum(totals.get(kind, 0) for kind in STORAGE_GRANTING_KINDS),
        allowance_per_license_bytes=int(contract.plan.storage_allowance_per_license_bytes),
        tax_rate_basis_points=company.tax_rate_basis_points,
    )


def clean_name(signer_name: str) -> str:
    name = " ".join(signer_name.split())
    if not name or len(name) > MAX_NAME_LENGTH:
        raise SignerNameRequired(
            f"Type your full name (1 to {MAX_NAME_LENGTH} characters) to sign.",
            field="signerName",
        )
    return name


# What a signer commits to: the money and its dates. (The pools' counts shown beside them move
# with every other change of the company; the addendum states them as they were when signed.)
_COMMITMENT = (
    "kind",
    "quantity",
    "starts_on",
    "commitment_ends_on",
    "currency",
    "unit_price_minor",
    "subtotal_minor",
    "tax_minor",
    "lines",
)


def quote_digest(quote: Quote) -> str:
    """What a signer saw: the page sends it back, so nothing else is signed."""
    shown = {key: value for key, value in quote.to_json().items() if key in _COMMITMENT}
    return hashlib.sha256(json.dumps(shown, sort_keys=True).encode()).hexdigest()


@dataclass(frozen=True)
class _Signature:
    request: SignatureRequest
    name: str
    ip: str | None
    user_agent: str | None
    now: dt.datetime
    # The breakdown the signer was shown, when known (the page): a different one is refused.
    shown: str | None = None


@dataclass(frozen=True)
class _Prepared:
    """An addendum rendered before the transaction, for the breakdown it states."""

    quote: Quote
    addendum: RenderedDocument


class _PoolsMoved(Exception):
    """The pools changed between rendering the addendum and taking the company lock."""


async def _render(signature: _Signature, quote: Quote) -> RenderedDocument:
    return await asyncio.to_thread(
        render_addendum,
        company=signature.request.company.name,
        purchase_id=signature.request.purchase.id,
        quote=quote,
        signer_name=signature.name,
        signed_at=signature.now,
    )


async def sign_purchase(
    *,
    token: str,
    signer_name: str,
    ip: str | None,
    user_agent: str | None,
    now: dt.datetime,
    shown: str | None = None,
) -> LicensePurchase:
    """Confirm the purchase and add its licenses, exactly once however often it is signed.

    The addendum is rendered before the transaction that holds the company lock, for the
    breakdown as of now; if the pools moved meanwhile, it is rendered again. The last attempt
    renders under the lock, so a busy company still gets its signature through.
    """
    for attempt in range(SIGN_ATTEMPTS):
        request = await signature_request(token=token, now=now)
        signature = _Signature(request, clean_name(signer_name), ip, user_agent, now, shown)
        quote = await quote_as_of(
            purchase=request.purchase, company=request.company, today=now.date()
        )
        prepared = _Prepared(quote, await _render(signature, quote))
        try:
            await _confirm(signature, prepared, last_attempt=attempt == SIGN_ATTEMPTS - 1)
        except _PoolsMoved:
            continue
        break
    return await LicensePurchase.get(id=request.purchase.id)


async def _confirm(signature: _Signature, prepared: _Prepared, *, last_attempt: bool) -> None:
    purchase, company, now = signature.request.purchase, signature.request.company, signature.now
    async with in_transaction():
        await data_version.changed(company.id)
        # The guard makes concurrent signatures race for one row: only one can win it.
        won = await LicensePurchase.filter(
            id=purchase.id, status=PurchaseStatus.PENDING_SIGNATURE, expires_at__gt=now
        ).update(
            status=PurchaseStatus.CONFIRMED,
            signed_at=now,
            signer_name=signature.name,
            signer_ip=(signature.ip or "")[:64] or None,
            signer_user_agent=(signature.user_agent or "")[:500] or None,
        )
        if won != 1:
            raise PurchaseNotPending("This purchase has already been signed.", field="token")
        # Under the company lock the pools hold still: the breakdown now is the one signed.
        quote = await quote_as_of(purchase=purchase, company=company, today=now.date())
        if signature.shown is not None and signature.shown != quote_digest(quote):
            raise QuoteChanged(
                "The amounts changed since this page was opened (a new day began, or the "
                "licenses changed): check them below and sign again.",
                field="token",
            )
        addendum = prepared.addendum
        if quote != prepared.quote:
            if not last_attempt:
                raise _PoolsMoved
            addendum = await _render(signature, quote)
        await LicensePurchase.filter(id=purchase.id).update(signed_quote=quote.to_json())
        await LicensePool.filter(id=purchase.pool_id).update(total=F("total") + purchase.quantity)
        await _audit(signature, quote)
        await webhook_events.purchase_event(
            purchase, WebhookEventType.LICENSE_PURCHASE_CONFIRMED, "CONFIRMED", now
        )
        await webhook_events.pools_changed(company.id, [purchase.pool_id], now)
        await store_addendum(contract_id=purchase.contract_id, document=addendum)


async def _audit(signature: _Signature, quote: Quote) -> None:
    purchase, company = signature.request.purchase, signature.request.company
    record = partial(
        audit.record,
        company_id=company.id,
        contract_id=purchase.contract_id,
        actor=Actor(user_id=None, token_id=None),  # a signature by link
        now=signature.now,
    )
    await record(
        action="purchase.confirmed",
        subject_type="LicensePurchase",
        subject_id=purchase.id,
        details={
            "signerName": signature.name,
            "ip": signature.ip,
            "billedFrom": quote.starts_on.isoformat(),
            "totalMinor": quote.total_minor,
            "currency": quote.currency,
        },
    )
    await record(
        action="pool.total_increased",
        subject_type="LicensePool",
        subject_id=purchase.pool_id,
        details={
            "kind": str(purchase.kind),
            "totalBefore": quote.current_total,
            "totalAfter": quote.new_total,
            "purchaseId": purchase.id,
        },
    )
