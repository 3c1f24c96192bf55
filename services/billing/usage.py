"""Reads of the billable days: a month's count per DAILY pool and who used them.

A statement per kind of read, whatever the number of users and days: the counts of every
pool asked for, and the first page of users of every pool asked for, each in one.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass

from models.enums import Role
from services import sql
from services.licenses.users import UserView


@dataclass(frozen=True, order=True)
class Month:
    first_day: dt.date

    @classmethod
    def of(cls, day: dt.date) -> Month:
        return cls(day.replace(day=1))

    @property
    def next_first_day(self) -> dt.date:
        return (self.first_day + dt.timedelta(days=31)).replace(day=1)

    @property
    def label(self) -> str:
        return f"{self.first_day.year:04}-{self.first_day.month:02}"


_MONTH = re.compile(r"([0-9]{4})-([0-9]{2})")
# The last year whose December's next month a date can still hold.
LAST_YEAR = dt.MAXYEAR - 1


def parse_month(text: str) -> Month | None:
    """'2026-11' as a Month (years 0001 to 9998); None for anything else."""
    found = _MONTH.fullmatch(text)
    if found is None or not 1 <= int(found[1]) <= LAST_YEAR or not 1 <= int(found[2]) <= 12:
        return None
    return Month(dt.date(int(found[1]), int(found[2]), 1))


def _in(count: int) -> str:
    return ", ".join("?" * count)


_DAYS = """
SELECT pool_id, COUNT(*) FROM billable_day
WHERE pool_id IN ({pools}) AND day >= ? AND day < ? GROUP BY pool_id
"""


async def billable_days(pool_ids: Sequence[int], month: Month) -> dict[int, int]:
    """Billable user-days of the month, per pool (0 for a pool with none)."""
    if not pool_ids:
        return {}
    statement = _DAYS.format(pools=_in(len(pool_ids)))
    rows = await sql.fetch(statement, (*pool_ids, month.first_day, month.next_first_day))
    found = {int(pool_id): int(days) for pool_id, days in rows}
    return {pool_id: found.get(pool_id, 0) for pool_id in pool_ids}


@dataclass(frozen=True)
class DailyUser:
    pool_id: int
    user_id: int
    name: str
    days: int
    last_active_on: dt.date
    # None once the user is deleted.
    user: UserView | None

    @property
    def position(self) -> tuple[int, str, int]:
        """Where the user stands (most days first, then name, then id), for `after`."""
        return (self.days, self.name, self.user_id)


@dataclass(frozen=True)
class DailyUsersPage:
    users: list[DailyUser]
    has_next_page: bool
    total_count: int


# Users of each pool with billable days in the month, most days first, then by name (their
# current one; a deleted user's last), then id; with the count of such users of the pool.
_RANKED = """
WITH used AS (
  SELECT pool_id, user_id, COUNT(*) AS days, MAX(day) AS last_on, MAX(user_name) AS kept_name
  FROM billable_day WHERE pool_id IN ({pools}) AND day >= ? AND day < ?
  GROUP BY pool_id, user_id
), named AS (
  SELECT used.pool_id, used.user_id, used.days, used.last_on,
         COALESCE(u.name, used.kept_name) AS name, u.id AS live_id, u.company_id, u.email, u.role
  FROM used LEFT JOIN app_user u ON u.id = used.user_id
), ranked AS (
  SELECT named.*,
         ROW_NUMBER() OVER (PARTITION BY pool_id ORDER BY days DESC, name, user_id) AS position,
         COUNT(*) OVER (PARTITION BY pool_id) AS users
  FROM named
)
SELECT pool_id, user_id, name, days, last_on, live_id, company_id, email, role, users
FROM ranked
"""
_FIRST_PAGES = _RANKED + " WHERE position <= ? ORDER BY pool_id, position"
_PAGE_AFTER = (
    _RANKED + " WHERE (days < ? OR (days = ? AND (name > ? OR (name = ? AND user_id > ?))))"
    " ORDER BY position LIMIT ?"
)


def _daily_user(row: sql.Row) -> DailyUser:
    pool_id, user_id, name, days, last_on, live_id, company_id, email, role = row[:9]
    user = None if live_id is None else UserView(live_id, company_id, name, email, Role(role))
    return DailyUser(int(pool_id), int(user_id), name, int(days), sql.as_date(last_on), user)


def _page(rows: Sequence[sql.Row], first: int, total: int) -> DailyUsersPage:
    users = [_daily_user(row) for row in rows[:first]]
    return DailyUsersPage(users=users, has_next_page=len(rows) > first, total_count=total)


async def first_pages(
    pool_ids: Sequence[int], month: Month, first: int
) -> dict[int, DailyUsersPage]:
    """The first `first` users of each pool, in one statement."""
    statement = _FIRST_PAGES.format(pools=_in(len(pool_ids)))
    params = (*pool_ids, month.first_day, month.next_first_day, first + 1)
    by_pool: dict[int, list[sql.Row]] = {pool_id: [] for pool_id in pool_ids}
    for row in await sql.fetch(statement, params):
        by_pool[int(row[0])].append(row)
    return {
        pool_id: _page(rows, first, int(rows[0][9]) if rows else 0)
        for pool_id, rows in by_pool.items()
    }


async def page_after(
    pool_id: int, month: Month, first: int, after: tuple[int, str, int]
) -> DailyUsersPage:
    """The users after the position `after` (days, name, user id) of the last one seen."""
    days, name, user_id = after
    statement = _PAGE_AFTER.format(pools="?")
    params = (
        pool_id,
        month.first_day,
        month.next_first_day,
        *(days, days, name, name, user_id),
        first + 1,
    )
    rows = await sql.fetch(statement, params)
    total = int(rows[0][9]) if rows else await _users_count(pool_id, month)
    return _page(rows, first, total)


_USERS = """
SELECT COUNT(DISTINCT user_id) FROM billable_day WHERE pool_id = ? AND day >= ? AND day < ?
"""


async def _users_count(pool_id: int, month: Month) -> int:
    """For a page past the last user (no row carries the count)."""
    [(count,)] = await sql.fetch(_USERS, (pool_id, month.first_day, month.next_first_day))
    return int(count)
