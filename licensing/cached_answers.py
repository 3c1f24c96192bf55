"""A repeated query answered from the response cache, before any GraphQL work.

Once the token is looked up (which every request does, and which brings the company's data
version) the cache key is known: the document's SHA-256 (a persisted query's hash is exactly
that), the operation name and the variables. A hit needs no parsing, validation, cost analysis
or execution: the stored bytes of `data` go out with this request's `extensions.cost`. The
rate limit still takes the query's cost. Anything else (a miss, a batch, no token, a refusal
to come) goes to Strawberry, with the body and the token lookup handed over, not redone.

This is the path a polling client or a reloaded page takes: a middleware in front of the
router, working on the ASGI scope as it comes, without Starlette's request and response
objects.
"""

from __future__ import annotations

import hashlib
import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from licensing.settings import Settings
from resolvers.context import OperationReport
from resolvers.protection import cost_extension, take_cost_of
from schema.protection.response_cache import Entry, ResponseStore, answer_key, etag_matches
from services.access import Viewer
from services.protection import tokens

if TYPE_CHECKING:
    from licensing.metrics import Recorder

request_log = logging.getLogger("licensing.requests")
ASK_FOR_HEADER = "Send an Authorization: Bearer TOKEN header."
ASK_FOR_BEARER = "Use the header Authorization: Bearer TOKEN."
ASK_FOR_ANOTHER = "The bearer token is unknown or revoked. Ask for a new token."
JSON_HEADERS = [(b"content-type", b"application/json")]


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


def header(scope: Scope, name: bytes) -> str:
    """One request header, as text ("" when absent)."""
    for key, value in scope["headers"]:
        if key == name:
            return str(value.decode("latin-1"))
    return ""


async def read_body(receive: Receive) -> bytes:
    chunks = []
    more = True
    while more:
        message = await receive()
        chunks.append(message.get("body", b""))
        more = message.get("more_body", False)
    return b"".join(chunks)


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


def _get_payload(scope: Scope) -> dict[str, Any] | None:
    params = dict(parse_qsl(scope["query_string"].decode("latin-1")))
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
    """ASGI middleware: authenticates every GraphQL request once, answers repeated queries."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        settings: Settings,
        store: ResponseStore | None,
        path: str,
        recorder: Recorder | None = None,
    ) -> None:
        self.app = app
        self.settings = settings
        self.store = store
        self.path = path
        self.recorder = recorder

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        method = scope["type"] == "http" and scope["path"] == self.path and scope["method"]
        if method not in ("GET", "POST") or (method == "GET" and not _names_a_query(scope)):
            await self.app(scope, receive, send)  # GraphiQL, another route, Strawberry's 4xx
            return
        body = await read_body(receive) if method == "POST" else b""
        auth = await authenticate(header(scope, b"authorization"), self.settings)
        scope.setdefault("state", {})["auth"] = auth
        if self.store is not None and await self.answer(scope, body, auth, send):
            return
        await self.app(scope, _replaying(body, receive), send)

    async def answer(self, scope: Scope, body: bytes, auth: Authentication, send: Send) -> bool:
        """Send the cached answer to this request; False when Strawberry must answer it."""
        started = time.perf_counter()
        viewer = auth.viewer
        if viewer is None:
            return False
        operation = self._operation(scope, body)
        if operation is None:
            return False
        key = answer_key(
            viewer, operation.query_digest, operation.operation_name, operation.variables
        )
        assert self.store is not None
        entry = self.store.get(key, self.settings.clock.now())
        if entry is None:
            return False
        decision = await take_cost_of(self.settings, viewer, entry.requested_cost)
        if decision is not None and not decision.allowed:
            return False  # Strawberry answers THROTTLED, and logs it
        await self._send(scope, send, entry, decision)
        seconds = time.perf_counter() - started
        if self.recorder is not None:
            self.recorder.cache_lookup(hit=True)
            self.recorder.operation_done(
                OperationReport("query", entry.operation_name, "ok", (), seconds)
            )
        self._log(scope, operation, entry, viewer, seconds)
        return True

    def _operation(self, scope: Scope, body: bytes) -> _Operation | None:
        if scope["method"] == "GET":
            payload = _get_payload(scope)
        else:
            try:
                payload = orjson.loads(body)
            except orjson.JSONDecodeError:
                return None
        return _operation(payload, self.settings.persisted_queries_only)

    async def _send(self, scope: Scope, send: Send, entry: Entry, decision: Any) -> None:
        headers = list(JSON_HEADERS)
        if scope["method"] == "GET":
            headers += [(b"etag", entry.etag.encode()), (b"cache-control", b"private, no-cache")]
            if etag_matches(entry.etag, header(scope, b"if-none-match")):
                await send({"type": "http.response.start", "status": 304, "headers": headers[1:]})
                await send({"type": "http.response.body", "body": b""})
                return
        extensions = cost_extension(
            self.settings, entry.requested_cost, entry.actual_cost, decision
        )
        body = b'{"data":' + entry.data_json + b',"extensions":' + orjson.dumps(extensions) + b"}"
        headers.append((b"content-length", str(len(body)).encode()))
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    @staticmethod
    def _log(
        scope: Scope, operation: _Operation, entry: Entry, viewer: Viewer, seconds: float
    ) -> None:
        if not request_log.isEnabledFor(logging.INFO):
            return
        line = {
            "requestId": scope["state"]["request_id"],
            "operation": operation.operation_name,
            "cost": entry.requested_cost,
            "durationMs": round(seconds * 1000, 1),
            "status": "ok",
            "errors": [],
            "token": viewer.token_name,
            "cached": True,
        }
        request_log.info("graphql ok (cached)", extra={"fields": line})


def _names_a_query(scope: Scope) -> bool:
    """A GET with a query or a persisted query's hash (else it is a browser wanting GraphiQL)."""
    query = scope["query_string"]
    return b"query=" in query or b"extensions=" in query


def _replaying(body: bytes, receive: Receive) -> Receive:
    """The request's body again, already read, then whatever else the client sends."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay
