"""Mutation glue: decode ids, check the viewer may write, call a service, map domain errors."""

from __future__ import annotations

from models.contract import LicensePool
from models.enums import LicenseKind, Product
from models.user import User
from resolvers.context import RequestContext
from resolvers.outcome import Outcome, actor_of, decode_pk, outcome
from services import licenses, user_admin


async def delete_licenses(
    ctx: RequestContext, contract_id: str, kind: LicenseKind, quantity: int
) -> Outcome[LicensePool]:
    viewer = ctx.license_writer()

    async def work() -> LicensePool:
        return await licenses.delete_licenses(
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
        return await licenses.assign_license(
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
        return await licenses.unassign_license(
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
