"""Buying licenses: a purchase waits for a signature; cancel and resend while it waits."""

from __future__ import annotations

import datetime as dt
import hashlib

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from models.enums import LicenseKind
from models.outbox import EmailKind, EmailStatus, OutboxEmail
from models.purchase import LicensePurchase, PurchaseStatus
from models.webhook import WebhookEventType
from services import audit, data_version, idempotency
from services.access import CompanyFacts
from services.audit import Actor
from services.errors import (
    NotFound,
    PurchaseNotPending,
)
from services.purchases.quotes import price
from services.subscription.reads import ContractView
from services.webhooks import events as webhook_events

NOBODY = Actor(user_id=None, token_id=None)
RECORDED_EXPIRIES = dt.timedelta(days=7)


def effective_status(purchase: LicensePurchase, now: dt.datetime) -> str:
    """The stored status, except that a pending purchase past its expiry reads EXPIRED."""
    if purchase.status == PurchaseStatus.PENDING_SIGNATURE and purchase.expires_at <= now:
        return "EXPIRED"
    return str(purchase.status)


def term_end(expires_on: dt.date) -> dt.datetime:
    """The first moment after a contract's term ending on `expires_on` (inclusive)."""
    return dt.datetime.combine(expires_on + dt.timedelta(days=1), dt.time(), dt.UTC)


def signature_deadline(
    contract: ContractView, kind: LicenseKind, link_expiry: dt.datetime
) -> dt.datetime:
    """A CONTRACTED purchase is priced for the term it was quoted in: it lapses at its end."""
    if kind == LicenseKind.CONTRACTED:
        return min(link_expiry, term_end(contract.expires_on))
    return link_expiry


def _fingerprint(contract_id: int, kind: LicenseKind, quantity: int) -> str:
    return hashlib.sha256(f"{contract_id}:{kind}:{quantity}".encode()).hexdigest()


async def _replay(company_id: int, key: str, fingerprint: str) -> LicensePurchase | None:
    return await idempotency.earlier(
        LicensePurchase, company_id=company_id, key=key, fingerprint=fingerprint, what="purchase"
    )


def _queue_email(purchase: LicensePurchase, to_address: str, now: dt.datetime) -> OutboxEmail:
    return OutboxEmail(
        kind=EmailKind.PURCHASE_CONFIRMATION,
        company_id=purchase.company_id,
        purchase=purchase,
        to_address=to_address,
        status=EmailStatus.QUEUED,
        next_attempt_at=now,
        created_at=now,
    )


async def purchase_licenses(
    *,
    company: CompanyFacts,
    contract_id: int,
    kind: LicenseKind,
    quantity: int,
    idempotency_key: str | None,
    actor: Actor,
    now: dt.datetime,
    link_ttl: dt.timedelta,
) -> LicensePurchase:
    """Freeze the quote, create the purchase and queue its confirmation email, atomically."""
    key = idempotency.clean_key(idempotency_key)
    fingerprint = _fingerprint(contract_id, kind, quantity)
    if key and (earlier := await _replay(company.id, key, fingerprint)):
        return earlier
    priced = await price(
        company=company, contract_id=contract_id, kind=kind, quantity=quantity, now=now
    )
    contract, frozen = priced.contract, priced.quote
    try:
        async with in_transaction():
            await data_version.changed(company.id)
            purchase = await LicensePurchase.create(
                company_id=company.id,
                contract_id=contract.id,
                pool_id=priced.pool.id,
                product=contract.product,
                kind=kind,
                quantity=quantity,
                status=PurchaseStatus.PENDING_SIGNATURE,
                quote=frozen.to_json(),
                requested_by_id=actor.user_id,
                requested_at=now,
                confirmation_sent_to=company.email,
                expires_at=signature_deadline(contract, kind, now + link_ttl),
                idempotency_key=key,
                request_fingerprint=fingerprint,
            )
            await _queue_email(purchase, company.email, now).save()
            await audit.record(
                company_id=company.id,
                contract_id=contract.id,
                actor=actor,
                action="purchase.requested",
                subject_type="LicensePurchase",
                subject_id=purchase.id,
                now=now,
                details={
                    "kind": str(kind),
                    "quantity": quantity,
                    "totalMinor": frozen.total_minor,
                    "currency": frozen.currency,
                },
            )
            await webhook_events.purchase_event(
                purchase, WebhookEventType.LICENSE_PURCHASE_CREATED, "PENDING_SIGNATURE", now
            )
    except IntegrityError:
        # A concurrent request with the same key won the unique index: answer with its purchase.
        if key and (winner := await _replay(company.id, key, fingerprint)):
            return winner
        raise
    return purchase


