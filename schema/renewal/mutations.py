"""Inputs, payloads and root fields for renewal quotes and changes."""

from __future__ import annotations

import strawberry

from models.renewal import RenewalChange as ChangeRow
from resolvers import renewal as resolve
from resolvers.outcome import Outcome
from schema.errors import UserError, user_errors
from schema.renewal.types import RenewalChange, RenewalQuote


@strawberry.input(description="What to quote for the next term.")
class RenewalQuoteInput:
    contract_id: strawberry.ID
    contracted_licenses: int = strawberry.field(
        description="CONTRACTED licenses for the next term, 0..10,000."
    )


@strawberry.type(description="The quote, or why there is none.")
class RenewalQuotePayload:
    quote: RenewalQuote | None
    user_errors: list[UserError]


@strawberry.input(description="The next term's CONTRACTED licenses to request.")
class ScheduleContractRenewalInput:
    contract_id: strawberry.ID
    contracted_licenses: int = strawberry.field(
        description="CONTRACTED licenses for the next term, 0..10,000."
    )
    idempotency_key: str | None = strawberry.field(
        default=None,
        description="The same key with the same input returns the first change instead of "
        "making another.",
    )


@strawberry.type(description="The change awaiting signature, or why none was made.")
class ScheduleContractRenewalPayload:
    renewal_change: RenewalChange | None
    user_errors: list[UserError]


@strawberry.input(description="The pending or scheduled change to withdraw.")
class CancelRenewalChangeInput:
    renewal_change_id: strawberry.ID


@strawberry.type(description="The cancelled change, or why it was not cancelled.")
class CancelRenewalChangePayload:
    renewal_change: RenewalChange | None
    user_errors: list[UserError]


@strawberry.input(description="A signature given with the token from the email.")
class SignRenewalChangeInput:
    token: str = strawberry.field(description="The token at the end of the emailed link.")
    signer_name: str = strawberry.field(description="Full name typed by the signer.")


@strawberry.type(description="The scheduled change, or why it was not signed.")
class SignRenewalChangePayload:
    renewal_change: RenewalChange | None
    user_errors: list[UserError]


def _change(info: strawberry.Info, outcome: Outcome[ChangeRow]) -> RenewalChange | None:
    return None if outcome.value is None else RenewalChange.of(info, outcome.value)


@strawberry.type
class RenewalQueries:
    @strawberry.field(
        description="Preview of the next term with a number of CONTRACTED licenses: nothing is "
        "stored. Works any day of the term. Same access rule as subscription."
    )
    async def renewal_quote(
        self, info: strawberry.Info, input: RenewalQuoteInput
    ) -> RenewalQuotePayload:
        outcome = await resolve.quote(info.context, input.contract_id, input.contracted_licenses)
        quote = None if outcome.value is None else RenewalQuote.of(outcome.value)
        return RenewalQuotePayload(quote=quote, user_errors=user_errors(outcome.errors))


@strawberry.type
class RenewalMutations:
    @strawberry.mutation(
        description="Within the renewal window: request the next term's CONTRACTED licenses. "
        "Emails a signature link to the company email; a pending change it replaces is "
        "SUPERSEDED."
    )
    async def schedule_contract_renewal(
        self, info: strawberry.Info, input: ScheduleContractRenewalInput
    ) -> ScheduleContractRenewalPayload:
        outcome = await resolve.schedule(
            info.context, input.contract_id, input.contracted_licenses, input.idempotency_key
        )
        return ScheduleContractRenewalPayload(
            renewal_change=_change(info, outcome), user_errors=user_errors(outcome.errors)
        )

    @strawberry.mutation(
        description="Withdraw a pending or scheduled renewal change: the contract then renews "
        "with its CONTRACTED total of that day."
    )
    async def cancel_renewal_change(
        self, info: strawberry.Info, input: CancelRenewalChangeInput
    ) -> CancelRenewalChangePayload:
        outcome = await resolve.cancel(info.context, input.renewal_change_id)
        return CancelRenewalChangePayload(
            renewal_change=_change(info, outcome), user_errors=user_errors(outcome.errors)
        )

    @strawberry.mutation(
        description="Sign a renewal change with the token from the email. Needs no bearer "
        "token: the token is the credential."
    )
    async def sign_renewal_change(
        self, info: strawberry.Info, input: SignRenewalChangeInput
    ) -> SignRenewalChangePayload:
        outcome = await resolve.sign(info.context, input.token, input.signer_name)
        return SignRenewalChangePayload(
            renewal_change=_change(info, outcome), user_errors=user_errors(outcome.errors)
        )
