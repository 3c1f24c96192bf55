"""Tortoise models of the `licensing` app, one module per aggregate."""

from models.api import PersistedQuery, RateLimitBucket
from models.audit import AuditEvent
from models.company import Company
from models.contract import Contract, LicensePool, StorageUsage
from models.document import ContractDocument, DocumentKind
from models.enums import LicenseKind, Product, Role
from models.plan import Plan
from models.purchase import (
    EmailStatus,
    LicensePurchase,
    OutboxEmail,
    PurchaseStatus,
    SignatureToken,
)
from models.token import ApiToken
from models.user import LicenseAssignment, User

APP_LABEL = "licensing"

__all__ = [
    "APP_LABEL",
    "ApiToken",
    "AuditEvent",
    "Company",
    "Contract",
    "ContractDocument",
    "DocumentKind",
    "EmailStatus",
    "LicenseAssignment",
    "LicenseKind",
    "LicensePool",
    "LicensePurchase",
    "OutboxEmail",
    "PersistedQuery",
    "Plan",
    "Product",
    "PurchaseStatus",
    "RateLimitBucket",
    "Role",
    "SignatureToken",
    "StorageUsage",
    "User",
]
