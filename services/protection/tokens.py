"""Bearer tokens: created for a user, stored only as SHA-256 hashes."""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import secrets
from dataclasses import dataclass

from tortoise.transactions import in_transaction

from models.enums import Role
from models.token import ApiToken
from models.user import User
from services import data_version, sql
from services.access import (
    ALL_SCOPES,
    DEFAULT_SCOPES,
    CompanyInfo,
    UserInfo,
    Viewer,
    parse_scopes,
)
from services.errors import NotFound, UnknownScope
from services.renewal.apply import renew_due

logger = logging.getLogger(__name__)
TOKEN_PREFIX = "lic_"  # noqa: S105 (a visible prefix, not a secret)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def create_token(
    *, email: str, now: dt.datetime, scopes: list[str] | None = None, name: str = ""
) -> str:
    """A new token for the user with this email; the returned token is never stored."""
    unknown = set(scopes or []) - ALL_SCOPES
    if unknown:
        raise UnknownScope(
            f"Unknown scope(s): {', '.join(sorted(unknown))}. "
            f"Use one or more of: {', '.join(sorted(ALL_SCOPES))}.",
            field="scope",
        )
    user = await User.get_or_none(email=email)
    if user is None:
        raise NotFound(f"No user has the email {email!r}.", field="email")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    await ApiToken.create(
        user=user,
        token_hash=hash_token(token),
        name=name,
        scopes=" ".join(sorted(set(scopes or DEFAULT_SCOPES))),
        created_at=now,
    )
    return token


LAST_USED_PRECISION = dt.timedelta(minutes=1)


# Every request runs this: one plain statement (services/sql.py). It also brings the company's
# data version, which keys the response cache, and the end of its renewing contracts' earliest
# term: the first request after it applies the renewal before anything is read.
_AUTHENTICATE = """
SELECT t.id, t.name, t.scopes, t.last_used_at,
       u.id, u.name, u.email, u.role,
       c.id, c.name, c.email, c.tax_rate_basis_points, c.currency, c.data_version,
       (SELECT MIN(k.expires_on) FROM contract k WHERE k.company_id = c.id AND k.auto_renews = ?)
FROM api_token t
JOIN app_user u ON u.id = t.user_id
JOIN company c ON c.id = u.company_id
WHERE t.token_hash = ? AND t.revoked_at IS NULL
"""


async def authenticate(token: str, *, now: dt.datetime) -> Viewer | None:
    """The viewer a bearer token stands for, or None when it is unknown or revoked.

    Records when the token was last used, to the minute: one write per token and minute at most.
    """
    params = (True, hash_token(token))
    rows = await sql.fetch(_AUTHENTICATE, params)
    if not rows:
        return None
    if rows[0][14] is not None and sql.as_date(rows[0][14]) < now.date():
        try:
            await renew_due(rows[0][8], now=now)
        except Exception:
            # Serve the request; the renewal loop tries again (licensing/renewals.py).
            logger.exception("renewal of company %s failed; serving its current term", rows[0][8])
        rows = await sql.fetch(_AUTHENTICATE, params)  # the data version the renewal moved
        if not rows:
            return None
    token_id, name, scopes, last_used = rows[0][:4]
    last_used_at = sql.as_optional_datetime(last_used)
    if last_used_at is None or last_used_at < now - LAST_USED_PRECISION:
        await ApiToken.filter(id=token_id).update(last_used_at=now)
    user_id, user_name, email, role = rows[0][4:8]
    company = CompanyInfo(*rows[0][8:14])
    return Viewer(
        user=UserInfo(
            id=user_id, company_id=company.id, name=user_name, email=email, role=Role(role)
        ),
        company=company,
        token_id=token_id,
        token_name=name,
        scopes=parse_scopes(scopes),
    )


@dataclass(frozen=True)
class TokenInfo:
    id: int
    email: str
    name: str
    scopes: str
    created_at: dt.datetime
    last_used_at: dt.datetime | None
    revoked_at: dt.datetime | None


async def list_tokens() -> list[TokenInfo]:
    rows = await ApiToken.all().select_related("user").order_by("id")
    return [
        TokenInfo(
            id=row.id,
            email=row.user.email,
            name=row.name,
            scopes=" ".join(sorted(parse_scopes(row.scopes))),
            created_at=row.created_at,
            last_used_at=row.last_used_at,
            revoked_at=row.revoked_at,
        )
        for row in rows
    ]


async def revoke_token(*, token_id: int, now: dt.datetime) -> None:
    """Revoked tokens fail on their very next request: every request looks the token up.

    The company's data version moves too, so that live subscribers, which look their token up
    before each event, are sent one now and a socket of this token is closed at once.
    """
    token = await ApiToken.filter(id=token_id).select_related("user").first()
    if token is None:
        raise NotFound(f"No token has the id {token_id}: see `licensing token list`.", field="id")
    async with in_transaction():
        await data_version.changed(token.user.company_id)
        await ApiToken.filter(id=token_id, revoked_at__isnull=True).update(revoked_at=now)
