"""Reads of users: the viewer, the company's users connection, licenses held."""

from __future__ import annotations

from models.user import LicenseAssignment, User
from resolvers.context import RequestContext
from resolvers.errors import forbidden
from resolvers.pagination import decode_cursor, encode_cursor, page_size
from services import users
from services.users import UsersPage


def user_cursor(user: User) -> str:
    return encode_cursor(user.name, user.id)


async def company_users(
    ctx: RequestContext, company_id: int, first: int | None, after: str | None
) -> UsersPage:
    viewer = ctx.license_manager()
    if viewer.company_id != company_id:
        # Unreachable through the schema today; a check, not an assert (`python -O` drops those).
        raise forbidden("A company's users are visible only to that company's users.")
    return await users.users_page(
        company_id=company_id,
        first=page_size(first),
        after=decode_cursor(after, str, int) if after else None,
    )


async def licenses(ctx: RequestContext, user_id: int) -> list[LicenseAssignment]:
    return await ctx.loaders.assignments_by_user.load(user_id)
