"""Reads of users: the viewer, the company's users connection, licenses held."""

from __future__ import annotations

import base64
import binascii
import json

from models.user import LicenseAssignment, User
from resolvers.context import RequestContext
from resolvers.errors import bad_request
from services import users
from services.users import UsersPage

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 100


def page_size(first: int | None) -> int:
    if first is None:
        return DEFAULT_PAGE_SIZE
    if not 0 <= first <= MAX_PAGE_SIZE:
        raise bad_request(f"`first` must be between 0 and {MAX_PAGE_SIZE}, got {first}.")
    return first


def user_cursor(user: User) -> str:
    return base64.urlsafe_b64encode(json.dumps([user.name, user.id]).encode()).decode()


def _decode_cursor(cursor: str) -> tuple[str, int]:
    try:
        name, user_id = json.loads(base64.urlsafe_b64decode(cursor.encode()))
    except (binascii.Error, ValueError, TypeError):
        raise bad_request("`after` is not a cursor from this connection.") from None
    if not isinstance(name, str) or not isinstance(user_id, int):
        raise bad_request("`after` is not a cursor from this connection.")
    return name, user_id


async def company_users(
    ctx: RequestContext, company_id: int, first: int | None, after: str | None
) -> UsersPage:
    viewer = ctx.license_manager()
    assert viewer.company_id == company_id, "a company is only reachable through its own viewer"
    return await users.users_page(
        company_id=company_id,
        first=page_size(first),
        after=_decode_cursor(after) if after else None,
    )


async def licenses(ctx: RequestContext, user_id: int) -> list[LicenseAssignment]:
    return await ctx.loaders.assignments_by_user.load(user_id)
