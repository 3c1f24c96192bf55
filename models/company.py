from tortoise import fields
from tortoise.migrations.constraints import CheckConstraint
from tortoise.models import Model


class Company(Model):
    """A customer of the SaaS. Created and updated by `licensing load`, never deleted here."""

    id = fields.IntField(primary_key=True)
    name = fields.CharField(max_length=200)
    email = fields.CharField(max_length=254, unique=True)
    tax_rate_basis_points = fields.IntField()
    currency = fields.CharField(max_length=3)
    created_at = fields.DatetimeField(auto_now_add=True)
    # Bumped by every change to the company's data (services/data_version.py).
    data_version = fields.BigIntField(default=0, db_default=0)

    class Meta:
        table = "company"
        constraints = (
            CheckConstraint(
                check="tax_rate_basis_points >= 0 AND tax_rate_basis_points <= 10000",
                name="company_tax_rate_range",
            ),
        )
