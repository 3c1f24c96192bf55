from __future__ import annotations

from typing import TYPE_CHECKING

from tortoise import fields
from tortoise.migrations.constraints import UniqueConstraint
from tortoise.models import Model

if TYPE_CHECKING:
    from models.company import Company
    from models.contract import LicensePool


class BillableDay(Model):
    """A day on which a user holding a DAILY license of a pool was active: billed once.

    Events are not kept, only the days they make billable: one row per user, pool and day at
    most, which the intake inserts ignoring duplicates (services/billing/activity.py).
    `user_id` is deliberately not a foreign key: a deleted user's days stay billable, under the
    name they had (ids are never reused: AUTOINCREMENT on SQLite, a sequence on PostgreSQL).
    """

    id = fields.BigIntField(primary_key=True)
    company: fields.ForeignKeyRelation[Company] = fields.ForeignKeyField(
        "licensing.Company", related_name="billable_days", on_delete=fields.RESTRICT
    )
    company_id: int
    pool: fields.ForeignKeyRelation[LicensePool] = fields.ForeignKeyField(
        "licensing.LicensePool", related_name="billable_days", on_delete=fields.RESTRICT
    )
    pool_id: int
    user_id = fields.IntField()
    # The user's name when the day was recorded, and their last one once they are deleted.
    user_name = fields.CharField(max_length=200)
    day = fields.DateField()
    recorded_at = fields.DatetimeField()

    class Meta:
        table = "billable_day"
        # Deleting a user renames their days; the month's reads scan (pool, day).
        indexes = (("user_id", "day"),)
        constraints = (
            UniqueConstraint(fields=("pool", "day", "user_id"), name="billable_day_once"),
        )
