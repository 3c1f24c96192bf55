"""Protection of the API for partners and mobile apps, as one schema extension.

Before execution: depth, alias and cost limits, then the per-token leaky bucket. Refusals
are GraphQL errors with an `extensions.code` and nothing runs. Every response reports
`extensions.cost`, every request is logged as one structured line.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from typing import Any

from graphql import ExecutionResult as GraphQLExecutionResult
from graphql import GraphQLError, GraphQLSyntaxError
from strawberry.extensions import SchemaExtension
from strawberry.schema.exceptions import InvalidOperationTypeError
from strawberry.types.execution import StreamExecutionResult
from strawberry.types.graphql import OperationType

from resolvers import protection
from resolvers.context import OperationReport, RequestContext
from resolvers.errors import ClientError, internal_error
from schema.protection.cost import Analysis, actual_cost, analyze_cached
from services.protection.rate_limit import Decision

request_log = logging.getLogger("licensing.requests")
error_log = logging.getLogger("licensing.errors")


def _code_for(error: GraphQLError) -> str:
    if "tokens. Parsing aborted" in error.message:
        return "TOO_MANY_TOKENS"
    if "nested too deeply" in error.message:
        return "QUERY_TOO_DEEP"
    if isinstance(error, GraphQLSyntaxError):
        return "GRAPHQL_PARSE_FAILED"
    return "GRAPHQL_VALIDATION_FAILED"


WRONG_TRANSPORT = {
    OperationType.SUBSCRIPTION: "Subscriptions are served over a WebSocket at /graphql "
    "(graphql-transport-ws protocol), not over HTTP.",
    OperationType.QUERY: "Send queries over HTTP (POST /graphql): this WebSocket serves "
    "subscriptions only.",
    OperationType.MUTATION: "Send mutations over HTTP (POST /graphql): this WebSocket serves "
    "subscriptions only.",
}


def _label(error: GraphQLError) -> None:
    """Give every error an extensions.code clients can branch on."""
    if (error.extensions or {}).get("code"):
        return
    code = _code_for(error)
    if isinstance(error.original_error, InvalidOperationTypeError):
        error.message = WRONG_TRANSPORT[error.original_error.operation_type]
        code = "OPERATION_NOT_SUPPORTED"
    error.extensions = {**(error.extensions or {}), "code": code}


class ApiProtection(SchemaExtension):
    def __init__(self) -> None:
        self.analysis = Analysis()
        self.decision: Decision | None = None
        self.refused = False
        self.started = time.perf_counter()
        self.reported = False  # a subscription is reported when it starts

    @property
    def ctx(self) -> RequestContext | None:
        context = self.execution_context.context
        return context if isinstance(context, RequestContext) else None

    def on_operation(self) -> Iterator[None]:
        self.started = time.perf_counter()
        try:
            yield
        except GraphQLError as unparsed:  # a document that does not parse arrives as an exception
            _label(unparsed)
            self._log([unparsed], time.perf_counter() - self.started)
            raise
        result = self.execution_context.result
        errors = list(result.errors or []) if result else []
        for error in errors:
            _label(error)
        self._log(errors, time.perf_counter() - self.started)

    async def on_execute(self) -> Any:  # an async generator hook
        ctx = self.ctx
        document = self.execution_context.graphql_document
        if ctx is not None and document is not None:
            self.analysis = analyze_cached(
                self.execution_context.schema._schema,
                document,
                ctx.digest_of(self.execution_context.query or ""),
                self.execution_context.operation_name,
                self.execution_context.variables,
            )
            refusal = self._limit_refusal(ctx) or await self._guarded_throttle_refusal(ctx)
            subscription = self.execution_context.operation_type is OperationType.SUBSCRIPTION
            if refusal is not None:
                self.refused = True
                if subscription:
                    self._report([refusal], time.perf_counter() - self.started)
                    raise refusal  # a subscription runs whatever the result: it must not start
                self.execution_context.result = GraphQLExecutionResult(data=None, errors=[refusal])
            else:
                ctx.admitted.add(ctx.digest_of(self.execution_context.query or ""))
                if subscription:  # it may last hours: counted as it starts, timed to its start
                    self._report([], time.perf_counter() - self.started)
        yield

    def on_stream_result(self, result: StreamExecutionResult) -> Iterator[None]:
        """Each result of a subscription is sent as it comes: labelled here, not at the end."""
        for error in getattr(result, "errors", None) or []:
            _label(error)
        yield

    def _limit_refusal(self, ctx: RequestContext) -> ClientError | None:
        settings, found = ctx.settings, self.analysis
        if found.depth > settings.max_query_depth:
            return ClientError(
                f"This query is {found.depth} levels deep; the limit is "
                f"{settings.max_query_depth}. Ask for less nested data.",
                "QUERY_TOO_DEEP",
            )
        if found.aliases > settings.max_query_aliases:
            return ClientError(
                f"This query uses {found.aliases} aliases; the limit is "
                f"{settings.max_query_aliases}. Split it into several requests.",
                "TOO_MANY_ALIASES",
            )
        if found.cost > settings.max_query_cost:
            return ClientError(
                f"This query costs {found.cost}; the limit is {settings.max_query_cost}. "
                "Ask for fewer objects (a smaller `first`, fewer fields with objects).",
                "QUERY_TOO_COSTLY",
            )
        return None

    async def _guarded_throttle_refusal(self, ctx: RequestContext) -> ClientError | None:
        """The rate limit's verdict; a failure of its own (the database) is masked, and logged."""
        try:
            return await self._throttle_refusal(ctx)
        except Exception:
            error_log.exception(
                "request %s: the rate limit could not be checked",
                ctx.request_id,
                extra={"fields": {"requestId": ctx.request_id}},
            )
            return internal_error(ctx.request_id)

    async def _throttle_refusal(self, ctx: RequestContext) -> ClientError | None:
        settings = ctx.settings
        if not settings.rate_limit_enabled:
            return None
        self.decision = await protection.take_cost(ctx, self.analysis.cost)
        if self.decision.allowed:
            return None
        wait = round(self.decision.retry_after_seconds, 1)
        error = ClientError(
            f"Throttled: this query costs {self.analysis.cost} and "
            f"{self.decision.available:.0f} is available right now. Retry in {wait} seconds.",
            "THROTTLED",
        )
        error.extensions = {**(error.extensions or {}), "retryAfterSeconds": wait}
        return error

    def _operation_type(self) -> OperationType | None:
        """None when there is no document, or no operation of the name asked for."""
        try:
            return self.execution_context.operation_type
        except RuntimeError:
            return None

    def _actual_cost(self) -> int:
        operation_type = self._operation_type()
        if self.refused or operation_type is None:
            return 0
        if operation_type is OperationType.SUBSCRIPTION:
            return self.analysis.cost  # what each event is charged (its result is not known yet)
        result = self.execution_context.result
        if result is None or not result.data:
            return 0
        if self.analysis.root_fields and operation_type is OperationType.MUTATION:
            return self.analysis.cost  # what the mutations were charged, whatever they return
        return actual_cost(result.data)

    def get_results(self) -> dict[str, Any]:
        ctx = self.ctx
        if ctx is None:
            return {}
        # A subscription's later events are paid by its resolver (resolvers/live.py).
        decision = (ctx.live.decision if ctx.live else None) or self.decision
        return protection.cost_extension(
            ctx.settings, self.analysis.cost, self._actual_cost(), decision
        )

    def _outcome(self, codes: list[Any]) -> str:
        return "refused" if self.refused else ("error" if codes else "ok")

    def _report(self, errors: list[GraphQLError], seconds: float) -> None:
        """Tell the metrics of this operation, once."""
        ctx = self.ctx
        if ctx is None or ctx.observer is None or self.reported:
            return
        self.reported = True
        codes = [(error.extensions or {}).get("code") for error in errors]
        operation_type = self._operation_type()
        ctx.observer.operation_done(
            OperationReport(
                operation_type=operation_type.value if operation_type else "unknown",
                operation_name=self.execution_context.operation_name,
                outcome=self._outcome(codes),
                error_codes=tuple(str(code) for code in codes if code),
                seconds=seconds,
            )
        )

    def _log(self, errors: list[GraphQLError], seconds: float) -> None:
        """The operation's log line and its report to the metrics: once per operation."""
        self._report(errors, seconds)
        ctx = self.ctx
        viewer = ctx.viewer_or_none if ctx else None
        codes = [(error.extensions or {}).get("code") for error in errors]
        outcome = self._outcome(codes)
        line = {
            "requestId": ctx.request_id if ctx else None,
            "operation": self.execution_context.operation_name,
            "cost": self.analysis.cost,
            "durationMs": round(seconds * 1000, 1),
            "status": outcome,
            "errors": codes,
            "token": viewer.token_name if viewer else None,
        }
        request_log.info("graphql %s", line["status"], extra={"fields": line})
