"""The core product's activity reports: input, payload and root field."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

import strawberry
from graphql import GraphQLResolveInfo, GraphQLSchema

import schema.common  # noqa: F401 - Product's GraphQL name and description, before it is used
from models.enums import ActivityKind, Product
from resolvers import billing as resolve
from resolvers.billing import EventInput
from resolvers.context import RequestContext
from schema.errors import UserError, user_errors

strawberry.enum(
    ActivityKind,
    name="ActivityKind",
    description="What the core product reports about a user: each makes the day billable for "
    "a user holding a DAILY license.",
)


@strawberry.input(description="One thing a user did, as the core product reports it.")
class LicenseActivityInput:
    user_id: strawberry.ID
    product: Product
    kind: ActivityKind
    on: dt.date = strawberry.field(
        description="The calendar day the activity counts for, as the core product sees it in "
        "the company's time."
    )


@strawberry.input(description="A batch of activity, recorded all or nothing.")
class RecordLicenseActivityInput:
    events: list[LicenseActivityInput] = strawberry.field(description="1..1,000 events.")


@strawberry.type(description="What the batch added, or why nothing was recorded.")
class RecordLicenseActivityPayload:
    accepted: int = strawberry.field(
        description="Events taken (all of them), or 0 when userErrors is not empty."
    )
    new_billable_days: int = strawberry.field(
        description="Billable user-days this call added; a day already billable adds nothing."
    )
    user_errors: list[UserError]


async def _record(
    context: RequestContext, events: Iterable[EventInput]
) -> RecordLicenseActivityPayload:
    outcome = await resolve.record_activity(context, events)
    recorded = outcome.value
    return RecordLicenseActivityPayload(
        accepted=recorded.accepted if recorded else 0,
        new_billable_days=recorded.new_billable_days if recorded else 0,
        user_errors=user_errors(outcome.errors),
    )


@strawberry.type
class BillingMutations:
    @strawberry.mutation(
        description="Report user activity from the core product (needs a token with the "
        "activity:write scope). All events or none."
    )
    async def record_license_activity(
        self, info: strawberry.Info, input: RecordLicenseActivityInput
    ) -> RecordLicenseActivityPayload:
        # Served by _record_from_coerced_input (use_coerced_input); kept as Strawberry's
        # declaration of the field, and as what runs if that is not installed.
        events = ((e.user_id, e.product, e.kind, e.on) for e in input.events)
        return await _record(info.context, events)


async def _record_from_coerced_input(
    _root: Any, info: GraphQLResolveInfo[RequestContext], input: dict[str, Any]
) -> RecordLicenseActivityPayload:
    """The field's resolver on graphql-core's values, as its input coercion left them: dicts
    holding IDs, Python enums and dates, already checked against the input types."""
    events = ((e["userId"], e["product"], e["kind"], e["on"]) for e in input["events"])
    return await _record(info.context, events)


def use_coerced_input(schema: GraphQLSchema) -> None:
    """Resolve recordLicenseActivity past Strawberry's argument conversion.

    graphql-core coerces the variables against the input types; Strawberry then converts every
    input object again into an instance of its class, field by field, with name conversions
    and annotation lookups: for a 1,000-event report that second pass was half the call's CPU
    (bench/RESULTS.md). The operation-level extensions (limits, rate limit, masking, logs) do
    not depend on Strawberry's field resolver, so they apply as to any field.
    """
    assert schema.mutation_type is not None
    schema.mutation_type.fields["recordLicenseActivity"].resolve = _record_from_coerced_input
