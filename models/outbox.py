from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING

from tortoise import fields
from tortoise.models import Model

if TYPE_CHECKING:
    from models.company import Company
    from models.contract import ContractTerm
    from models.purchase import LicensePurchase
    from models.renewal import RenewalChange
    from models.webhook import WebhookEndpoint


class EmailStatus(StrEnum):
    QUEUED = "QUEUED"
    SENT = "SENT"
    FAILED = "FAILED"  # every attempt failed
    DROPPED = "DROPPED"  # no longer needed (its purchase or change was signed, cancelled...)


class EmailKind(StrEnum):
    """What an email says; each names the row it is about (purchase, change or term)."""

    PURCHASE_CONFIRMATION = "PURCHASE_CONFIRMATION"  # purchase: the signature link
    RENEWAL_CONFIRMATION = "RENEWAL_CONFIRMATION"  # renewal_change: the signature link
    SIGNATURE_REMINDER = "SIGNATURE_REMINDER"  # purchase or renewal_change: a fresh link
    CONTRACT_RENEWED = "CONTRACT_RENEWED"  # contract_term: the term that started
    RENEWAL_WINDOW_OPEN = "RENEWAL_WINDOW_OPEN"  # contract_term: the term whose window opened
    WEBHOOK_ENDPOINT_DISABLED = "WEBHOOK_ENDPOINT_DISABLED"  # webhook_endpoint: why it stopped


class OutboxEmail(Model):
    """An email to send, written in the transaction of the change it tells about.

    The sender renders it at delivery time (with a fresh signature token where it carries a
    link), so no usable link is ever stored. A failed attempt is retried with backoff until
    `MAX_ATTEMPTS`, then FAILED. `locked_until` is a lease: a sender claims a row with a guarded
    UPDATE before sending. `dedupe_key` makes "once per contract and term" a unique key.
    """

    id = fields.IntField(primary_key=True)
    kind = fields.CharEnumField(
        EmailKind,
        max_length=32,
        default=EmailKind.PURCHASE_CONFIRMATION,
        db_default=EmailKind.PURCHASE_CONFIRMATION.value,
    )
    company: fields.ForeignKeyNullableRelation[Company] = fields.ForeignKeyField(
        "licensing.Company", related_name="emails", null=True, on_delete=fields.CASCADE
    )
    company_id: int | None
    purchase: fields.ForeignKeyNullableRelation[LicensePurchase] = fields.ForeignKeyField(
        "licensing.LicensePurchase", related_name="emails", null=True, on_delete=fields.CASCADE
    )
    purchase_id: int | None
    renewal_change: fields.ForeignKeyNullableRelation[RenewalChange] = fields.ForeignKeyField(
        "licensing.RenewalChange", related_name="emails", null=True, on_delete=fields.CASCADE
    )
    renewal_change_id: int | None
    contract_term: fields.ForeignKeyNullableRelation[ContractTerm] = fields.ForeignKeyField(
        "licensing.ContractTerm", related_name="emails", null=True, on_delete=fields.CASCADE
    )
    contract_term_id: int | None
    webhook_endpoint: fields.ForeignKeyNullableRelation[WebhookEndpoint] = fields.ForeignKeyField(
        "licensing.WebhookEndpoint", related_name="emails", null=True, on_delete=fields.CASCADE
    )
    webhook_endpoint_id: int | None
    dedupe_key = fields.CharField(max_length=100, null=True, unique=True)
    to_address = fields.CharField(max_length=254)
    status = fields.CharEnumField(EmailStatus, max_length=16, default=EmailStatus.QUEUED)
    attempts = fields.IntField(default=0)
    next_attempt_at = fields.DatetimeField()
    locked_until = fields.DatetimeField(null=True)
    last_error = fields.CharField(max_length=500, null=True)
    created_at = fields.DatetimeField()
    sent_at = fields.DatetimeField(null=True)

    class Meta:
        table = "outbox_email"
        indexes = (("status", "next_attempt_at"),)
