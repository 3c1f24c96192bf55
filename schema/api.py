"""The assembled Schema and its SDL export."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from contextlib import aclosing
from typing import Any, TypeGuard

import strawberry
from graphql import GraphQLError
from strawberry.exceptions import MissingQueryError
from strawberry.extensions import (
    DisableIntrospection,
    MaskErrors,
    MaxTokensLimiter,
    SchemaExtension,
)
from strawberry.schema.config import StrawberryConfig
from strawberry.schema.exceptions import CannotGetOperationTypeError, InvalidOperationTypeError
from strawberry.schema.schema import DEFAULT_ALLOWED_OPERATION_TYPES, StreamResult
from strawberry.types import ExecutionContext, ExecutionResult
from strawberry.types.execution import PreExecutionError
from strawberry.types.graphql import OperationType

from licensing.settings import Settings
from resolvers.context import RequestContext
from resolvers.errors import ClientError
from schema.billing.mutations import use_coerced_input
from schema.licenses.types import Company, User
from schema.live.subscriptions import LiveUpdates
from schema.mutations import Mutation
from schema.protection.document_cache import DocumentCache, DocumentStore
from schema.protection.extension import ApiProtection
from schema.protection.response_cache import ResponseCache, ResponseStore
from schema.purchases.types import LicensePurchase
from schema.query import Query
from schema.renewal.types import RenewalChange
from schema.scalars import SCALAR_MAP
from schema.subscription.types import Contract, ContractDocument, LicensePool, Subscription

logger = logging.getLogger("licensing.errors")

# A span per operation, set by licensing/tracing.py while traces are on: None otherwise, and
# nothing of OpenTelemetry is imported.
operation_spans: type[SchemaExtension] | None = None


def _is_unexpected(error: GraphQLError) -> bool:
    """Mask errors raised by our own code unless they are deliberate client errors."""
    original = error.original_error
    deliberate = (
        ClientError,
        GraphQLError,
        InvalidOperationTypeError,
        CannotGetOperationTypeError,
        MissingQueryError,
    )
    return original is not None and not isinstance(original, deliberate)


class MaskUnexpectedErrors(MaskErrors):
    def __init__(self) -> None:
        super().__init__(should_mask_error=_is_unexpected, error_message="Internal server error.")

    def anonymise_error(self, error: GraphQLError) -> GraphQLError:
        masked = super().anonymise_error(error)
        masked.extensions = {"code": "INTERNAL_SERVER_ERROR", "requestId": _request_id(self)}
        return masked


def _request_id(extension: SchemaExtension) -> str | None:
    context = extension.execution_context.context
    return context.request_id if isinstance(context, RequestContext) else None


class LicensingSchema(strawberry.Schema):
    """Queries and mutations over HTTP (`execute`), subscriptions over a WebSocket (`stream`):
    HTTP has the response cache, rate limits and logs; a socket serves only live updates."""

    async def execute(
        self,
        query: str | None,
        variable_values: dict[str, Any] | None = None,
        context_value: Any | None = None,
        root_value: Any | None = None,
        operation_name: str | None = None,
        allowed_operation_types: Iterable[OperationType] | None = None,
        operation_extensions: dict[str, Any] | None = None,
    ) -> ExecutionResult:
        allowed = set(allowed_operation_types or DEFAULT_ALLOWED_OPERATION_TYPES)
        allowed.discard(OperationType.SUBSCRIPTION)
        return await super().execute(
            query,
            variable_values=variable_values,
            context_value=context_value,
            root_value=root_value,
            operation_name=operation_name,
            allowed_operation_types=allowed,
            operation_extensions=operation_extensions,
        )

    async def stream(
        self,
        query: str | None,
        variable_values: dict[str, Any] | None = None,
        context_value: Any | None = None,
        root_value: Any | None = None,
        operation_name: str | None = None,
        operation_extensions: dict[str, Any] | None = None,
        allowed_operation_types: Iterable[OperationType] | None = None,
    ) -> StreamResult:
        results = await super().stream(
            query,
            variable_values=variable_values,
            context_value=context_value,
            root_value=root_value,
            operation_name=operation_name,
            operation_extensions=operation_extensions,
            allowed_operation_types=(OperationType.SUBSCRIPTION,),
        )
        return _refusal_as_error(results)

    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        """Log what went wrong on our side, with the request id the client was given.

        Refusals and invalid documents are the client's to handle: not logged as errors.
        """
        context = execution_context.context if execution_context else None
        request_id = context.request_id if isinstance(context, RequestContext) else None
        for error in filter(_is_unexpected, errors):
            logger.error(
                "request %s: unexpected error in %s: %s",
                request_id,
                error.path,
                error.message,
                exc_info=error.original_error,
                extra={"fields": {"requestId": request_id}},
            )


async def _refusal_as_error(results: StreamResult) -> StreamResult:
    """A subscription refused before its first event (FORBIDDEN, THROTTLED, a limit) ends in an
    `error` message, which graphql-ws clients pass to their error handler, not in a `next`
    without data. A refusal has no path; an error reading an event's fields has one, and stays
    in that event."""
    refusal: ExecutionResult | None = None
    async with aclosing(results):
        first = True
        async for result in results:
            if first and _is_refusal(result):
                refusal = result  # the stream ends after it: let it end (and log its line)
                continue
            first = False
            yield result
    if refusal is not None:
        yield PreExecutionError(None, refusal.errors, refusal.extensions)


def _is_refusal(result: object) -> TypeGuard[ExecutionResult]:
    return (
        isinstance(result, ExecutionResult)
        and not isinstance(result, PreExecutionError)
        and result.data is None
        and bool(result.errors)
        and all(error.path is None for error in result.errors or ())
    )


def _extensions(settings: Settings, answers: ResponseStore | None) -> list[Any]:
    extensions: list[Any] = [ApiProtection]
    if operation_spans is not None:
        extensions.insert(0, operation_spans)  # first: its span covers the others' work
    if answers is not None:
        # After ApiProtection: a refused request is never put in the cache.
        extensions.append(lambda: ResponseCache(answers))
    documents = DocumentStore(settings.document_cache_bytes)
    extensions += [
        MaskUnexpectedErrors,
        lambda: MaxTokensLimiter(max_token_count=settings.max_query_tokens),
        lambda: DocumentCache(documents),
    ]
    if not settings.graphql_introspection:
        extensions.append(DisableIntrospection)
    return extensions


def build_schema(
    settings: Settings | None = None, answers: ResponseStore | None = None
) -> strawberry.Schema:
    """The schema; with `answers`, it keeps query answers there (licensing/cached_answers.py)."""
    settings = settings or Settings()
    schema = LicensingSchema(
        query=Query,
        mutation=Mutation,
        subscription=LiveUpdates,
        types=[
            Company,
            User,
            Contract,
            LicensePool,
            ContractDocument,
            Subscription,
            LicensePurchase,
            RenewalChange,
        ],
        config=StrawberryConfig(
            disable_field_suggestions=True,
            scalar_map=SCALAR_MAP,
            # Strawberry's own cap, far above ours: the view refuses big batches with a code.
            batching_config={"max_operations": 100_000},
        ),
        extensions=_extensions(settings, answers),
    )
    use_coerced_input(schema._schema)
    return schema


def export_sdl(schema: strawberry.Schema) -> str:
    """The served SDL with an explicit schema block.

    The contract needs one, or tools would take the domain type Subscription for the
    subscription root; Strawberry prints one only when a root's name is not the usual one.
    """
    sdl = schema.as_str()
    if sdl.startswith("schema {"):
        return sdl + "\n"
    graphql_schema = schema._schema
    roots = [
        ("query", graphql_schema.query_type),
        ("mutation", graphql_schema.mutation_type),
        ("subscription", graphql_schema.subscription_type),
    ]
    lines = [f"  {op}: {root.name}" for op, root in roots if root is not None]
    return "schema {\n" + "\n".join(lines) + "\n}\n\n" + sdl + "\n"
