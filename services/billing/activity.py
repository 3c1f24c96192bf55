"""The core product's activity reports: which days of which users become billable.

A (user, product, day) is billable when its event is recorded while the user holds a DAILY
license of that product (contract README, "Daily licenses, billed by use"). Only those days
are stored, a row each, by an insert that ignores the ones already there, so repeated and
concurrent reports add nothing twice. A report that adds nothing writes nothing: no company
lock, no data-version bump, no cached answer invalidated.

Statements, whatever the number of events: one read (the users, their DAILY licenses and the
days already billable, for every distinct event at once), then, only if a day is new, one
transaction: the data-version bump (the company lock, first as in every change) and one INSERT
that checks the license again under that lock.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import orjson
from tortoise.transactions import in_transaction

from models.enums import ActivityKind, LicenseKind, Product
from services import data_version, sql
from services.errors import (
    ActivityDayOutOfRange,
    DomainError,
    DomainErrors,
    InvalidQuantity,
    NotFound,
    TooManyEvents,
)

MAX_EVENTS = 1_000
# userErrors listed for one call at most (by event order): enough to fix a batch, never a
# response as long as the request.
MAX_LISTED_ERRORS = 100


class ActivityEvent(NamedTuple):
    """One event (a NamedTuple: a report makes a thousand of them)."""

    # None: not one of our user ids at all, which reads as an unknown user.
    user_id: int | None
    product: Product
    kind: ActivityKind
    on: dt.date


@dataclass(frozen=True)
class Recorded:
    accepted: int
    new_billable_days: int


@dataclass(frozen=True)
class ReportableDays:
    first: dt.date
    last: dt.date


def reportable_days(today: dt.date) -> ReportableDays:
    """From the first day of the previous month to tomorrow (UTC)."""
    previous_month_end = today.replace(day=1) - dt.timedelta(days=1)
    return ReportableDays(previous_month_end.replace(day=1), today + dt.timedelta(days=1))


def _check_count(events: Sequence[ActivityEvent]) -> None:
    if len(events) > MAX_EVENTS:
        raise TooManyEvents(
            f"A call takes at most {MAX_EVENTS:,} events; this one has {len(events):,}. "
            "Send them in several calls.",
            field="events",
        )
    if not events:
        raise InvalidQuantity(
            f"Send from 1 to {MAX_EVENTS:,} events in a call; this one has none.", field="events"
        )


def _path(index: int, name: str) -> tuple[str, ...]:
    return ("events", str(index), name)


def _unknown_user(index: int) -> NotFound:
    return NotFound(
        "No user of this company has this id. Send the id of the user as this service gives "
        "it (User.id).",
        field=_path(index, "userId"),
    )


def _errors(
    events: Sequence[ActivityEvent], days: ReportableDays, unknown_users: set[int]
) -> list[DomainError]:
    """Every event's faults, in event order."""
    errors: list[DomainError] = []
    for index, event in enumerate(events):
        if event.user_id is None or event.user_id in unknown_users:
            errors.append(_unknown_user(index))
        if not days.first <= event.on <= days.last:
            errors.append(
                ActivityDayOutOfRange(
                    f"{event.on.isoformat()} cannot be reported today: send days from "
                    f"{days.first.isoformat()} to {days.last.isoformat()}.",
                    field=_path(index, "on"),
                )
            )
    return errors


def _refuse(errors: list[DomainError]) -> None:
    if errors:
        raise DomainErrors(errors[:MAX_LISTED_ERRORS])


Event = tuple[int, str, dt.date]  # user, product, day
Day = tuple[int, int, dt.date]  # user, DAILY pool, day


def _rows_param(rows: Sequence[tuple[Any, ...]]) -> list[Any]:
    """The distinct rows as the statement's parameters: a JSON array of arrays for SQLite's
    json_each, an array per column for PostgreSQL's unnest (one statement text whatever the
    number of rows, so both keep it prepared)."""
    if sql.on_postgres():
        return [list(column) for column in zip(*rows, strict=True)]
    return [orjson.dumps(rows).decode()]  # dates as "YYYY-MM-DD", as SQLite stores them


# The rows of _rows_param as a relation `v`, in each dialect.
_SQLITE_ROWS = """(SELECT json_extract(value, '$[0]') AS {0}, json_extract(value, '$[1]') AS {1},
  json_extract(value, '$[2]') AS day FROM json_each(?)) AS v"""
# bigint: a user id from a client may be any 18-digit number (an unknown user, not an error).
_POSTGRES_ROWS = "unnest(?::bigint[], ?::{2}[], ?::date[]) AS v({0}, {1}, day)"


