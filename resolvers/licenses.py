"""Users and the licenses they hold: the users connection, and deleting, assigning, moving."""

from __future__ import annotations

from models.contract import LicensePool
from models.enums import LicenseKind, Product
from models.user import LicenseAssignment, User
from resolvers.context import RequestContext
from resolvers.errors import forbidden
from resolvers.outcome import Outcome, actor_of, decode_pk, outcome
from resolvers.pagination import decode_cursor, encode_cursor, page_size
from services.licenses import changes, user_admin, users
from services.licenses.users import UsersPage


async def delete_licenses(
    ctx: RequestContext, contract_id: str, kind: LicenseKind, quantity: int
) -> Outcome[LicensePool]:
    viewer = ctx.license_writer()

    async def work() -> LicensePool:
        return await changes.delete_licenses(
            company_id=viewer.company_id,
            contract_id=decode_pk(contract_id, "Contract", "contractId"),
            kind=kind,
            quantity=quantity,
            actor=actor_of(viewer),
            now=ctx.settings.clock.now(),
        )

    return await outcome(work())


async def assign_license(
    ctx: RequestContext, user_id: str, product: Product, kind: LicenseKind
) -> Outcome[User]:
    viewer = ctx.license_writer()

    async def work() -> User:
        return await changes.assign_license(
            company_id=viewer.company_id,
            user_id=decode_pk(user_id, "User", "userId"),
            product=product,
            kind=kind,
            actor=actor_of(viewer),
            now=ctx.settings.clock.now(),
        )

    return await outcome(work())


async def unassign_license(ctx: RequestContext, user_id: str, product: Product) -> Outcome[User]:
    viewer = ctx.license_writer()

    async def work() -> User:
        return await changes.unassign_license(
            company_id=viewer.company_id,
            user_id=decode_pk(user_id, "User", "userId"),
            product=product,
            actor=actor_of(viewer),
            now=ctx.settings.clock.now(),
        )

    return await outcome(work())


async def delete_user(ctx: RequestContext, user_id: str) -> Outcome[int]:
    viewer = ctx.license_writer()

    async def work() -> int:
        return await user_admin.delete_user(
            company_id=viewer.company_id,
            user_id=decode_pk(user_id, "User", "userId"),
            actor=actor_of(viewer),
            now=ctx.settings.clock.now(),
        )

    return await outcome(work())


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


async def licenses_held(ctx: RequestContext, user_id: int) -> list[LicenseAssignment]:
    return await ctx.loaders.assignments_by_user.load(user_id)
