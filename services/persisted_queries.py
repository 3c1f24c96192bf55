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


async def register(*, query: str, now: dt.datetime) -> str:
    """Store the document under its hash (idempotent); returns the hash."""
    digest = sha256_of(query)
    if not await PersistedQuery.exists(sha256=digest):
        # Registered concurrently means the same hash, so the same text: nothing to do.
        with contextlib.suppress(IntegrityError):
            await PersistedQuery.create(sha256=digest, query=query, created_at=now)
    return digest
