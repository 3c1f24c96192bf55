from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tortoise import fields
from tortoise.models import Model

if TYPE_CHECKING:
    from models.company import Company


class AuditEvent(Model):
    """One change made through the service, written in the transaction that made it.

    Actors are kept as plain ids (not foreign keys) so the trail outlives deleted users.
    """

    id = fields.IntField(primary_key=True)
    company: fields.ForeignKeyRelation[Company] = fields.ForeignKeyField(
        "licensing.Company", related_name="audit_events", on_delete=fields.RESTRICT
    )
    company_id: int
    action = fields.CharField(max_length=64)
    subject_type = fields.CharField(max_length=64)
    subject_id = fields.IntField()
    # The contract the change belongs to, when it belongs to one (for Contract.events).
    contract_id = fields.IntField(null=True)
    actor_user_id = fields.IntField(null=True)
    actor_token_id = fields.IntField(null=True)
    details: Any = fields.JSONField()
    created_at = fields.DatetimeField()

    class Meta:
        table = "audit_event"
        indexes = (("company_id", "created_at"), ("contract_id", "id"))
