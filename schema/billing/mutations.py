"""The core product's activity reports: input, payload and root field."""

from __future__ import annotations

import datetime as dt

import strawberry

import schema.billing.types  # noqa: F401  (ActivityKind's GraphQL name and description)
from models.enums import ActivityKind, Product
from resolvers import billing as resolve
from resolvers.billing import EventInput
from schema.errors import UserError, user_errors


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


@strawberry.type
class BillingMutations:
    @strawberry.mutation(
        description="Report user activity from the core product (needs a token with the "
        "activity:write scope). All events or none."
    )
    async def record_license_activity(
        self, info: strawberry.Info, input: RecordLicenseActivityInput
    ) -> RecordLicenseActivityPayload:
        events = [EventInput(e.user_id, e.product, e.kind, e.on) for e in input.events]
        outcome = await resolve.record_activity(info.context, events)
        recorded = outcome.value
        return RecordLicenseActivityPayload(
            accepted=recorded.accepted if recorded else 0,
            new_billable_days=recorded.new_billable_days if recorded else 0,
            user_errors=user_errors(outcome.errors),
        )
