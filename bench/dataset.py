"""The benchmark's dataset: the demo company grown to many users, on a fresh database."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import subprocess
import sys
from pathlib import Path

from licensing import db
from licensing.settings import Clock
from services.fixtures import load_fixture_text
from services.protection.tokens import create_token

DEMO_FIXTURE = Path(__file__).resolve().parent.parent / "licensing" / "demo_fixture.json"
OWNER = "olivia@acme-heating.example"
SOAK_TODAY = "2026-11-26"  # the demo fixture's contracts are current on this date
BIG = 1_000_000  # monthly and daily licenses: deletions during a run never run out


def _user(n: int) -> dict[str, object]:
    kind = ("CONTRACTED", "MONTHLY", "MONTHLY", "DAILY", None)[n % 5]
    user: dict[str, object] = {
        "name": f"User {n:05}",
        "email": f"user{n}@acme-heating.example",
        "role": "ENGINEER",
    }
    if kind:
        user["licenses"] = {"JOBS": kind}
    return user


def fixture(users: int) -> str:
    data = json.loads(DEMO_FIXTURE.read_text())
    company = data["companies"][0]
    jobs, sales = company["contracts"]
    jobs["pools"] = {"CONTRACTED": users, "MONTHLY": BIG, "DAILY": BIG}
    sales["pools"] = {"CONTRACTED": 10, "MONTHLY": 1000, "DAILY": 1000}
    company["users"] += [_user(n) for n in range(users - len(company["users"]))]
    return json.dumps(data)


async def build(database_url: str, users: int, now: dt.datetime) -> str:
    """Migrate, load, and return a bearer token of the company's owner."""
    await db.apply_migrations(database_url)
    async with db.orm(database_url):
        await load_fixture_text(source="bench", text=fixture(users), now=now)
        return await create_token(email=OWNER, now=now)


def build_in_subprocess(database_url: str, users: int) -> str:
    """`build` in a process of its own: Tortoise keeps per-dialect statements in its models,
    so one process cannot build a SQLite and then a PostgreSQL database."""
    result = subprocess.run(  # noqa: S603 - this module, arguments built here
        [sys.executable, "-m", "bench.dataset", database_url, str(users)],
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout.strip().splitlines()[-1]


if __name__ == "__main__":
    now = Clock(pinned_today=dt.date.fromisoformat(SOAK_TODAY)).now()
    print(asyncio.run(build(sys.argv[1], int(sys.argv[2]), now)))
