from tortoise import fields
from tortoise.migrations.constraints import CheckConstraint
from tortoise.models import Model

from models.enums import LicenseKind, Product


class Plan(Model):
    """A subscription tier from the shared catalogue, priced per license kind in minor units."""

    id = fields.IntField(primary_key=True)
    name = fields.CharField(max_length=200, unique=True)
    product = fields.CharEnumField(Product, max_length=16)
    currency = fields.CharField(max_length=3)
    storage_allowance_per_license_bytes = fields.BigIntField()
    contracted_price_minor = fields.BigIntField()
    monthly_price_minor = fields.BigIntField()
    daily_price_minor = fields.BigIntField()

    class Meta:
        table = "plan"
        constraints = (
            CheckConstraint(
                check="storage_allowance_per_license_bytes >= 0", name="plan_allowance_nonneg"
            ),
            CheckConstraint(
                check=(
                    "contracted_price_minor >= 0 AND monthly_price_minor >= 0"
                    " AND daily_price_minor >= 0"
                ),
                name="plan_prices_nonneg",
            ),
        )

    def price_minor(self, kind: LicenseKind) -> int:
        prices = {
            LicenseKind.CONTRACTED: self.contracted_price_minor,
            LicenseKind.MONTHLY: self.monthly_price_minor,
            LicenseKind.DAILY: self.daily_price_minor,
        }
        return int(prices[kind])
