"""OpenTelemetry traces, when the `otel` extra is installed and OTEL_EXPORTER_OTLP_ENDPOINT set.

Three kinds of span, each inside the one before:

- one per HTTP request (`_HttpSpans`, outermost middleware; a W3C `traceparent` is continued),
  its path and query redacted as the access log redacts them (licensing/edge.py);
- one per GraphQL operation (`OperationSpans`): its type and name; never its document (a
  literal in it may be an email or a name) nor its variables; the error codes of its answer;
- one per SQL statement, Tortoise's and services/sql.py's fast reads alike: the statement
  with its placeholders, never the parameters.

No span records an exception's message (one may quote a value): only its type. Work outside a
request (the outbox, webhook, renewal and housekeeping pollers) and WebSockets get no span: a
poller would make a trace of each statement, a socket a span lasting hours.

Nothing here imports OpenTelemetry before `install` runs, which `create_app` does only when
`configured()`: without the extra or the variable, the hooks stay None.
"""

from __future__ import annotations

import asyncio
import functools
import importlib.util
import os
from collections.abc import Callable, Coroutine, Iterator
from typing import TYPE_CHECKING, Any

from graphql import GraphQLError
from starlette.middleware import Middleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from strawberry.extensions import SchemaExtension

import schema.api
from licensing import logs
from licensing.edge import redacted_path, redacted_query
from services import sql

if TYPE_CHECKING:
    from contextvars import Token

    from opentelemetry.context import Context
    from opentelemetry.sdk.trace.export import SpanExporter
    from opentelemetry.trace import Span
    from opentelemetry.util.types import AttributeValue

ENDPOINT_VARIABLE = "OTEL_EXPORTER_OTLP_ENDPOINT"
SERVICE_NAME = "licensing"
_EXTRA = ("opentelemetry.sdk", "opentelemetry.exporter.otlp.proto.http")
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "CONNECT"})
# Tortoise's clients: each method runs one statement (or one script) and calls none of the others.
_STATEMENT_METHODS = (
    "execute_query",
    "execute_query_dict",
    "execute_insert",
    "execute_many",
    "execute_script",
)
_TRACED = "_licensing_traced"
# Probes and scrapes come every few seconds and say nothing of what clients do.
UNTRACED_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})


def configured() -> bool:
    """OTEL_EXPORTER_OTLP_ENDPOINT is set and the `otel` extra is installed."""
    return bool(os.environ.get(ENDPOINT_VARIABLE)) and _extra_installed()


def extra_missing() -> bool:
    """OTEL_EXPORTER_OTLP_ENDPOINT is set, but without the `otel` extra nothing is sent."""
    return bool(os.environ.get(ENDPOINT_VARIABLE)) and not _extra_installed()


def _extra_installed() -> bool:
    try:
        return all(importlib.util.find_spec(name) is not None for name in _EXTRA)
    except ModuleNotFoundError:  # no `opentelemetry` package at all
        return False


class _Tracing:
    """The provider of this process, its tracer, and the API's few names used per span."""

    def __init__(self, exporter: SpanExporter | None) -> None:
        from opentelemetry import context, propagate, trace
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor

        resource = Resource.create()  # OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES
        if str(resource.attributes.get("service.name", "")).startswith("unknown_service"):
            resource = resource.merge(Resource({"service.name": SERVICE_NAME}))
        # Our own provider, not the global one: tests give each app an exporter of its own.
        self.provider = TracerProvider(resource=resource)
        if exporter is None:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

            # The endpoint, headers, timeouts and batching come from the OTEL_* variables.
            self.provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
        else:
            self.provider.add_span_processor(SimpleSpanProcessor(exporter))
        self.tracer = self.provider.get_tracer(SERVICE_NAME)
        self.extract = propagate.extract
        self.current_span = trace.get_current_span
        self._in_context = trace.set_span_in_context
        self._attach, self._detach = context.attach, context.detach
        self.server, self.internal, self.client = (
            trace.SpanKind.SERVER,
            trace.SpanKind.INTERNAL,
            trace.SpanKind.CLIENT,
        )
        self.error = trace.Status(trace.StatusCode.ERROR)

    def in_request(self) -> bool:
        """Whether a span is current: only a request's work is traced."""
        return bool(self.current_span().get_span_context().is_valid)

    def start(
        self,
        name: str,
        kind: Any,
        attributes: dict[str, AttributeValue],
        parent: Context | None = None,
    ) -> tuple[Span, Token[Context]]:
        """A span made current; `finish` ends it."""
        span = self.tracer.start_span(
            name,
            context=parent,
            kind=kind,
            attributes=attributes,
            record_exception=False,
            set_status_on_exception=False,
        )
        return span, self._attach(self._in_context(span))

    def finish(self, span: Span, token: Token[Context]) -> None:
        self._detach(token)
        span.end()

    def failed(self, span: Span, error_type: str) -> None:
        span.set_status(self.error)
        span.set_attribute("error.type", error_type)


