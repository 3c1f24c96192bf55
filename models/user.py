from __future__ import annotations

from typing import TYPE_CHECKING

from tortoise import fields
from tortoise.models import Model

from models.enums import Product, Role

if TYPE_CHECKING:
    from models.company import Company
    from models.contract import LicensePool


class User(Model):
    """A person of a company. Deleting one frees the licenses they held (see LicenseAssignment)."""

    id = fields.IntField(primary_key=True)
    company: fields.ForeignKeyRelation[Company] = fields.ForeignKeyField(
        "licensing.Company", related_name="users", on_delete=fields.RESTRICT
    )
    company_id: int
    name = fields.CharField(max_length=200)
    email = fields.CharField(max_length=254, unique=True)
    role = fields.CharEnumField(Role, max_length=32)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "app_user"
        # The users connection pages by (name, id) within a company.
        indexes = (("company_id", "name", "id"),)


class LicenseAssignment(Model):
    """A user holding one license of a pool, at most one per user and product.

    `product` repeats the pool's contract product so the database itself can enforce
    one license per user and product.
    """

    id = fields.IntField(primary_key=True)
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "licensing.User", related_name="licenses", on_delete=fields.RESTRICT
    )
    pool: fields.ForeignKeyRelation[LicensePool] = fields.ForeignKeyField(
        "licensing.LicensePool", related_name="assignments", on_delete=fields.RESTRICT
    )
    user_id: int
    pool_id: int
    product = fields.CharEnumField(Product, max_length=16)
    assigned_at = fields.DatetimeField()

    class Meta:
        table = "license_assignment"
        unique_together = (("user", "product"),)
