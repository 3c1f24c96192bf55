"""Users and the licenses they hold: the users connection, and deleting, assigning, moving."""

from __future__ import annotations

from models.enums import LicenseKind, Product
from resolvers.context import RequestContext
from resolvers.errors import forbidden
from resolvers.outcome import Outcome, actor_of, decode_pk, outcome
from resolvers.pagination import decode_cursor, encode_cursor, page_size
from services.licenses import changes, user_admin, users
from services.licenses.users import HeldLicense, UsersPage, UserView, user_view
from services.subscription.reads import PoolView


async def delete_licenses(
    ctx: RequestContext, contract_id: str, kind: LicenseKind, quantity: int
) -> Outcome[PoolView]:
    viewer = ctx.license_writer()

    async def work() -> PoolView:
        pool = await changes.delete_licenses(
            company_id=viewer.company_id,
            contract_id=decode_pk(contract_id, "Contract", "contractId"),
            kind=kind,
            quantity=quantity,
            actor=actor_of(viewer),
            now=ctx.settings.clock.now(),
        )
        view = await ctx.loaders.pools_by_id.load(pool.id)
        assert view is not None, "the pool just changed is the viewer's company's"
        return view

    return await outcome(work())


async def assign_license(
    ctx: RequestContext, user_id: str, product: Product, kind: LicenseKind
) -> Outcome[UserView]:
    viewer = ctx.license_writer()

    async def work() -> UserView:
        user = await changes.assign_license(
            company_id=viewer.company_id,
            user_id=decode_pk(user_id, "User", "userId"),
            product=product,
            kind=kind,
            actor=actor_of(viewer),
            now=ctx.settings.clock.now(),
        )
        return user_view(user)

    return await outcome(work())


async def unassign_license(
    ctx: RequestContext, user_id: str, product: Product
) -> Outcome[UserView]:
    viewer = ctx.license_writer()

    async def work() -> UserView:
        user = await changes.unassign_license(
            company_id=viewer.company_id,
            user_id=decode_pk(user_id, "User", "userId"),
            product=product,
            actor=actor_of(viewer),
            now=ctx.settings.clock.now(),
        )
        return user_view(user)

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


def user_cursor(user: UserView) -> str:
    return encode_cursor(user.name, user.id)


async def company_users(
    ctx: RequestContext,
    company_id: int,
    first: int | None,
    after: str | None,
    *,
    with_licenses: bool,
) -> tuple[UsersPage, dict[int, list[HeldLicense]]]:
    """A page of users, and what each holds when asked: one statement for the whole page."""
    viewer = ctx.license_manager()
    if viewer.company_id != company_id:
        # Unreachable through the schema today; a check, not an assert (`python -O` drops those).
        raise forbidden("A company's users are visible only to that company's users.")
    page = await users.users_page(
        company_id=company_id,
        first=page_size(first),
        after=decode_cursor(after, str, int) if after else None,
    )
    held: dict[int, list[HeldLicense]] = {}
    if with_licenses:
        for row in await users.licenses_of([user.id for user in page.users]):
            held.setdefault(row.user_id, []).append(row)
    return page, held


async def licenses_held(ctx: RequestContext, user_id: int) -> list[HeldLicense]:
    return await ctx.loaders.licenses_by_user.load(user_id)
