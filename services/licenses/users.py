"""Reads of a company's users and the licenses they hold."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from tortoise.expressions import Q

from models.user import LicenseAssignment, User


@dataclass(frozen=True)
class UsersPage:
    users: list[User]
    has_next_page: bool
    total_count: int


async def users_page(*, company_id: int, first: int, after: tuple[str, int] | None) -> UsersPage:
    """Users ordered by name, then id; `after` is the (name, id) of the last user seen."""
    query = User.filter(company_id=company_id)
    if after is not None:
        name, user_id = after
        query = query.filter(Q(name__gt=name) | Q(name=name, id__gt=user_id))
    rows = await query.order_by("name", "id").limit(first + 1)
    total = await User.filter(company_id=company_id).count()
    return UsersPage(users=rows[:first], has_next_page=len(rows) > first, total_count=total)


async def assignments_for_users(user_ids: Sequence[int]) -> list[LicenseAssignment]:
    """Assignments with their pools (for the kind), in product order per user."""
    return (
        await LicenseAssignment.filter(user_id__in=list(user_ids))
        .select_related("pool")
        .order_by("user_id", "product")
    )
