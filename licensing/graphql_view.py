"""The GraphQL endpoint: authentication, batches and automatic persisted queries."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import re
from typing import Any

import orjson
from cross_web import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.http import GraphQLRequestData
from strawberry.schema.exceptions import InvalidOperationTypeError
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL
from strawberry.types import ExecutionResult
from strawberry.types.graphql import OperationType

from licensing.cached_answers import ASK_FOR_HEADER, authenticate
from licensing.edge import new_request_id
from licensing.graphiql_page import graphiql_page
from licensing.live_socket import LiveConnections, LiveSocketHandler, TextFrameAdapter
from licensing.settings import Settings
from resolvers.context import OperationObserver, OperationReport, RequestContext
from resolvers.errors import ClientError
from schema.api import build_schema
from schema.protection.bounded_cache import ByteBoundedLru
from schema.protection.extension import WRONG_TRANSPORT
from schema.protection.response_cache import ResponseStore
from services.live.hub import Hub
from services.protection import persisted_queries

SHA256 = re.compile(r"^[0-9a-f]{64}$")
KNOWN_QUERIES_BYTES = 4 * 1024 * 1024  # persisted documents kept in memory per process
# A page subscribes once or twice; each subscription is a watch and a lock turn.
SUBSCRIPTIONS_PER_CONNECTION = 10


class LicensingGraphQL(GraphQL[RequestContext, None]):
    """Behind licensing/cached_answers.py, which has read the body and looked the token up.

    WebSockets (graphql-transport-ws only) go to licensing/live_socket.py.
    """

    graphql_transport_ws_handler_class = LiveSocketHandler
    websocket_adapter_class = TextFrameAdapter

    def __init__(
        self,
        settings: Settings,
        answers: ResponseStore | None,
        hub: Hub,
        observer: OperationObserver | None = None,
    ) -> None:
        super().__init__(
            build_schema(settings, answers=answers),
            graphql_ide="graphiql" if settings.graphiql else None,
            subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL,),
            connection_init_wait_timeout=dt.timedelta(seconds=settings.live_init_timeout_seconds),
            max_subscriptions_per_connection=SUBSCRIPTIONS_PER_CONNECTION,
            # Pages of any origin may connect: a socket is worth nothing without the bearer token
            # of connection_init, and a browser sends no credential of ours by itself (cookies
            # are not used), which is what a same-origin rule protects.
            allowed_origins=("*",),
        )
        self.settings = settings
        self.hub = hub
        self.observer = observer
        self.live_connections = LiveConnections(settings)
        self._known: ByteBoundedLru[str, str] = ByteBoundedLru(KNOWN_QUERIES_BYTES, len)

    def encode_json(self, data: object) -> bytes:
        return orjson.dumps(data)

    def decode_json(self, data: str | bytes) -> object:
        """JSON bodies must be an object, or an array of objects (a batch), in UTF-8."""
        try:
            # json, not orjson (about 1 ms faster on a 1,000-event report): orjson reads an
            # integer past 64 bits as a float, which would change what a variable means.
            parsed = json.loads(data)
        except UnicodeDecodeError:
            raise HTTPException(400, "The request body is not valid UTF-8.") from None
        if parsed == []:
            raise HTTPException(
                400, "The batch is empty: send at least one operation, or a single JSON object."
            )
        objects = parsed if isinstance(parsed, list) else [parsed]
        if not all(isinstance(item, dict) for item in objects):
            raise HTTPException(
                400,
                "The request body must be a JSON object with a `query` (or an array of such "
                "objects for a batch).",
            )
        return parsed

    async def render_graphql_ide(self, request: Request) -> Response:
        # Our page on the vendored assets with a strict CSP, not Strawberry's page on CDNs.
        return graphiql_page(request)

    def should_render_graphql_ide(self, request: Any) -> bool:
        # A GET that names a persisted query is an API call, not a browser wanting GraphiQL.
        return "extensions" not in request.query_params and super().should_render_graphql_ide(
            request
        )

    async def get_context(self, request: Any, response: Any) -> RequestContext:
        if isinstance(request, WebSocket):  # the viewer comes with connection_init
            return RequestContext(
                self.settings,
                None,
                auth_problem=ASK_FOR_HEADER,
                request_id=new_request_id(),
                client_ip=request.client.host if request.client else None,
                user_agent=request.headers.get("user-agent"),
                observer=self.observer,
            )
        auth = getattr(request.state, "auth", None)
        if auth is None:  # not through licensing/cached_answers.py (GraphiQL's page, a 4xx)
            auth = await authenticate(request.headers.get("authorization", ""), self.settings)
        return RequestContext(
            self.settings,
            auth.viewer,
            auth_problem=auth.problem,
            request_id=request.state.request_id,
            client_ip=request.client.host if request.client else None,
            user_agent=request.headers.get("user-agent"),
            response=response,
            conditional_get=request.method == "GET",
            if_none_match=request.headers.get("if-none-match"),
            observer=self.observer,
        )

    def create_response(self, response_data: Any, sub_response: Response) -> Response:
        if sub_response.status_code == 304:  # the client's copy is current: no body
            return Response(status_code=304, headers=dict(sub_response.headers))
        return super().create_response(response_data, sub_response)

    async def execute_operation(
        self, request: Any, request_adapter: Any, request_data: Any, *args: Any, **kwargs: Any
    ) -> Any:
        limit = self.settings.max_batch_operations
        if isinstance(request_data, list) and len(request_data) > limit:
            refusal = ClientError(
                f"A batch may hold at most {limit} operations; this one has "
                f"{len(request_data)}. Send them in smaller batches.",
                "TOO_MANY_OPERATIONS",
            )
            self._report_refusal(refusal, None, "refused")
            return ExecutionResult(data=None, errors=[refusal])
        return await super().execute_operation(
            request, request_adapter, request_data, *args, **kwargs
        )

    async def execute_single(
        self,
        request: Any,
        request_adapter: Any,
        sub_response: Any,
        context: RequestContext,
        root_value: None,
        request_data: GraphQLRequestData,
    ) -> ExecutionResult:
        try:
            request_data, registering = await self._with_persisted_query(request_data, context)
        except ClientError as error:
            self._report_refusal(error, request_data.operation_name, "error")
            return ExecutionResult(data=None, errors=[error])
        try:
            result = await super().execute_single(
                request=request,
                request_adapter=request_adapter,
                sub_response=sub_response,
                context=context,
                root_value=root_value,
                request_data=request_data,
            )
        except HTTPException as refused:
            wrong = refused.__cause__
            if isinstance(wrong, InvalidOperationTypeError) and (
                wrong.operation_type is OperationType.SUBSCRIPTION
            ):
                raise HTTPException(400, WRONG_TRANSPORT[OperationType.SUBSCRIPTION]) from None
            raise
        if registering is not None and registering in context.admitted:
            await self._register(request_data.query or "", registering)
        return result

    def _report_refusal(self, error: ClientError, name: str | None, outcome: str) -> None:
        """An operation refused before GraphQL saw it (its document unknown), for the metrics."""
        if self.observer is not None:
            code = str((error.extensions or {}).get("code", ""))
            self.observer.operation_done(OperationReport("unknown", name, outcome, (code,), 0.0))

    async def _with_persisted_query(
        self, data: GraphQLRequestData, context: RequestContext
    ) -> tuple[GraphQLRequestData, str | None]:
        """The request with its document, per the automatic persisted query protocol.

        Also the digest of a document to register once it has run: only documents that parsed,
        validated and passed the limits and the rate limit, sent with a valid bearer token.
        """
        persisted = (data.extensions or {}).get("persistedQuery")
        if persisted is None:
            if self.settings.persisted_queries_only:
                raise ClientError(
                    "This server runs only registered persisted queries: send "
                    "extensions.persistedQuery with the document's sha256Hash.",
                    "PERSISTED_QUERY_REQUIRED",
                )
            return data, None
        digest = persisted.get("sha256Hash") if isinstance(persisted, dict) else None
        if not isinstance(digest, str) or not SHA256.match(digest) or persisted.get("version") != 1:
            raise ClientError(
                "extensions.persistedQuery needs version 1 and a lowercase hex sha256Hash.",
                "PERSISTED_QUERY_INVALID",
            )
        if data.query:
            return data, await self._to_register(data.query, digest, context)
        query = self._known.get(digest) or await persisted_queries.find(digest)
        if query is None:
            raise ClientError("PersistedQueryNotFound", "PERSISTED_QUERY_NOT_FOUND")
        self._known.put(digest, query)
        return dataclasses.replace(data, query=query), None

    async def _to_register(self, query: str, digest: str, context: RequestContext) -> str | None:
        """The digest to register after the run, or None when the document is known already."""
        if persisted_queries.sha256_of(query) != digest:
            raise ClientError(
                "provided sha does not match query: sha256Hash must be the SHA-256 of the "
                "query text, in lowercase hex.",
                "PERSISTED_QUERY_HASH_MISMATCH",
            )
        if self._known.get(digest) is not None or await persisted_queries.find(digest):
            return None
        if self.settings.persisted_queries_only:
            raise ClientError(
                "This server runs only queries registered in advance "
                "(`licensing queries register`).",
                "PERSISTED_QUERY_NOT_ALLOWED",
            )
        if context.viewer_or_none is None:
            raise ClientError(
                "Only an authenticated client may register a persisted query: send the "
                "Authorization: Bearer TOKEN header.",
                "UNAUTHENTICATED",
            )
        limit = self.settings.max_persisted_query_bytes
        if len(query.encode()) > limit:
            raise ClientError(
                f"A persisted query may be at most {limit:,} bytes. Send this document "
                "without extensions.persistedQuery.",
                "PERSISTED_QUERY_TOO_LARGE",
            )
        return digest

    async def _register(self, query: str, digest: str) -> None:
        await persisted_queries.register(
            query=query,
            now=self.settings.clock.now(),
            automatic=True,
            keep=self.settings.max_automatic_persisted_queries,
        )
        self._known.put(digest, query)
