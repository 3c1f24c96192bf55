from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING, Any

from tortoise import fields
from tortoise.models import Model

if TYPE_CHECKING:
    from models.company import Company


class WebhookEventType(StrEnum):
    PING = "PING"
    LICENSE_POOL_CHANGED = "LICENSE_POOL_CHANGED"
    LICENSE_PURCHASE_CREATED = "LICENSE_PURCHASE_CREATED"
    LICENSE_PURCHASE_CONFIRMED = "LICENSE_PURCHASE_CONFIRMED"
    LICENSE_PURCHASE_CANCELLED = "LICENSE_PURCHASE_CANCELLED"
    LICENSE_PURCHASE_EXPIRED = "LICENSE_PURCHASE_EXPIRED"
    RENEWAL_CHANGE_SCHEDULED = "RENEWAL_CHANGE_SCHEDULED"
    CONTRACT_RENEWED = "CONTRACT_RENEWED"
    USER_LICENSE_CHANGED = "USER_LICENSE_CHANGED"

    @property
    def wire_name(self) -> str:
        """The body's `type`: LICENSE_POOL_CHANGED is license_pool.changed, PING is ping."""
        subject, _, verb = self.value.lower().rpartition("_")
        return f"{subject}.{verb}" if subject else verb


class DeliveryStatus(StrEnum):
    PENDING = "PENDING"  # not attempted yet
    RETRYING = "RETRYING"  # attempted, failed, due again at next_attempt_at
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"  # given up (5 days, a 410, or its endpoint disabled for failing)


class WebhookEndpoint(Model):
    """An HTTPS endpoint of a partner, created enabled.

    A person may disable and enable it. The sender disables it (with `disabled_reason`) on a 410
    or after failing for 5 days.

    `secret` signs every attempt; after a rotation `previous_secret` signs alongside it until
    `previous_secret_expires_at`. `failing_since` is the first failed attempt since the last
    success.
    """

    id = fields.IntField(primary_key=True)
    company: fields.ForeignKeyRelation[Company] = fields.ForeignKeyField(
        "licensing.Company", related_name="webhook_endpoints", on_delete=fields.CASCADE
    )
    company_id: int
    url = fields.CharField(max_length=2048)
    description = fields.CharField(max_length=500, null=True)
    event_types: Any = fields.JSONField()
    enabled = fields.BooleanField(default=True)
    disabled_reason = fields.CharField(max_length=500, null=True)
    secret = fields.CharField(max_length=100)
    previous_secret = fields.CharField(max_length=100, null=True)
    previous_secret_expires_at = fields.DatetimeField(null=True)
    failing_since = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField()

    class Meta:
        table = "webhook_endpoint"
        indexes = (("company_id", "enabled"),)


class WebhookEvent(Model):
    """One event of a company, written in the transaction of the change it reports. `body` is
    serialized once: every attempt and redelivery sends these exact bytes."""

    id = fields.IntField(primary_key=True)
    company: fields.ForeignKeyRelation[Company] = fields.ForeignKeyField(
        "licensing.Company", related_name="webhook_events", on_delete=fields.CASCADE
    )
    company_id: int
    event_id = fields.CharField(max_length=40, unique=True)
    event_type = fields.CharEnumField(WebhookEventType, max_length=40)
    body = fields.TextField()
    created_at = fields.DatetimeField()

    class Meta:
        table = "webhook_event"


class WebhookDelivery(Model):
    """One event to one endpoint, until it succeeds or is given up. A redelivery is a new row of
    the same event. `locked_until` is a sender's lease on it, as in the email outbox."""

    id = fields.IntField(primary_key=True)
    event: fields.ForeignKeyRelation[WebhookEvent] = fields.ForeignKeyField(
        "licensing.WebhookEvent", related_name="deliveries", on_delete=fields.CASCADE
    )
    event_id: int
    endpoint: fields.ForeignKeyRelation[WebhookEndpoint] = fields.ForeignKeyField(
        "licensing.WebhookEndpoint", related_name="deliveries", on_delete=fields.CASCADE
    )
    endpoint_id: int
    company_id = fields.IntField()
    status = fields.CharEnumField(DeliveryStatus, max_length=16, default=DeliveryStatus.PENDING)
    attempts = fields.IntField(default=0)
    next_attempt_at = fields.DatetimeField(null=True)
    locked_until = fields.DatetimeField(null=True)
    # Who holds the lease: an attempt is recorded only by the sender that claimed it.
    claim_token = fields.CharField(max_length=32, null=True)
    last_attempt_at = fields.DatetimeField(null=True)
    last_response_status = fields.IntField(null=True)
    last_response_body = fields.CharField(max_length=2048, null=True)
    last_error = fields.CharField(max_length=500, null=True)
    created_at = fields.DatetimeField()

    class Meta:
        table = "webhook_delivery"
        indexes = (("status", "next_attempt_at"), ("endpoint_id", "id"))
