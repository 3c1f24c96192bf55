"""Guarded single-statement changes of pool counts.

Each is one UPDATE whose WHERE clause carries the rule, so concurrent requests can never
oversell or drive a count negative, on SQLite (where SELECT ... FOR UPDATE takes no lock) and
on PostgreSQL alike. A zero row count means the rule did not hold at that instant.
"""

from __future__ import annotations

from tortoise.expressions import F

from models.contract import LicensePool
from services import sql

# A CONTRACTED pool whose next term has a signed lower count (services/renewal) takes a license
# only while fewer than that count are assigned: the renewal can then always apply it.
_TAKE_ONE = """
UPDATE license_pool SET assigned = assigned + 1
WHERE id = ? AND assigned < total AND (kind <> 'CONTRACTED' OR assigned < COALESCE((
  SELECT r.contracted_licenses FROM renewal_change r JOIN contract c ON c.id = r.contract_id
  WHERE r.contract_id = license_pool.contract_id AND r.term_expires_on = c.expires_on
  AND r.status = 'SCHEDULED'), total))
"""


async def take_one(pool_id: int) -> bool:
    """assigned + 1, only while a license is available (and the next term has room for it)."""
    return await sql.execute(_TAKE_ONE, [pool_id]) == 1


async def release_one(pool_id: int) -> None:
    """assigned - 1; only called together with deleting or moving an assignment row."""
    updated = await LicensePool.filter(id=pool_id, assigned__gt=0).update(
        assigned=F("assigned") - 1
    )
    if updated != 1:
        raise RuntimeError(f"pool {pool_id}: assigned count out of step with assignment rows")


async def remove_unassigned(pool_id: int, quantity: int) -> bool:
    """total - quantity, only while that many licenses are unassigned."""
    updated = await LicensePool.filter(id=pool_id, total__gte=F("assigned") + quantity).update(
        total=F("total") - quantity
    )
    return updated == 1
