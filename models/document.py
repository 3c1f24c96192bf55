from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING

from tortoise import fields
from tortoise.models import Model

if TYPE_CHECKING:
    from models.contract import Contract


class DocumentKind(StrEnum):
    MASTER_AGREEMENT = "MASTER_AGREEMENT"
    ADDENDUM = "ADDENDUM"


class ContractDocument(Model):
    """A signed contract document and its PDF.

    The master agreement is (re)generated whenever the loaded contract's terms change
    (`content_hash` tells). An addendum is added once per signed purchase and never changes.
    """

    id = fields.IntField(primary_key=True)
    contract: fields.ForeignKeyRelation[Contract] = fields.ForeignKeyField(
        "licensing.Contract", related_name="documents", on_delete=fields.CASCADE
    )
    contract_id: int
    kind = fields.CharEnumField(DocumentKind, max_length=32)
    title = fields.CharField(max_length=200)
    signed_at = fields.DatetimeField()
    content_hash = fields.CharField(max_length=64)
    pdf = fields.BinaryField()
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "contract_document"
        indexes = (("contract_id", "signed_at"),)
