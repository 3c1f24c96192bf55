"""Deleting users: their licenses become available, the licenses themselves stay."""

from __future__ import annotations

import datetime as dt

from tortoise.transactions import in_transaction

from models.billing import BillableDay
from models.enums import Role
from models.user import LicenseAssignment, User
from services import audit, data_version
from services.audit import Actor
from services.errors import CannotDeleteSelf, LastOwnerRequired, NotFound
from services.licenses import pools
from services.webhooks import events as webhook_events


async def delete_user(*, company_id: int, user_id: int, actor: Actor, now: dt.datetime) -> int:
    """Delete a user of the company and free what they held. Returns the deleted user's id."""
    if user_id == actor.user_id:
        raise CannotDeleteSelf(
            "You cannot delete yourself. Ask another owner/manager to do it.", field="userId"
        )
    async with in_transaction():
        # Also locks the company row until commit, which serializes owner deletions per
        # company, so two owners cannot delete each other.
        await data_version.changed(company_id)
        user = await User.filter(id=user_id, company_id=company_id).first()
        if user is None:
            raise NotFound("No user has this id. Reload the users list.", field="userId")
        if (
            user.role == Role.OWNER_MANAGER
            and await User.filter(company_id=company_id, role=Role.OWNER_MANAGER).count() == 1
        ):
            raise LastOwnerRequired(
                f"{user.name} is the company's only owner/manager. Make someone else an "
                "owner/manager first.",
                field="userId",
            )
        held = await LicenseAssignment.filter(user_id=user.id)
        # Assignment rows first, then pools by ascending id: the lock order of every change.
        await LicenseAssignment.filter(user_id=user.id).delete()
        for pool_id in sorted(assignment.pool_id for assignment in held):
            await pools.release_one(pool_id)
        # Their billable days stay, under the name they had (the rows never pointed at them).
        await BillableDay.filter(user_id=user.id).update(user_name=user.name)
        await user.delete()
        await audit.record(
            company_id=company_id,
            actor=actor,
            action="user.deleted",
            subject_type="User",
            subject_id=user_id,
            details={"email": user.email, "freedPoolIds": [a.pool_id for a in held]},
            now=now,
        )
        for assignment in held:
            await webhook_events.user_license_changed(
                company_id=company_id,
                user_id=user_id,
                product=assignment.product,
                pool_id=None,
                previous_pool_id=assignment.pool_id,
                now=now,
                user_deleted=True,
            )
        await webhook_events.pools_changed(company_id, [a.pool_id for a in held], now)
    return user_id
