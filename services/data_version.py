"""A per-company count of changes. Response caches key on it, so no change goes unseen.

Every change to what a company can read bumps it first thing in its transaction. That also
makes the company row the first lock of every change, one lock order for all of them.
"""

from __future__ import annotations

from tortoise.expressions import F

from models.company import Company
from services import sql

_BUMP = "UPDATE company SET data_version = data_version + 1 WHERE id = ?"


async def changed(company_id: int) -> None:
    """Call first in the transaction that changes the company's data."""
    await sql.execute(_BUMP, [company_id])


async def all_changed() -> None:
    """For operator loads, which may change plans that many companies share."""
    await Company.all().update(data_version=F("data_version") + 1)