async def purchase_of_company(*, company_id: int, purchase_id: int) -> LicensePurchase:
    purchase = await LicensePurchase.filter(id=purchase_id, company_id=company_id).first()
    if purchase is None:
        raise NotFound("No purchase has this id.", field="purchaseId")
    return purchase


def _not_pending(purchase: LicensePurchase, now: dt.datetime) -> PurchaseNotPending:
    status = effective_status(purchase, now).replace("_", " ").lower()
    return PurchaseNotPending(
        f"This purchase is {status}, no longer awaiting a signature. Start a new purchase "
        "if you still want these licenses.",
        field="purchaseId",
    )


async def cancel_purchase(
    *, company_id: int, purchase_id: int, actor: Actor, now: dt.datetime
) -> LicensePurchase:
    purchase = await purchase_of_company(company_id=company_id, purchase_id=purchase_id)
    async with in_transaction():
        await data_version.changed(company_id)
        cancelled = await LicensePurchase.filter(
            id=purchase.id, status=PurchaseStatus.PENDING_SIGNATURE, expires_at__gt=now
        ).update(status=PurchaseStatus.CANCELLED, cancelled_at=now)
        if cancelled != 1:
            raise _not_pending(await LicensePurchase.get(id=purchase.id), now)
        await audit.record(
            company_id=company_id,
            contract_id=purchase.contract_id,
            actor=actor,
            action="purchase.cancelled",
            subject_type="LicensePurchase",
            subject_id=purchase.id,
            details={"quantity": purchase.quantity},
            now=now,
        )
        await webhook_events.purchase_event(
            purchase, WebhookEventType.LICENSE_PURCHASE_CANCELLED, "CANCELLED", now
        )
    return await LicensePurchase.get(id=purchase.id)


async def resend_confirmation(
    *, company_id: int, purchase_id: int, company_email: str, actor: Actor, now: dt.datetime
) -> LicensePurchase:
    """Queue the email again, with a fresh link; earlier links keep working until expiry."""
    purchase = await purchase_of_company(company_id=company_id, purchase_id=purchase_id)
    if effective_status(purchase, now) != PurchaseStatus.PENDING_SIGNATURE:
        raise _not_pending(purchase, now)
    async with in_transaction():
        await data_version.changed(company_id)
        await _queue_email(purchase, company_email, now).save()
        await LicensePurchase.filter(id=purchase.id).update(confirmation_sent_to=company_email)
        await audit.record(
            company_id=company_id,
            contract_id=purchase.contract_id,
            actor=actor,
            action="purchase.confirmation_resent",
            subject_type="LicensePurchase",
            subject_id=purchase.id,
            details={"to": company_email},
            now=now,
        )
    return await LicensePurchase.get(id=purchase.id)


async def record_expired_purchases(now: dt.datetime) -> int:
    """A pending purchase past its expiry already reads EXPIRED; record that once, with its
    audit event and webhook (the guarded UPDATE decides which process writes them). Only
    expiries of the last week: older ones, from before this was recorded, stay as they are."""
    expired = await LicensePurchase.filter(
        status=PurchaseStatus.PENDING_SIGNATURE,
        expires_at__lte=now,
        expires_at__gt=now - RECORDED_EXPIRIES,
        expiry_recorded_at=None,
    ).limit(500)
    recorded = 0
    for purchase in expired:
        async with in_transaction():
            await data_version.changed(purchase.company_id)
            won = await LicensePurchase.filter(
                id=purchase.id, status=PurchaseStatus.PENDING_SIGNATURE, expiry_recorded_at=None
            ).update(expiry_recorded_at=now)
            if won != 1:
                continue
            await audit.record(
                company_id=purchase.company_id,
                contract_id=purchase.contract_id,
                actor=NOBODY,
                action="purchase.expired",
                subject_type="LicensePurchase",
                subject_id=purchase.id,
                details={"quantity": purchase.quantity},
                now=now,
            )
            await webhook_events.purchase_event(
                purchase, WebhookEventType.LICENSE_PURCHASE_EXPIRED, "EXPIRED", now
            )
            recorded += 1
    return recorded
