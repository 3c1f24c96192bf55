from __future__ import annotations

from typing import TYPE_CHECKING

from tortoise import fields
from tortoise.migrations.constraints import CheckConstraint, UniqueConstraint
from tortoise.models import Model

from models.enums import LicenseKind, Product

if TYPE_CHECKING:
    from models.company import Company
    from models.plan import Plan


class Contract(Model):
    """A company's contract for one product section.

    Loaded from fixtures. Its term (startsOn..expiresOn) is renewed outside this service.
    It always has three pools (CONTRACTED, MONTHLY, DAILY) and one storage usage row.
    """

    id = fields.IntField(primary_key=True)
    company: fields.ForeignKeyRelation[Company] = fields.ForeignKeyField(
        "licensing.Company", related_name="contracts", on_delete=fields.RESTRICT
    )
    company_id: int
    plan_id: int
    product = fields.CharEnumField(Product, max_length=16)
    plan: fields.ForeignKeyRelation[Plan] = fields.ForeignKeyField(
        "licensing.Plan", related_name="contracts", on_delete=fields.RESTRICT
    )
    starts_on = fields.DateField()
    expires_on = fields.DateField()
    pools: fields.ReverseRelation[LicensePool]
    storage_usage: fields.BackwardOneToOneRelation[StorageUsage]

    class Meta:
        table = "contract"
        constraints = (
            CheckConstraint(check="expires_on >= starts_on", name="contract_term_order"),
            UniqueConstraint(fields=("company", "product"), name="contract_company_product_uniq"),
        )


class LicensePool(Model):
    """The licenses of one kind under a contract.

    `assigned` is kept equal to the number of LicenseAssignment rows of the pool, in the same
    transaction that inserts or deletes them, so every change can be a guarded single-row
    UPDATE. The CHECK constraint is the last line of defence against overselling.
    """

    id = fields.IntField(primary_key=True)
    contract: fields.ForeignKeyRelation[Contract] = fields.ForeignKeyField(
        "licensing.Contract", related_name="pools", on_delete=fields.CASCADE
    )
    contract_id: int
    kind = fields.CharEnumField(LicenseKind, max_length=16)
    total = fields.IntField()
    assigned = fields.IntField(default=0)

    class Meta:
        table = "license_pool"
        constraints = (
            CheckConstraint(
                check="assigned >= 0 AND assigned <= total", name="license_pool_counts_valid"
            ),
            UniqueConstraint(fields=("contract", "kind"), name="license_pool_contract_kind_uniq"),
        )

    @property
    def available(self) -> int:
        return int(self.total) - int(self.assigned)


class StorageUsage(Model):
    """Storage a contract's data takes up, as last reported by the metering system."""

    id = fields.IntField(primary_key=True)
    contract: fields.OneToOneRelation[Contract] = fields.OneToOneField(
        "licensing.Contract", related_name="storage_usage", on_delete=fields.CASCADE
    )
    contract_id: int
    used_bytes = fields.BigIntField(default=0)
    measured_at = fields.DatetimeField()

    class Meta:
        table = "storage_usage"
        constraints = (
            CheckConstraint(check="used_bytes >= 0", name="storage_usage_nonneg"),
            # Repeats the one-to-one's UNIQUE, which SQLite loses when it rebuilds for the CHECK.
            UniqueConstraint(fields=("contract",), name="storage_usage_contract_uniq"),
        )
