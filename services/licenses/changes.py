"""Deleting licenses and moving users between them."""

from __future__ import annotations

import datetime as dt

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from models.contract import LicensePool
from models.enums import LicenseKind, Product
from models.user import LicenseAssignment, User
from services import audit, data_version
from services.audit import Actor
from services.errors import (
    ContractedNotDeletable,
    InvalidQuantity,
    LicenseNotHeld,
    LicensesAssigned,
    NoLicenseAvailable,
    NotFound,
)
from services.licenses import pools
from services.licenses.users import holder_names
from services.renewal.changes import scheduled_reduction
from services.subscription.reads import contract_of_company
from services.webhooks import events as webhook_events

# Concurrent first assignments of one user and product collide on the unique key; retrying
# sees the other's row and becomes a no-op or a switch.
ASSIGN_ATTEMPTS = 3


async def _pool(*, company_id: int, contract_id: int, kind: LicenseKind) -> LicensePool:
    contract = await contract_of_company(
        company_id=company_id, contract_id=contract_id, field="contractId"
    )
    return await LicensePool.get(contract_id=contract.id, kind=kind)


async def _holders_message(pool: LicensePool, quantity: int) -> str:
    named = await holder_names(pool.id, pool.assigned)
    return (
        f"Only {pool.available} of the {pool.total} {pool.kind.lower()} licenses are unassigned, "
        f"so {quantity} cannot be deleted: {pool.assigned} are assigned ({named}). "
        "Delete those users or switch them to another license type first."
    )


async def delete_licenses(
    *,
    company_id: int,
    contract_id: int,
    kind: LicenseKind,
    quantity: int,
    actor: Actor,
    now: dt.datetime,
) -> LicensePool:
    """Remove unassigned MONTHLY or DAILY licenses; CONTRACTED ones wait for renewal."""
    pool = await _pool(company_id=company_id, contract_id=contract_id, kind=kind)
    if kind == LicenseKind.CONTRACTED:
        raise ContractedNotDeletable(
            "Contracted licenses cannot be deleted: they run for the contract term and are "
            "adjusted at renewal.",
            field="kind",
        )
    if not 1 <= quantity <= pool.total:
        raise InvalidQuantity(
            f"Enter a number from 1 to {pool.total}, the {kind.lower()} licenses you hold.",
            field="quantity",
        )
    async with in_transaction():
        await data_version.changed(company_id)
        if not await pools.remove_unassigned(pool.id, quantity):
            fresh = await LicensePool.get(id=pool.id)
            raise LicensesAssigned(await _holders_message(fresh, quantity), field="quantity")
        after = await LicensePool.get(id=pool.id)
        await audit.record(
            company_id=company_id,
            actor=actor,
            contract_id=pool.contract_id,
            action="licenses.deleted",
            subject_type="LicensePool",
            subject_id=pool.id,
            details={
                "kind": str(kind),
                "quantity": quantity,
                "totalBefore": after.total + quantity,
                "totalAfter": after.total,
                "assigned": after.assigned,
            },
            now=now,
        )
        await webhook_events.pools_changed(company_id, [pool.id], now)
    return after


async def _none_available(pool: LicensePool, product: Product) -> NoLicenseAvailable:
    fresh = await LicensePool.get(id=pool.id)
    limit = await scheduled_reduction(pool.contract_id) if pool.kind == "CONTRACTED" else None
    if limit is not None and fresh.assigned < fresh.total:
        renews_on, count = limit
        return NoLicenseAvailable(
            f"No contracted {product.title()} license can be assigned: the contract renews on "
            f"{renews_on.isoformat()} with {count} contracted licenses (a signed change) and "
            f"{count} or more are assigned. Assign a monthly or daily license, or cancel the "
            "renewal change.",
            field="kind",
        )
    return NoLicenseAvailable(
        f"No {pool.kind.lower()} {product.title()} license is available. Buy "
        "more, or free one by moving or deleting a user who holds one.",
        field="kind",
    )


async def _user(company_id: int, user_id: int) -> User:
    user = await User.filter(id=user_id, company_id=company_id).first()
    if user is None:
        raise NotFound("No user has this id. Reload the users list.", field="userId")
    return user


