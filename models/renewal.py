from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING, Any

from tortoise import fields
from tortoise.migrations.constraints import CheckConstraint, UniqueConstraint
from tortoise.models import Model

if TYPE_CHECKING:
    from models.company import Company
    from models.contract import Contract
    from models.user import User


class RenewalChangeStatus(StrEnum):
    """Stored states. EXPIRED is also what a PENDING_SIGNATURE change past `expires_at` reads."""

    PENDING_SIGNATURE = "PENDING_SIGNATURE"
    SCHEDULED = "SCHEDULED"
    APPLIED = "APPLIED"
    CANCELLED = "CANCELLED"
    SUPERSEDED = "SUPERSEDED"
    EXPIRED = "EXPIRED"


class RenewalChange(Model):
    """A change of the CONTRACTED licenses a contract's next term starts with.

    Requested inside the renewal window of the term ending on `term_expires_on`, signed through
    an emailed link (SCHEDULED), applied when that term ends. A contract has at most one
    PENDING_SIGNATURE and one SCHEDULED change per term: a newer one supersedes the older.
    """

    id = fields.IntField(primary_key=True)
    company: fields.ForeignKeyRelation[Company] = fields.ForeignKeyField(
        "licensing.Company", related_name="renewal_changes", on_delete=fields.RESTRICT
    )
    company_id: int
    contract: fields.ForeignKeyRelation[Contract] = fields.ForeignKeyField(
        "licensing.Contract", related_name="renewal_changes", on_delete=fields.RESTRICT
    )
    contract_id: int
    term_expires_on = fields.DateField()
    contracted_licenses = fields.IntField()
    status = fields.CharEnumField(RenewalChangeStatus, max_length=32)
    quote: Any = fields.JSONField()
    requested_by: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "licensing.User", related_name="renewal_changes", null=True, on_delete=fields.SET_NULL
    )
    requested_by_id: int | None
    requested_at = fields.DatetimeField()
    confirmation_sent_to = fields.CharField(max_length=254)
    expires_at = fields.DatetimeField()
    idempotency_key = fields.CharField(max_length=200, null=True)
    request_fingerprint = fields.CharField(max_length=64)
    signed_at = fields.DatetimeField(null=True)
    signer_name = fields.CharField(max_length=200, null=True)
    signer_ip = fields.CharField(max_length=64, null=True)
    signer_user_agent = fields.CharField(max_length=500, null=True)
    closed_at = fields.DatetimeField(null=True)  # when it was cancelled, superseded or applied

    class Meta:
        table = "renewal_change"
        indexes = (("contract_id", "status"),)
        constraints = (
            CheckConstraint(
                check="contracted_licenses >= 0 AND contracted_licenses <= 10000",
                name="renewal_change_count",
            ),
            UniqueConstraint(
                fields=("company", "idempotency_key"), name="renewal_change_idempotency_uniq"
            ),
        )


class RenewalSignatureToken(Model):
    """One emailed signature link of a renewal change. Only the token's SHA-256 is stored."""

    id = fields.IntField(primary_key=True)
    renewal_change: fields.ForeignKeyRelation[RenewalChange] = fields.ForeignKeyField(
        "licensing.RenewalChange", related_name="tokens", on_delete=fields.CASCADE
    )
    renewal_change_id: int
    token_hash = fields.CharField(max_length=64, unique=True)
    created_at = fields.DatetimeField()

    class Meta:
        table = "renewal_signature_token"