_active: _Tracing | None = None


def install(exporter: SpanExporter | None = None) -> list[Middleware]:
    """Turn traces on for this process; the middleware to put outermost in the app.

    Call it before the schema is built (it adds its extension there). `exporter` replaces the
    OTLP one (tests pass the SDK's InMemorySpanExporter); `shutdown` undoes this.
    """
    global _active
    previous, _active = _active, _Tracing(exporter)
    if previous is not None:
        previous.provider.shutdown()
    _patch_statements()
    schema.api.operation_spans = OperationSpans
    logs.span_fields = _span_fields
    return [Middleware(_HttpSpans)]


async def shutdown() -> None:
    """Send the spans still waiting and stop (the end of the app's lifespan)."""
    global _active
    tracing, _active = _active, None
    schema.api.operation_spans = None
    logs.span_fields = None
    if tracing is not None:
        await asyncio.to_thread(tracing.provider.shutdown)


def _span_fields() -> dict[str, str]:
    """`traceId` and `spanId` of the current span, for a log line."""
    tracing = _active
    if tracing is None:
        return {}
    context = tracing.current_span().get_span_context()
    if not context.is_valid:
        return {}
    return {"traceId": f"{context.trace_id:032x}", "spanId": f"{context.span_id:016x}"}


def _error_type(error: BaseException) -> str:
    return f"{type(error).__module__}.{type(error).__qualname__}"


class _HttpSpans:
    """A server span around each HTTP request; WebSocket and lifespan scopes pass untraced."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._routes: tuple[dict[int, str], frozenset[str]] | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        tracing = _active
        if scope["type"] != "http" or tracing is None or scope["path"] in UNTRACED_PATHS:
            await self.app(scope, receive, send)
            return
        method = scope["method"] if scope["method"] in _METHODS else "_OTHER"
        attributes: dict[str, AttributeValue] = {
            "http.request.method": method,
            "url.scheme": scope.get("scheme", "http"),
            "url.path": redacted_path(scope["path"]),
        }
        query = scope.get("query_string", b"").decode("latin-1")
        if query:
            attributes["url.query"] = redacted_query(query)
        headers = {
            key.decode("latin-1"): value.decode("latin-1") for key, value in scope["headers"]
        }
        span, token = tracing.start(
            method, tracing.server, attributes, parent=tracing.extract(headers)
        )
        status: int | None = None

        async def send_noting_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_noting_status)
        except Exception as error:
            tracing.failed(span, _error_type(error))
            status = status or 500  # what Starlette's ServerErrorMiddleware answers
            raise
        finally:
            self._describe(span, scope, method, status, tracing)
            tracing.finish(span, token)

    def _describe(
        self, span: Span, scope: Scope, method: str, status: int | None, tracing: _Tracing
    ) -> None:
        if not span.is_recording():
            return
        route = self._route(scope)
        if route is not None:
            span.set_attribute("http.route", route)
            span.update_name(f"{method} {route}")
        if status is not None:
            span.set_attribute("http.response.status_code", status)
            if status >= 500:
                span.set_status(tracing.error)
                span.set_attribute("error.type", str(status))

    def _route(self, scope: Scope) -> str | None:
        """The matched route's template (`/sign/{token}`, never the token); a fixed path
        answered before routing (a cached answer, a refused body) counts as its route."""
        if self._routes is None:
            routes = getattr(scope.get("app"), "routes", ())
            self._routes = (
                {id(route.endpoint): route.path for route in routes if hasattr(route, "endpoint")},
                frozenset(route.path for route in routes if "{" not in getattr(route, "path", "{")),
            )
        by_endpoint, fixed = self._routes
        endpoint = scope.get("endpoint")
        if endpoint is not None and id(endpoint) in by_endpoint:
            return by_endpoint[id(endpoint)]
        path = scope["path"]
        return path if path in fixed else None


class OperationSpans(SchemaExtension):
    """A span per GraphQL operation (not per field), first of the extensions so that it covers
    the others' work (the rate limit's statement, the masking of errors)."""

    def on_operation(self) -> Iterator[None]:
        tracing = _active
        if tracing is None or not tracing.in_request():
            yield
            return
        span, token = tracing.start("GraphQL Operation", tracing.internal, {})
        try:
            yield
        except Exception as error:  # a document that does not parse arrives as an exception
            errors = [error] if isinstance(error, GraphQLError) else []
            self._describe(span, errors, tracing)
            if not errors:
                tracing.failed(span, _error_type(error))
            raise
        else:
            result = self.execution_context.result
            self._describe(span, list(result.errors or []) if result else [], tracing)
        finally:
            tracing.finish(span, token)

    def _describe(self, span: Span, errors: list[GraphQLError], tracing: _Tracing) -> None:
        if not span.is_recording():
            return
        context = self.execution_context
        try:
            operation_type: str | None = context.operation_type.value
        except RuntimeError:  # no document, or no operation of the name asked for
            operation_type = None
        # The name only of an operation the document has: a client may send any operationName.
        name = context.operation_name if operation_type is not None else None
        if operation_type is not None:
            span.set_attribute("graphql.operation.type", operation_type)
            span.update_name(f"{operation_type} {name}" if name else operation_type)
        if name:
            span.set_attribute("graphql.operation.name", name)
        # Codes only: a message may quote what the client sent.
        codes = {str(code) for error in errors if (code := (error.extensions or {}).get("code"))}
        if codes:
            span.set_attribute("licensing.graphql.error_codes", sorted(codes))
            if "INTERNAL_SERVER_ERROR" in codes:
                tracing.failed(span, "INTERNAL_SERVER_ERROR")


Statement = Callable[..., Coroutine[Any, Any, Any]]


def _operation_name(statement: str) -> str | None:
    """The statement's first keyword (`SELECT`, `INSERT`...), from its first few characters."""
    words = statement[:24].split(None, 1)
    return words[0].upper() if words and words[0].isalpha() else None


