"""A repeated query answered from the response cache, before any GraphQL work.

Once the token is looked up (which every request does, and which brings the company's data
version) the cache key is known: the document's SHA-256 (a persisted query's hash is exactly
that), the operation name and the variables. A hit needs no parsing, validation, cost analysis
or execution: the stored bytes of `data` go out with this request's `extensions.cost`. The
rate limit still takes the query's cost. Anything else (a miss, a batch, no token, a refusal
to come) goes to Strawberry, with the body and the token lookup handed over, not redone.
"""

from __future__ import annotations

import hashlib
import logging
import time
from dataclasses import dataclass
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from licensing.settings import Settings
from resolvers.protection import cost_extension, take_cost_of
from schema.protection.response_cache import Entry, ResponseStore, answer_key, etag_matches
from services.access import Viewer
from services.protection import tokens

request_log = logging.getLogger("licensing.requests")
ASK_FOR_HEADER = "Send an Authorization: Bearer TOKEN header."
ASK_FOR_BEARER = "Use the header Authorization: Bearer TOKEN."
ASK_FOR_ANOTHER = "The bearer token is unknown or revoked. Ask for a new token."


@dataclass(frozen=True)
class Authentication:
    """The token lookup's outcome, done once per request."""

    viewer: Viewer | None
    problem: str  # why there is no viewer: the UNAUTHENTICATED message


async def authenticate(header: str, settings: Settings) -> Authentication:
    scheme, _, token = header.partition(" ")
    if not header:
        return Authentication(None, ASK_FOR_HEADER)
    if scheme.lower() != "bearer" or not token.strip():
        return Authentication(None, ASK_FOR_BEARER)
    viewer = await tokens.authenticate(token.strip(), now=settings.clock.now())
    return Authentication(viewer, ASK_FOR_ANOTHER)


@dataclass(frozen=True)
class _Operation:
    query_digest: str
    operation_name: str | None
    variables: dict[str, Any] | None


def _operation(payload: Any, persisted_only: bool) -> _Operation | None:
    """What a single-operation request asks for, if the cache could answer it."""
    if not isinstance(payload, dict):
        return None  # a batch, or nonsense: Strawberry answers it
    query = payload.get("query")
    extensions = payload.get("extensions")
    persisted = extensions.get("persistedQuery") if isinstance(extensions, dict) else None
    digest = persisted.get("sha256Hash") if isinstance(persisted, dict) else None
    if query is not None:
        if not isinstance(query, str) or (persisted_only and digest is None):
            return None
        text_digest = hashlib.sha256(query.encode()).hexdigest()
        if digest is not None and digest != text_digest:
            return None  # Strawberry says what is wrong with the hash
        digest = text_digest
    if not isinstance(digest, str):
        return None
    variables = payload.get("variables")
    name = payload.get("operationName")
    if (variables is not None and not isinstance(variables, dict)) or (
        name is not None and not isinstance(name, str)
    ):
        return None
    return _Operation(digest, name, variables)


def _get_payload(request: Request) -> dict[str, Any] | None:
    params = request.query_params
    try:
        return {
            "query": params.get("query"),
            "operationName": params.get("operationName"),
            "variables": orjson.loads(params["variables"]) if "variables" in params else None,
            "extensions": orjson.loads(params["extensions"]) if "extensions" in params else None,
        }
    except orjson.JSONDecodeError:
        return None


class CachedAnswers:
    def __init__(self, settings: Settings, store: ResponseStore) -> None:
        self.settings = settings
        self.store = store

    async def answer(self, request: Request, body: bytes, auth: Authentication) -> Response | None:
        """The cached answer to this request, or None for Strawberry to answer it."""
        started = time.perf_counter()
        viewer = auth.viewer
        if viewer is None:
            return None
        operation = self._operation(request, body)
        if operation is None:
            return None
        key = answer_key(
            viewer, operation.query_digest, operation.operation_name, operation.variables
        )
        entry = self.store.get(key, self.settings.clock.now())
        if entry is None:
            return None
        decision = await take_cost_of(self.settings, viewer, entry.requested_cost)
        if decision is not None and not decision.allowed:
            return None  # Strawberry answers THROTTLED, and logs it
        response = self._response(request, entry, decision)
        self._log(request, operation, entry, viewer, time.perf_counter() - started)
        return response

    def _operation(self, request: Request, body: bytes) -> _Operation | None:
        if request.method == "GET":
            payload = _get_payload(request)
        else:
            try:
                payload = orjson.loads(body)
            except orjson.JSONDecodeError:
                return None
        return _operation(payload, self.settings.persisted_queries_only)

    def _response(self, request: Request, entry: Entry, decision: Any) -> Response:
        extensions = cost_extension(
            self.settings, entry.requested_cost, entry.actual_cost, decision
        )
        if request.method != "GET":
            body = b'{"data":' + entry.data_json + b',"extensions":' + orjson.dumps(extensions)
            return Response(body + b"}", media_type="application/json")
        headers = {"ETag": entry.etag, "Cache-Control": "private, no-cache"}
        if etag_matches(entry.etag, request.headers.get("if-none-match")):
            return Response(status_code=304, headers=headers)
        body = b'{"data":' + entry.data_json + b',"extensions":' + orjson.dumps(extensions)
        return Response(body + b"}", media_type="application/json", headers=headers)

    @staticmethod
    def _log(
        request: Request, operation: _Operation, entry: Entry, viewer: Viewer, seconds: float
    ) -> None:
        if not request_log.isEnabledFor(logging.INFO):
            return
        line = {
            "requestId": request.state.request_id,
            "operation": operation.operation_name,
            "cost": entry.requested_cost,
            "durationMs": round(seconds * 1000, 1),
            "status": "ok",
            "errors": [],
            "token": viewer.token_name,
            "cached": True,
        }
        request_log.info("graphql ok (cached)", extra={"fields": line})
