"""Digital signature through the emailed link: the only way purchased licenses are added."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass

from tortoise.expressions import F
from tortoise.transactions import in_transaction

from models.company import Company
from models.contract import LicensePool
from models.purchase import LicensePurchase, PurchaseStatus, SignatureToken
from services import audit, data_version
from services.audit import Actor
from services.documents import create_addendum
from services.errors import (
    PurchaseNotPending,
    SignatureTokenExpired,
    SignatureTokenInvalid,
    SignerNameRequired,
)
from services.pricing import Quote

MAX_NAME_LENGTH = 200


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
    company: Company
    quote: Quote


async def signature_request(*, token: str, now: dt.datetime) -> SignatureRequest:
    """The pending purchase a link stands for, or the reason it cannot be signed."""
    row = (
        await SignatureToken.filter(token_hash=_hash(token))
        .select_related("purchase__company", "purchase__requested_by")
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
    return SignatureRequest(purchase, purchase.company, Quote.from_json(purchase.quote))


def _clean_name(signer_name: str) -> str:
    name = " ".join(signer_name.split())
    if not name or len(name) > MAX_NAME_LENGTH:
        raise SignerNameRequired(
            f"Type your full name (1 to {MAX_NAME_LENGTH} characters) to sign.",
            field="signerName",
        )
    return name


async def sign_purchase(
    *, token: str, signer_name: str, ip: str | None, user_agent: str | None, now: dt.datetime
) -> LicensePurchase:
    """Confirm the purchase and add its licenses, exactly once however often it is signed."""
    request = await signature_request(token=token, now=now)
    name = _clean_name(signer_name)
    purchase = request.purchase
    async with in_transaction():
        await data_version.changed(request.company.id)
        # The guard makes concurrent signatures race for one row: only one can win it.
        won = await LicensePurchase.filter(
            id=purchase.id, status=PurchaseStatus.PENDING_SIGNATURE, expires_at__gt=now
        ).update(
            status=PurchaseStatus.CONFIRMED,
            signed_at=now,
            signer_name=name,
            signer_ip=(ip or "")[:64] or None,
            signer_user_agent=(user_agent or "")[:500] or None,
        )
        if won != 1:
            raise PurchaseNotPending("This purchase has already been signed.", field="token")
        await LicensePool.filter(id=purchase.pool_id).update(total=F("total") + purchase.quantity)
        pool = await LicensePool.get(id=purchase.pool_id)
        signer = Actor(user_id=None, token_id=None)
        contract_id = purchase.contract_id
        await audit.record(
            company_id=request.company.id,
            contract_id=contract_id,
            actor=signer,
            action="purchase.confirmed",
            subject_type="LicensePurchase",
            subject_id=purchase.id,
            details={"signerName": name, "ip": ip},
            now=now,
        )
        await audit.record(
            company_id=request.company.id,
            contract_id=contract_id,
            actor=signer,
            action="pool.total_increased",
            subject_type="LicensePool",
            subject_id=pool.id,
            details={
                "kind": str(pool.kind),
                "totalBefore": pool.total - purchase.quantity,
                "totalAfter": pool.total,
                "purchaseId": purchase.id,
            },
            now=now,
        )
        await create_addendum(
            company=request.company,
            contract_id=contract_id,
            purchase_id=purchase.id,
            quote=request.quote,
            signer_name=name,
            signed_at=now,
        )
    return await LicensePurchase.get(id=purchase.id)