def _traced(
    method: Statement, system: str, *, script: bool = False, text: Callable[[str], str] = str
) -> Statement:
    """`method(self, statement, params...)` in a client span, when a request's span is current."""
    batch = method.__name__ == "execute_many"

    @functools.wraps(method)
    async def traced(self: Any, statement: str, *args: Any, **kwargs: Any) -> Any:
        tracing = _active
        if tracing is None or not tracing.in_request():
            return await method(self, statement, *args, **kwargs)
        attributes: dict[str, AttributeValue] = {
            "db.system.name": system,
            "db.query.text": text(statement),
        }
        operation = None if script else _operation_name(statement)
        if operation is not None:
            attributes["db.operation.name"] = operation
        if batch and args:
            attributes["db.operation.batch.size"] = len(args[0])
        span, token = tracing.start(operation or system, tracing.client, attributes)
        try:
            return await method(self, statement, *args, **kwargs)
        except Exception as error:
            tracing.failed(span, _error_type(error))
            raise
        finally:
            tracing.finish(span, token)

    setattr(traced, _TRACED, True)
    return traced


def _patch(cls: type, name: str, system: str, **options: Any) -> None:
    """Wrap the method `cls` defines itself (an inherited one is wrapped where it is defined),
    once however often `install` runs."""
    method = cls.__dict__.get(name)
    if method is None or getattr(method, _TRACED, False):
        return
    if getattr(method, "__isabstractmethod__", False):
        return
    setattr(cls, name, _traced(method, system, **options))


def _patch_statements() -> None:
    """Tortoise's SQLite and asyncpg clients (their transactions too), and services/sql.py's
    reads past them, so that both databases' statements are spans on the event loop (aiosqlite
    runs sqlite3 on a thread of its own, where the request's span is not current)."""
    from tortoise.backends.asyncpg.client import AsyncpgDBClient
    from tortoise.backends.asyncpg.client import TransactionWrapper as AsyncpgTransaction
    from tortoise.backends.base_postgres.client import BasePostgresClient
    from tortoise.backends.sqlite.client import SqliteClient, SqliteTransactionWrapper

    clients = {
        "sqlite": (SqliteClient, SqliteTransactionWrapper),
        "postgresql": (BasePostgresClient, AsyncpgDBClient, AsyncpgTransaction),
    }
    for system, classes in clients.items():
        for cls in classes:
            for name in _STATEMENT_METHODS:
                _patch(cls, name, system, script=name == "execute_script")
    _patch(sql.SqliteReader, "fetch", "sqlite")
    _patch(sql.PostgresReader, "fetch", "postgresql", text=sql.numbered_placeholders)
