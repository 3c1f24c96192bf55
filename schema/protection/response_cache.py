"""A response cache for queries that is never stale.

An entry is keyed by the viewer (company, the company's data version, user, token scopes) and
the operation (document, operation name, variables). Every change bumps the company's data
version in the transaction that makes it (services/data_version.py), and the version arrives
with the token lookup that every request makes anyway: a change made through any worker is
seen on the very next read, with no extra query. What changes with time alone (a pending
purchase lapsing, today's date in quotes, download links) bounds how long an entry lives.

GET requests (persisted queries) also get a weak ETag and answer `If-None-Match` with 304.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import AsyncIterator, Hashable
from dataclasses import dataclass
from typing import Any

from graphql import ExecutionResult as GraphQLExecutionResult
from strawberry.extensions import SchemaExtension
from strawberry.types.graphql import OperationType

from resolvers import protection
from resolvers.context import RequestContext
from schema.protection.bounded_cache import ByteBoundedLru
from schema.protection.cost import variables_digest


@dataclass(frozen=True)
class Entry:
    data: dict[str, Any]
    etag: str
    valid_until: dt.datetime
    # Size of the answer as JSON: a fair measure of the memory `data` takes.
    size: int


class ResponseStore:
    """Least recently used entries of one process, together at most `max_bytes`."""

    def __init__(self, max_bytes: int) -> None:
        self._entries: ByteBoundedLru[Hashable, Entry] = ByteBoundedLru(
            max_bytes, lambda entry: 4 * entry.size
        )

    def get(self, key: Hashable, now: dt.datetime) -> Entry | None:
        entry = self._entries.get(key)
        return entry if entry is not None and now < entry.valid_until else None

    def put(self, key: Hashable, entry: Entry) -> None:
        self._entries.put(key, entry)


def etag_of(serialized: bytes) -> str:
    return f'W/"{hashlib.sha256(serialized).hexdigest()[:32]}"'


class ResponseCache(SchemaExtension):
    def __init__(self, store: ResponseStore) -> None:
        self.store = store

    async def on_execute(self) -> AsyncIterator[None]:
        context = self.execution_context.context
        key = self._key(context)
        # Without a key, or once the protection extension has refused the request: no cache.
        if key is None or self.execution_context.result is not None:
            yield
            return
        assert isinstance(context, RequestContext)
        now = context.settings.clock.now()
        entry = self.store.get(key, now)
        if entry is not None:
            self.execution_context.result = GraphQLExecutionResult(data=entry.data)
            yield
        else:
            yield
            entry = await self._fill(key, context, now)
        if entry is not None:
            _announce(entry, context)

    def _key(self, context: object) -> Hashable | None:
        execution = self.execution_context
        if not isinstance(context, RequestContext) or context.viewer_or_none is None:
            return None
        if execution.operation_type != OperationType.QUERY:
            return None
        viewer = context.viewer_or_none
        return (
            viewer.company_id,
            viewer.company.data_version,
            viewer.user_id,
            viewer.scopes,
            context.digest_of(execution.query or ""),
            execution.operation_name,
            variables_digest(execution.variables),
        )

    async def _fill(self, key: Hashable, context: RequestContext, now: dt.datetime) -> Entry | None:
        result = self.execution_context.result
        if not isinstance(result, GraphQLExecutionResult) or result.errors or not result.data:
            return None
        assert context.viewer_or_none is not None
        serialized = json.dumps(result.data, separators=(",", ":")).encode()
        entry = Entry(
            data=result.data,
            etag=etag_of(serialized),
            valid_until=await protection.answer_valid_until(context, now),
            size=len(serialized),
        )
        self.store.put(key, entry)
        return entry


def _announce(entry: Entry, context: RequestContext) -> None:
    """ETag and 304 for GET requests (a POST may not be answered with 304: RFC 9110 13.1.2)."""
    if context.response is None or not context.conditional_get:
        return
    headers = context.response.headers
    headers["ETag"] = entry.etag
    headers["Cache-Control"] = "private, no-cache"
    if entry.etag in (tag.strip() for tag in (context.if_none_match or "").split(",")):
        context.response.status_code = 304
