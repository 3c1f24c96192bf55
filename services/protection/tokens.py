"""Bearer tokens: created for a user, stored only as SHA-256 hashes."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass
from typing import Any, TypeVar

from tortoise.connection import get_connection
from tortoise.models import Model

from models.company import Company
from models.token import ApiToken
from models.user import User
from services.access import ALL_SCOPES, DEFAULT_SCOPES, Viewer, parse_scopes
from services.errors import NotFound, UnknownScope

M = TypeVar("M", bound=Model)

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


def _columns(alias: str, model: type[Model]) -> list[str]:
    return [f'{alias}."{column}" AS "{alias}.{column}"' for column in sorted(model._meta.db_fields)]


# Every request runs this, so it is one plain statement, not a query built per request. It
# also brings the company's data version, which keys the response cache.
_AUTHENTICATE = (
    "SELECT "
    + ", ".join(_columns("t", ApiToken) + _columns("u", User) + _columns("c", Company))
    + f' FROM "{ApiToken._meta.db_table}" t'
    + f' JOIN "{User._meta.db_table}" u ON u."id" = t."user_id"'
    + f' JOIN "{Company._meta.db_table}" c ON c."id" = u."company_id"'
    + ' WHERE t."token_hash" = {marker} AND t."revoked_at" IS NULL'
)


def _part(row: dict[str, Any], alias: str, model: type[M]) -> M:
    prefix = f"{alias}."
    values = {key[len(prefix) :]: value for key, value in row.items() if key.startswith(prefix)}
    return model._init_from_db(**values)


async def authenticate(token: str, *, now: dt.datetime) -> Viewer | None:
    """The viewer a bearer token stands for, or None when it is unknown or revoked.

    Records when the token was last used, to the minute: one write per token and minute at most.
    """
    connection = get_connection("default")
    marker = "$1" if connection.capabilities.dialect == "postgres" else "?"
    rows = await connection.execute_query_dict(
        _AUTHENTICATE.format(marker=marker), [hash_token(token)]
    )
    if not rows:
        return None
    row = _part(rows[0], "t", ApiToken)
    if row.last_used_at is None or row.last_used_at < now - LAST_USED_PRECISION:
        await ApiToken.filter(id=row.id).update(last_used_at=now)
    return Viewer(
        user=_part(rows[0], "u", User),
        company=_part(rows[0], "c", Company),
        token_id=int(row.id),
        token_name=row.name,
        scopes=parse_scopes(row.scopes),
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
    """Revoked tokens fail on their very next request: every request looks the token up."""
    if not await ApiToken.filter(id=token_id).exists():
        raise NotFound(f"No token has the id {token_id}: see `licensing token list`.", field="id")
    await ApiToken.filter(id=token_id, revoked_at__isnull=True).update(revoked_at=now)
