"""Enumerations shared by the models and the domain."""

from enum import StrEnum


class Product(StrEnum):
    JOBS = "JOBS"
    SALES = "SALES"


class LicenseKind(StrEnum):
    CONTRACTED = "CONTRACTED"
    MONTHLY = "MONTHLY"
    DAILY = "DAILY"


class Role(StrEnum):
    OWNER_MANAGER = "OWNER_MANAGER"
    FINANCIAL_OFFICE_STAFF = "FINANCIAL_OFFICE_STAFF"
    OFFICE_STAFF = "OFFICE_STAFF"
    ENGINEER = "ENGINEER"


class ActivityKind(StrEnum):
    """What the core product reports of a user; each kind makes the day billable alike."""

    LOGIN = "LOGIN"
    APPOINTMENT_BOOKED = "APPOINTMENT_BOOKED"
    APPOINTMENT_ACTIONED = "APPOINTMENT_ACTIONED"


# Display order everywhere: JOBS first, pools CONTRACTED, MONTHLY, DAILY.
PRODUCT_ORDER = (Product.JOBS, Product.SALES)
KIND_ORDER = (LicenseKind.CONTRACTED, LicenseKind.MONTHLY, LicenseKind.DAILY)
