"""Tortoise models of the `licensing` app, one module per aggregate."""

from models.api import PersistedQuery, RateLimitBucket
from models.audit import AuditEvent
from models.billing import BillableDay
from models.company import Company
from models.contract import Contract, ContractTerm, LicensePool, StorageUsage
from models.document import ContractDocument, DocumentKind
from models.enums import LicenseKind, Product, Role
from models.outbox import EmailKind, EmailStatus, OutboxEmail
from models.plan import Plan
from models.purchase import LicensePurchase, PurchaseStatus, SignatureToken
from models.renewal import RenewalChange, RenewalChangeStatus, RenewalSignatureToken
from models.token import ApiToken
from models.user import LicenseAssignment, User
from models.webhook import (
    DeliveryStatus,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
    WebhookEventType,
)

APP_LABEL = "licensing"

__all__ = [
    "APP_LABEL",
    "ApiToken",
    "AuditEvent",
    "BillableDay",
    "Company",
    "Contract",
    "ContractDocument",
    "ContractTerm",
    "DeliveryStatus",
    "DocumentKind",
    "EmailKind",
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
    "RenewalChange",
    "RenewalChangeStatus",
    "RenewalSignatureToken",
    "Role",
    "SignatureToken",
    "StorageUsage",
    "User",
    "WebhookDelivery",
    "WebhookEndpoint",
    "WebhookEvent",
    "WebhookEventType",
]