async def _product_pool(company_id: int, product: Product, kind: LicenseKind) -> LicensePool:
    pool = await LicensePool.filter(
        contract__company_id=company_id, contract__product=product, kind=kind
    ).first()
    if pool is None:
        raise NotFound(f"The company has no {product.title()} contract.", field="product")
    return pool


async def assign_license(
    *,
    company_id: int,
    user_id: int,
    product: Product,
    kind: LicenseKind,
    actor: Actor,
    now: dt.datetime,
) -> User:
    """Give the user a license of this kind, or move them to it from the kind they hold."""
    user = await _user(company_id, user_id)
    target = await _product_pool(company_id, product, kind)
    for attempt in range(ASSIGN_ATTEMPTS):
        try:
            await _assign_once(company_id, user, product, target, actor, now)
            return user
        except IntegrityError:
            if attempt == ASSIGN_ATTEMPTS - 1:
                raise
    return user


async def _assign_once(
    company_id: int,
    user: User,
    product: Product,
    target: LicensePool,
    actor: Actor,
    now: dt.datetime,
) -> None:
    async with in_transaction():
        await data_version.changed(company_id)
        # The company lock just taken serializes this with user deletions: check again.
        if not await User.filter(id=user.id).exists():
            raise NotFound("No user has this id. Reload the users list.", field="userId")
        held = await LicenseAssignment.filter(user_id=user.id, product=product).first()
        old_pool_id = held.pool_id if held else None
        if old_pool_id == target.id:
            return
        # One lock order for every change: the user's assignment row first, then pools by
        # ascending id. Concurrent switches, deletions and signatures cannot deadlock then.
        if held is None:
            await LicenseAssignment.create(
                user_id=user.id, pool_id=target.id, product=product, assigned_at=now
            )
        else:
            moved = await LicenseAssignment.filter(id=held.id, pool_id=old_pool_id).update(
                pool_id=target.id, assigned_at=now
            )
            if moved != 1:
                raise IntegrityError("the assignment changed while it was being moved")
        for pool_id in sorted({target.id} | ({old_pool_id} if old_pool_id else set())):
            if pool_id == old_pool_id:
                await pools.release_one(pool_id)
            elif not await pools.take_one(pool_id):
                raise await _none_available(target, product)
        await audit.record(
            company_id=company_id,
            actor=actor,
            contract_id=target.contract_id,
            action="license.switched" if held else "license.assigned",
            subject_type="User",
            subject_id=user.id,
            details={
                "product": str(product),
                "kind": str(target.kind),
                "fromPoolId": old_pool_id,
                "toPoolId": target.id,
            },
            now=now,
        )
        await webhook_events.user_license_changed(
            company_id=company_id,
            user_id=user.id,
            product=product,
            pool_id=target.id,
            previous_pool_id=old_pool_id,
            now=now,
        )
        await webhook_events.pools_changed(
            company_id, [target.id, *([old_pool_id] if old_pool_id else [])], now
        )


async def unassign_license(
    *, company_id: int, user_id: int, product: Product, actor: Actor, now: dt.datetime
) -> User:
    user = await _user(company_id, user_id)
    async with in_transaction():
        await data_version.changed(company_id)
        held = (
            await LicenseAssignment.filter(user_id=user.id, product=product)
            .select_related("pool")
            .first()
        )
        removed = 0 if held is None else await LicenseAssignment.filter(id=held.id).delete()
        if held is None or removed != 1:
            raise LicenseNotHeld(
                f"{user.name} holds no {product.title()} license.", field="product"
            )
        await pools.release_one(held.pool_id)
        await audit.record(
            company_id=company_id,
            actor=actor,
            contract_id=held.pool.contract_id,
            action="license.unassigned",
            subject_type="User",
            subject_id=user.id,
            details={"product": str(product), "poolId": held.pool_id},
            now=now,
        )
        await webhook_events.user_license_changed(
            company_id=company_id,
            user_id=user.id,
            product=product,
            pool_id=None,
            previous_pool_id=held.pool_id,
            now=now,
        )
        await webhook_events.pools_changed(company_id, [held.pool_id], now)
    return user
