"""Mutation glue: decode ids, check the viewer may write, call a service, map domain errors."""

from __future__ import annotations

from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Generic, TypeVar

from models.contract import LicensePool
from models.enums import LicenseKind, Product
from models.user import User
from resolvers.context import RequestContext
from resolvers.errors import UserErrorData, user_error
from resolvers.ids import decode_id
from services import licenses, user_admin
from services.access import Viewer
from services.audit import Actor
from services.errors import DomainError, NotFound

T = TypeVar("T")


@dataclass(frozen=True)
class Outcome(Generic[T]):
    """A mutation's result: the value, or the userErrors that explain why there is none."""

    value: T | None
    errors: list[UserErrorData]


async def _outcome(work: Awaitable[T]) -> Outcome[T]:
    try:
        return Outcome(await work, [])
    except DomainError as error:
        return Outcome(None, [user_error(error)])


def _actor(viewer: Viewer) -> Actor:
    return Actor(user_id=viewer.user_id, token_id=viewer.token_id)


def _pk(global_id: str, type_name: str, field: str) -> int:
    pk = decode_id(global_id, type_name)
    if pk is None:
        # Malformed, another type's or unknown: all read the same, as NOT_FOUND.
        raise NotFound(f"No {type_name.lower()} has this id.", field=field)
    return pk


async def delete_licenses(
    ctx: RequestContext, contract_id: str, kind: LicenseKind, quantity: int
) -> Outcome[LicensePool]:
    viewer = ctx.license_writer()

    async def work() -> LicensePool:
        return await licenses.delete_licenses(
            company_id=viewer.company_id,
            contract_id=_pk(contract_id, "Contract", "contractId"),
            kind=kind,
            quantity=quantity,
            actor=_actor(viewer),
            now=ctx.settings.clock.now(),
        )

    return await _outcome(work())


async def assign_license(
    ctx: RequestContext, user_id: str, product: Product, kind: LicenseKind
) -> Outcome[User]:
    viewer = ctx.license_writer()

    async def work() -> User:
        return await licenses.assign_license(
            company_id=viewer.company_id,
            user_id=_pk(user_id, "User", "userId"),
            product=product,
            kind=kind,
            actor=_actor(viewer),
            now=ctx.settings.clock.now(),
        )

    return await _outcome(work())


async def unassign_license(ctx: RequestContext, user_id: str, product: Product) -> Outcome[User]:
    viewer = ctx.license_writer()

    async def work() -> User:
        return await licenses.unassign_license(
            company_id=viewer.company_id,
            user_id=_pk(user_id, "User", "userId"),
            product=product,
            actor=_actor(viewer),
            now=ctx.settings.clock.now(),
        )

    return await _outcome(work())


async def delete_user(ctx: RequestContext, user_id: str) -> Outcome[int]:
    viewer = ctx.license_writer()

    async def work() -> int:
        return await user_admin.delete_user(
            company_id=viewer.company_id,
            user_id=_pk(user_id, "User", "userId"),
            actor=_actor(viewer),
            now=ctx.settings.clock.now(),
        )

    return await _outcome(work())
