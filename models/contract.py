from __future__ import annotations

from typing import TYPE_CHECKING

from tortoise import fields
from tortoise.migrations.constraints import CheckConstraint, UniqueConstraint
from tortoise.models import Model

from models.enums import LicenseKind, Product

if TYPE_CHECKING:
    from models.company import Company
    from models.document import ContractDocument
    from models.plan import Plan

DEFAULT_TERM_MONTHS = 12


class Contract(Model):
    """A company's contract for one product section.

    Loaded from fixtures. `starts_on`..`expires_on` is its current term; a renewing contract
    starts its next term the day after (services/renewal), one that does not renew ends.
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
    auto_renews = fields.BooleanField(default=True, db_default=True)
    term_months = fields.IntField(default=DEFAULT_TERM_MONTHS, db_default=DEFAULT_TERM_MONTHS)
    pools: fields.ReverseRelation[LicensePool]
    storage_usage: fields.BackwardOneToOneRelation[StorageUsage]
    terms: fields.ReverseRelation[ContractTerm]

    class Meta:
        table = "contract"
        indexes = (("auto_renews", "expires_on"),)
        constraints = (
            CheckConstraint(check="expires_on >= starts_on", name="contract_term_order"),
            UniqueConstraint(fields=("company", "product"), name="contract_company_product_uniq"),
        )


class ContractTerm(Model):
    """One term of a contract, as it started: its dates, its CONTRACTED count, its agreement.

    Written in the transaction that starts the term (a load, a renewal). Its master agreement is
    rendered afterwards (a PDF takes a while): `master_document` is set exactly once, by the
    guarded UPDATE of whoever rendered it first; `render_locked_until` is that renderer's lease.
    """

    id = fields.IntField(primary_key=True)
    contract: fields.ForeignKeyRelation[Contract] = fields.ForeignKeyField(
        "licensing.Contract", related_name="terms", on_delete=fields.CASCADE
    )
    contract_id: int
    number = fields.IntField()
    starts_on = fields.DateField()
    expires_on = fields.DateField()
    contracted_licenses = fields.IntField()
    master_document: fields.ForeignKeyNullableRelation[ContractDocument] = fields.ForeignKeyField(
        "licensing.ContractDocument", related_name=False, null=True, on_delete=fields.SET_NULL
    )
    master_document_id: int | None
    render_locked_until = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField()

    class Meta:
        table = "contract_term"
        constraints = (
            UniqueConstraint(fields=("contract", "number"), name="contract_term_number_uniq"),
            CheckConstraint(check="expires_on >= starts_on", name="contract_term_dates"),
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