# A contract that does not renew bills no day after its last one.
_RUNNING_ON_THE_DAY = "(c.auto_renews OR v.day <= c.expires_on)"
# Per distinct event: whether the user is the company's, the DAILY pool of the product they
# hold (if they hold a DAILY license of it, of a contract running that day), and whether that
# day is already billable.
_STANDING = """
SELECT v.user_id, v.product, v.day, u.id, CASE WHEN {running} THEN p.id END, b.id
FROM {events}
LEFT JOIN app_user u ON u.id = v.user_id AND u.company_id = ?
LEFT JOIN license_assignment a ON a.user_id = u.id AND a.product = v.product
LEFT JOIN license_pool p ON p.id = a.pool_id AND p.kind = ?
LEFT JOIN contract c ON c.id = p.contract_id
LEFT JOIN billable_day b ON b.pool_id = p.id AND b.day = v.day AND b.user_id = v.user_id
"""
_STANDING_SQL = {
    "sqlite": _STANDING.format(
        events=_SQLITE_ROWS.format("user_id", "product"), running=_RUNNING_ON_THE_DAY
    ),
    "postgres": _STANDING.format(
        events=_POSTGRES_ROWS.format("user_id", "product", "text"), running=_RUNNING_ON_THE_DAY
    ),
}
# The new days, each only if the user still holds a license of that DAILY pool (checked under
# the company lock, so a change of license made meanwhile is seen). SQLite needs the WHERE to
# read ON CONFLICT as the INSERT's, and CROSS JOIN to keep the days the outer loop: left to
# itself its planner walks the company's users and scans the JSON for each (seconds at 10,000).
_INSERT = """
INSERT INTO billable_day (company_id, pool_id, user_id, user_name, day, recorded_at)
SELECT u.company_id, a.pool_id, u.id, u.name, v.day, ?
FROM {days}
{join} license_assignment a ON a.user_id = v.user_id AND a.pool_id = v.pool_id
{join} app_user u ON u.id = a.user_id
{join} license_pool p ON p.id = a.pool_id
{join} contract c ON c.id = p.contract_id
WHERE u.company_id = ? AND {running}
ON CONFLICT DO NOTHING
RETURNING id
"""
_INSERT_SQL = {
    "sqlite": _INSERT.format(
        days=_SQLITE_ROWS.format("user_id", "pool_id"),
        join="CROSS JOIN",
        running=_RUNNING_ON_THE_DAY,
    ),
    "postgres": _INSERT.format(
        days=_POSTGRES_ROWS.format("user_id", "pool_id", "bigint"),
        join="JOIN",
        running=_RUNNING_ON_THE_DAY,
    ),
}


def _dialect() -> str:
    return "postgres" if sql.on_postgres() else "sqlite"


@dataclass(frozen=True)
class _Standing:
    unknown_users: set[int]
    new_days: list[Day]


async def _standing(company_id: int, events: set[Event]) -> _Standing:
    if not events:
        return _Standing(set(), [])
    statement = _STANDING_SQL[_dialect()]
    params = (*_rows_param(list(events)), company_id, LicenseKind.DAILY.value)
    unknown: set[int] = set()
    new_days: set[Day] = set()
    # A thousand distinct events take SQLite milliseconds: not on the event loop's thread.
    found = await sql.fetch_long(statement, params)
    for user_id, _product, day, known, daily_pool, billable in found:
        if known is None:
            unknown.add(int(user_id))
        elif daily_pool is not None and billable is None:
            new_days.add((int(user_id), int(daily_pool), sql.as_date(day)))
    return _Standing(unknown, sorted(new_days))


async def _insert(company_id: int, days: list[Day], now: dt.datetime) -> int:
    async with in_transaction():
        # The company lock, first as in every change: a license moved meanwhile is seen below.
        # (A concurrent identical report may have added these days meanwhile: then this bump
        # was for nothing, which is harmless and rare.)
        await data_version.changed(company_id)
        statement = _INSERT_SQL[_dialect()]
        added = await sql.execute_returning(statement, (now, *_rows_param(days), company_id))
    return len(added)


async def record_activity(
    *, company_id: int, events: Sequence[ActivityEvent], now: dt.datetime
) -> Recorded:
    """Record a batch of events, all or nothing; how many billable days it added."""
    _check_count(events)
    distinct = {(e.user_id, e.product.value, e.on) for e in events if e.user_id is not None}
    standing = await _standing(company_id, distinct)
    _refuse(_errors(events, reportable_days(now.date()), standing.unknown_users))
    added = await _insert(company_id, standing.new_days, now) if standing.new_days else 0
    return Recorded(accepted=len(events), new_billable_days=added)
