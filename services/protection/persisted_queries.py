"""Automatic persisted queries: documents registered under their SHA-256."""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib

from tortoise.exceptions import IntegrityError

from models.api import PersistedQuery


def sha256_of(query: str) -> str:
    return hashlib.sha256(query.encode()).hexdigest()


async def find(sha256: str) -> str | None:
    row = await PersistedQuery.get_or_none(sha256=sha256)
    return None if row is None else row.query


async def registered_by_operators() -> list[str]:
    """The documents of `licensing queries register` (automatic registrations left out)."""
    documents = await PersistedQuery.filter(automatic=False).values_list("query", flat=True)
    return [str(document) for document in documents]


async def register(
    *, query: str, now: dt.datetime, automatic: bool = False, keep: int | None = None
) -> str:
    """Store the document under its hash (idempotent); returns the hash.

    Automatic registrations are a cache: beyond `keep` of them, the oldest go (a client that
    sends one again gets PersistedQueryNotFound and registers it anew). An operator's
    registrations (`licensing queries register`) are never evicted.
    """
    digest = sha256_of(query)
    if not await PersistedQuery.exists(sha256=digest):
        # Registered concurrently means the same hash, so the same text: nothing to do.
        with contextlib.suppress(IntegrityError):
            await PersistedQuery.create(
                sha256=digest, query=query, created_at=now, automatic=automatic
            )
        if automatic and keep is not None:
            await _evict_beyond(keep)
    return digest


async def _evict_beyond(keep: int) -> None:
    count = await PersistedQuery.filter(automatic=True).count()
    if count > keep:
        oldest = (
            await PersistedQuery.filter(automatic=True)
            .order_by("created_at", "sha256")
            .limit(count - keep)
            .values_list("sha256", flat=True)
        )
        await PersistedQuery.filter(sha256__in=list(oldest)).delete()
