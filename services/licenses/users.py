"""Reads of a company's users and the licenses they hold, in plain SQL (services/sql.py)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from models.enums import LicenseKind, Product, Role
from models.user import User
from services import sql


@dataclass(frozen=True)
class UserView:
    id: int
    company_id: int
    name: str
    email: str
    role: Role


@dataclass(frozen=True)
class HeldLicense:
    user_id: int
    product: Product
    kind: LicenseKind
    assigned_at: dt.datetime


@dataclass(frozen=True)
class UsersPage:
    users: list[UserView]
    has_next_page: bool
    total_count: int


_USER_COLUMNS = "id, company_id, name, email, role"
_PAGE = f"SELECT {_USER_COLUMNS} FROM app_user WHERE company_id = ? ORDER BY name, id LIMIT ?"
_PAGE_AFTER = (
    f"SELECT {_USER_COLUMNS} FROM app_user WHERE company_id = ? "
    "AND (name > ? OR (name = ? AND id > ?)) ORDER BY name, id LIMIT ?"
)
_COUNT = "SELECT COUNT(*) FROM app_user WHERE company_id = ?"


def _user(row: sql.Row) -> UserView:
    return UserView(row[0], row[1], row[2], row[3], Role(row[4]))


def user_view(user: User) -> UserView:
    """A view of a User row a change has returned."""
    return UserView(user.id, user.company_id, user.name, user.email, Role(user.role))


async def users_page(*, company_id: int, first: int, after: tuple[str, int] | None) -> UsersPage:
    """Users ordered by name, then id; `after` is the (name, id) of the last user seen."""
    if after is None:
        rows = await sql.fetch(_PAGE, (company_id, first + 1))
    else:
        name, user_id = after
        rows = await sql.fetch(_PAGE_AFTER, (company_id, name, name, user_id, first + 1))
    [(total,)] = await sql.fetch(_COUNT, (company_id,))
    users = [_user(row) for row in rows[:first]]
    return UsersPage(users=users, has_next_page=len(rows) > first, total_count=int(total))


async def users_by_ids(company_id: int, ids: Sequence[int]) -> list[UserView]:
    placeholders = ", ".join("?" * len(ids))
    statement = (
        f"SELECT {_USER_COLUMNS} FROM app_user WHERE company_id = ? AND id IN ({placeholders})"
    )
    return [_user(row) for row in await sql.fetch(statement, (company_id, *ids))]


_LICENSES = """
SELECT a.user_id, a.product, p.kind, a.assigned_at
FROM license_assignment a JOIN license_pool p ON p.id = a.pool_id
WHERE a.user_id IN ({users}) ORDER BY a.user_id, a.product
"""


async def licenses_of(user_ids: Sequence[int]) -> list[HeldLicense]:
    """What each user holds, one license per product at most, JOBS before SALES."""
    if not user_ids:
        return []
    statement = _LICENSES.format(users=", ".join("?" * len(user_ids)))
    return [
        HeldLicense(row[0], Product(row[1]), LicenseKind(row[2]), sql.as_datetime(row[3]))
        for row in await sql.fetch(statement, tuple(user_ids))
    ]


NAMED_HOLDERS = 5


async def holder_names(pool_id: int, assigned: int) -> str:
    """'Ann, Bob and 3 more': who holds a pool's `assigned` licenses, the first few by name."""
    holders = User.filter(licenses__pool_id=pool_id).order_by("name").limit(NAMED_HOLDERS)
    names = [str(name) for name in await holders.values_list("name", flat=True)]
    others = assigned - len(names)
    return ", ".join(names) + (f" and {others} more" if others > 0 else "")
