from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING, Any

from tortoise import fields
from tortoise.migrations.constraints import CheckConstraint, UniqueConstraint
from tortoise.models import Model

from models.enums import LicenseKind, Product

if TYPE_CHECKING:
    from models.company import Company
    from models.contract import Contract, LicensePool
    from models.user import User


class PurchaseStatus(StrEnum):
    """Stored states. EXPIRED is not stored: a pending purchase past `expires_at` reads so."""

    PENDING_SIGNATURE = "PENDING_SIGNATURE"
    CONFIRMED = "CONFIRMED"
    CANCELLED = "CANCELLED"


class LicensePurchase(Model):
    """A request to buy licenses, waiting for a signature through the emailed link.

    Created PENDING_SIGNATURE with its quote frozen. Signing makes it CONFIRMED and adds the
    licenses to the pool, once. Cancelling makes it CANCELLED. Unsigned past `expires_at`, it
    reads EXPIRED and adds nothing, without any job having to run.
    """

    id = fields.IntField(primary_key=True)
    company: fields.ForeignKeyRelation[Company] = fields.ForeignKeyField(
        "licensing.Company", related_name="purchases", on_delete=fields.RESTRICT
    )
    contract: fields.ForeignKeyRelation[Contract] = fields.ForeignKeyField(
        "licensing.Contract", related_name="purchases", on_delete=fields.RESTRICT
    )
    pool: fields.ForeignKeyRelation[LicensePool] = fields.ForeignKeyField(
        "licensing.LicensePool", related_name="purchases", on_delete=fields.RESTRICT
    )
    company_id: int
    contract_id: int
    pool_id: int
    requested_by_id: int | None
    product = fields.CharEnumField(Product, max_length=16)
    kind = fields.CharEnumField(LicenseKind, max_length=16)
    quantity = fields.IntField()
    status = fields.CharEnumField(PurchaseStatus, max_length=32)
    # The quote as requested; `signed_quote` is the one re-dated to the signing day.
    quote: Any = fields.JSONField()
    signed_quote: Any = fields.JSONField(null=True)
    requested_by: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "licensing.User", related_name="purchases", null=True, on_delete=fields.SET_NULL
    )
    requested_at = fields.DatetimeField()
    confirmation_sent_to = fields.CharField(max_length=254)
    expires_at = fields.DatetimeField()
    idempotency_key = fields.CharField(max_length=200, null=True)
    # SHA-256 of the request (contract, kind, quantity): a reused key must match it.
    request_fingerprint = fields.CharField(max_length=64)
    signed_at = fields.DatetimeField(null=True)
    signer_name = fields.CharField(max_length=200, null=True)
    signer_ip = fields.CharField(max_length=64, null=True)
    signer_user_agent = fields.CharField(max_length=500, null=True)
    cancelled_at = fields.DatetimeField(null=True)
    # When its expiry was recorded (audit event, webhook): EXPIRED itself is never stored.
    expiry_recorded_at = fields.DatetimeField(null=True)

    class Meta:
        table = "license_purchase"
        indexes = (("contract_id", "id"), ("pool_id", "status"))
        constraints = (
            CheckConstraint(
                check="quantity >= 1 AND quantity <= 10000", name="license_purchase_quantity"
            ),
            UniqueConstraint(
                fields=("company", "idempotency_key"), name="license_purchase_idempotency_uniq"
            ),
        )


class SignatureToken(Model):
    """One emailed signature link. Only the token's SHA-256 is stored."""

    id = fields.IntField(primary_key=True)
    purchase: fields.ForeignKeyRelation[LicensePurchase] = fields.ForeignKeyField(
        "licensing.LicensePurchase", related_name="tokens", on_delete=fields.CASCADE
    )
    purchase_id: int
    token_hash = fields.CharField(max_length=64, unique=True)
    created_at = fields.DatetimeField()

    class Meta:
        table = "signature_token"
