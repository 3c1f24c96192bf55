"""A per-company count of changes. Response caches key on it, so no change goes unseen.

Every change to what a company can read bumps it first thing in its transaction. That also
makes the company row the first lock of every change, one lock order for all of them. The bump
also tells live subscribers (services/live/signal.py): on PostgreSQL with a NOTIFY in the same
statement, so that it is delivered only if the transaction commits.
"""

from __future__ import annotations

from services import sql
from services.live import signal

_BUMP = "UPDATE company SET data_version = data_version + 1 WHERE id = ?"
_BUMP_AND_NOTIFY = f"""
WITH bumped AS (
    UPDATE company SET data_version = data_version + 1 WHERE id = ? RETURNING id, data_version
)
SELECT pg_notify('{signal.CHANNEL}', id::text || ':' || data_version::text) FROM bumped
"""  # noqa: S608 (the channel is a constant)


async def changed(company_id: int) -> None:
    """Call first in the transaction that changes the company's data."""
    if sql.on_postgres():
        await sql.execute(_BUMP_AND_NOTIFY, [company_id])
        return
    await sql.execute(_BUMP, [company_id])
    signal.changed_locally(company_id)
