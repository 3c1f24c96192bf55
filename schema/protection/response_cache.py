"""A response cache for queries that is never stale.

An entry is keyed by the viewer (company, the company's data version, user, token scopes) and
the operation (document, operation name, variables). Every change bumps the company's data
version in the transaction that makes it (services/data_version.py), and the version arrives
with the token lookup that every request makes anyway: a change made through any worker is
seen on the very next read, with no extra query. What changes with time alone (a pending
purchase lapsing, today's date in quotes, download links) bounds how long an entry lives.

GET requests (persisted queries) also get a weak ETag and answer `If-None-Match` with 304.
This extension fills the cache; a repeated request is answered before any GraphQL work is
done, by licensing/cached_answers.py.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import AsyncIterator, Hashable
from dataclasses import dataclass
from typing import Any

import orjson
from graphql import ExecutionResult as GraphQLExecutionResult
from strawberry.extensions import SchemaExtension
from strawberry.types import ExecutionContext
from strawberry.types.graphql import OperationType

from resolvers import protection
from resolvers.context import RequestContext
from schema.protection.bounded_cache import ByteBoundedLru, digest
from schema.protection.cost import actual_cost, analyze_cached, variables_digest
from services.access import Viewer


@dataclass(frozen=True)
class Entry:
    """An answer's `data`, serialized once, and what a repeat of the request must report."""

    data_json: bytes
    etag: str
    valid_until: dt.datetime
    requested_cost: int
    actual_cost: int
    operation_name: str | None = None  # the document's, for the metrics of a repeat


class ResponseStore:
    """Least recently used entries of one process, together at most `max_bytes`."""

    def __init__(self, max_bytes: int) -> None:
        self._entries: ByteBoundedLru[Hashable, Entry] = ByteBoundedLru(
            max_bytes, lambda entry: len(entry.data_json)
        )

    def get(self, key: Hashable, now: dt.datetime) -> Entry | None:
        entry = self._entries.get(key)
        return entry if entry is not None and now < entry.valid_until else None

    def put(self, key: Hashable, entry: Entry) -> None:
        self._entries.put(key, entry)


def answer_key(
    viewer: Viewer,
    query_digest: str,
    operation_name: str | None,
    variables: dict[str, Any] | None,
) -> Hashable:
    """Who asks (and at which version of their company's data), and what: all of it digests."""
    return (
        viewer.company_id,
        viewer.company.data_version,
        viewer.user_id,
        viewer.scopes,
        query_digest,
        digest(operation_name) if operation_name else _NO_NAME,
        variables_digest(variables),
    )


_NO_NAME = digest("")


def etag_of(serialized: bytes) -> str:
    return f'W/"{hashlib.sha256(serialized).hexdigest()[:32]}"'


class ResponseCache(SchemaExtension):
    """Keeps each query's answer; licensing/cached_answers.py sends it to later requests."""

    def __init__(self, store: ResponseStore) -> None:
        self.store = store

    async def on_execute(self) -> AsyncIterator[None]:
        yield
        context = self.execution_context.context
        execution = self.execution_context
        if (
            not isinstance(context, RequestContext)
            or context.viewer_or_none is None
            or execution.operation_type != OperationType.QUERY
        ):
            return
        entry = await self._fill(context)
        if entry is not None:
            _announce(entry, context)

    async def _fill(self, context: RequestContext) -> Entry | None:
        execution = self.execution_context
        result = execution.result
        # A refusal or an error is never kept.
        if not isinstance(result, GraphQLExecutionResult) or result.errors or not result.data:
            return None
        if context.observer is not None:  # answered by running it: the cache did not have it
            context.observer.cache_lookup(hit=False)
        viewer = context.viewer
        query_digest = context.digest_of(execution.query or "")
        now = context.settings.clock.now()
        serialized = orjson.dumps(result.data)
        entry = Entry(
            data_json=serialized,
            etag=etag_of(serialized),
            valid_until=await protection.answer_valid_until(context, now),
            requested_cost=_requested_cost(execution, query_digest),
            actual_cost=actual_cost(result.data),
            operation_name=execution.operation_name,
        )
        # The name as the client sent it, or None: what a repeat of the request will carry.
        # (`operation_name` answers the document's own name when the client sent none.)
        name = getattr(execution, "_provided_operation_name", execution.operation_name)
        key = answer_key(viewer, query_digest, name, execution.variables)
        self.store.put(key, entry)
        return entry


def _requested_cost(execution: ExecutionContext, query_digest: str) -> int:
    assert execution.graphql_document is not None
    return analyze_cached(
        execution.schema._schema,
        execution.graphql_document,
        query_digest,
        execution.operation_name,
        execution.variables,
    ).cost


def _announce(entry: Entry, context: RequestContext) -> None:
    """ETag and 304 for GET requests (a POST may not be answered with 304: RFC 9110 13.1.2)."""
    if context.response is None or not context.conditional_get:
        return
    headers = context.response.headers
    headers["ETag"] = entry.etag
    headers["Cache-Control"] = "private, no-cache"
    if etag_matches(entry.etag, context.if_none_match):
        context.response.status_code = 304


def etag_matches(etag: str, if_none_match: str | None) -> bool:
    return etag in (tag.strip() for tag in (if_none_match or "").split(","))
