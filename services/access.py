"""Who may do what. Every rule about roles and token scopes lives here."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from models.enums import Role
from services.errors import AccessDenied

LICENSE_MANAGER_ROLES = frozenset({Role.OWNER_MANAGER, Role.FINANCIAL_OFFICE_STAFF})

SCOPE_READ = "licenses:read"
SCOPE_WRITE = "licenses:write"
# The core product reporting user activity (daily billing): granted only by naming it.
SCOPE_ACTIVITY = "activity:write"
# What a token made without --scope grants. Scopes added later (activity:write...) are granted
# only by naming them, so an existing token never gains a power it was not made for.
DEFAULT_SCOPES = frozenset({SCOPE_READ, SCOPE_WRITE})
ALL_SCOPES = DEFAULT_SCOPES | {SCOPE_ACTIVITY}


class CompanyFacts(Protocol):
    """What services need of a company: the viewer's CompanyInfo, or a Company row."""

    @property
    def id(self) -> int: ...

    @property
    def name(self) -> str: ...

    @property
    def email(self) -> str: ...

    @property
    def tax_rate_basis_points(self) -> int: ...


@dataclass(frozen=True)
class CompanyInfo:
    """The viewer's company as the token lookup read it (with its data version)."""

    id: int
    name: str
    email: str
    tax_rate_basis_points: int
    currency: str
    data_version: int


@dataclass(frozen=True)
class UserInfo:
    id: int
    company_id: int
    name: str
    email: str
    role: Role


@dataclass(frozen=True)
class Viewer:
    """The authenticated user behind a request, with the token's scopes."""

    user: UserInfo
    company: CompanyInfo
    token_id: int
    token_name: str
    scopes: frozenset[str]

    @property
    def user_id(self) -> int:
        return self.user.id

    @property
    def company_id(self) -> int:
        return self.company.id

    @property
    def role(self) -> Role:
        return self.user.role

    @property
    def manages_licenses(self) -> bool:
        return self.role in LICENSE_MANAGER_ROLES


def require_license_manager(viewer: Viewer) -> None:
    """Subscription, quotes, purchases, deletes and assignments: the two finance roles only."""
    if not viewer.manages_licenses:
        raise AccessDenied(
            "Only an owner/manager or financial office staff may see or change licenses. "
            "Ask one of them for access."
        )
    if SCOPE_READ not in viewer.scopes:
        raise AccessDenied("This token has no licenses:read scope.")


def require_license_writer(viewer: Viewer) -> None:
    require_license_manager(viewer)
    if SCOPE_WRITE not in viewer.scopes:
        raise AccessDenied(
            "This token is read-only (no licenses:write scope): create a token with that scope "
            "to make changes."
        )


def require_activity_reporter(viewer: Viewer) -> None:
    """Recording activity: the scope alone grants it, whatever the token's user's role."""
    if SCOPE_ACTIVITY not in viewer.scopes:
        raise AccessDenied(
            "This token has no activity:write scope. Create one for the core product with "
            '`licensing token create --email USER --scope activity:write --name "Core product"`.'
        )


def may_read_user(viewer: Viewer, user_id: int) -> bool:
    """Anyone may read themselves; the finance roles' tokens that may read licenses may read
    every user of their company (not, say, the core product's activity:write token)."""
    return viewer.user_id == user_id or (viewer.manages_licenses and SCOPE_READ in viewer.scopes)


def parse_scopes(raw: str) -> frozenset[str]:
    """Stored scopes, space-separated (migration 0005 wrote the defaults into older tokens)."""
    return frozenset(raw.split())


def sees_signer_addresses(viewer: Viewer) -> bool:
    """Signer IP addresses in the audit trail: the finance roles' own tokens, not partners'.

    A partner integration gets a read-only token (`--scope licenses:read`); the finance roles'
    own tokens carry licenses:write.
    """
    return viewer.manages_licenses and SCOPE_WRITE in viewer.scopes
