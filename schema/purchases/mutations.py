"""Inputs, payloads and root fields for quoting, buying and signing."""

from __future__ import annotations

import strawberry

from models.enums import LicenseKind
from models.purchase import LicensePurchase as PurchaseRow
from resolvers import purchases as resolve
from resolvers.outcome import Outcome
from schema.errors import UserError, user_errors
from schema.purchases.types import LicensePurchase, LicensePurchaseQuote


@strawberry.input(description="What to quote.")
class LicensePurchaseQuoteInput:
    contract_id: strawberry.ID
    kind: LicenseKind
    quantity: int = strawberry.field(description="1 to 10,000.")


@strawberry.type(description="The quote, or why there is none.")
class LicensePurchaseQuotePayload:
    quote: LicensePurchaseQuote | None
    user_errors: list[UserError]


@strawberry.input(description="What to buy.")
class PurchaseLicensesInput:
    contract_id: strawberry.ID
    kind: LicenseKind
    quantity: int = strawberry.field(description="1 to 10,000.")
    idempotency_key: str | None = strawberry.field(
        default=None,
        description="The same key with the same input returns the first purchase instead of "
        "making another.",
    )


@strawberry.type(description="The purchase, or why none was made.")
class PurchaseLicensesPayload:
    purchase: LicensePurchase | None
    user_errors: list[UserError]


@strawberry.input(description="The pending purchase to cancel.")
class CancelLicensePurchaseInput:
    purchase_id: strawberry.ID


@strawberry.type(description="The cancelled purchase, or why it was not cancelled.")
class CancelLicensePurchasePayload:
    purchase: LicensePurchase | None
    user_errors: list[UserError]


@strawberry.input(description="The pending purchase whose confirmation to send again.")
class ResendLicensePurchaseConfirmationInput:
    purchase_id: strawberry.ID


@strawberry.type(description="The purchase, or why nothing was sent.")
class ResendLicensePurchaseConfirmationPayload:
    purchase: LicensePurchase | None
    user_errors: list[UserError]


@strawberry.input(description="A signature given with the token from the email.")
class SignLicensePurchaseInput:
    token: str = strawberry.field(description="The token at the end of the emailed link.")
    signer_name: str = strawberry.field(description="Full name typed by the signer.")


@strawberry.type(description="The confirmed purchase, or why it was not signed.")
class SignLicensePurchasePayload:
    purchase: LicensePurchase | None
    user_errors: list[UserError]


def _purchase(info: strawberry.Info, outcome: Outcome[PurchaseRow]) -> LicensePurchase | None:
    return None if outcome.value is None else LicensePurchase.of(info, outcome.value)


@strawberry.type
class PurchaseQueries:
    @strawberry.field(
        description="Preview of a purchase: nothing is stored, nothing is sent. Same access "
        "rule as subscription."
    )
    async def license_purchase_quote(
        self, info: strawberry.Info, input: LicensePurchaseQuoteInput
    ) -> LicensePurchaseQuotePayload:
        outcome = await resolve.quote(info.context, input.contract_id, input.kind, input.quantity)
        quote = None if outcome.value is None else LicensePurchaseQuote.of(outcome.value)
        return LicensePurchaseQuotePayload(quote=quote, user_errors=user_errors(outcome.errors))


@strawberry.type
class PurchaseMutations:
    @strawberry.mutation(
        description="Create a purchase awaiting signature and email the signature link to the "
        "company email."
    )
    async def purchase_licenses(
        self, info: strawberry.Info, input: PurchaseLicensesInput
    ) -> PurchaseLicensesPayload:
        outcome = await resolve.purchase(
            info.context, input.contract_id, input.kind, input.quantity, input.idempotency_key
        )
        return PurchaseLicensesPayload(
            purchase=_purchase(info, outcome), user_errors=user_errors(outcome.errors)
        )

    @strawberry.mutation(description="Cancel a purchase that awaits its signature.")
    async def cancel_license_purchase(
        self, info: strawberry.Info, input: CancelLicensePurchaseInput
    ) -> CancelLicensePurchasePayload:
        outcome = await resolve.cancel(info.context, input.purchase_id)
        return CancelLicensePurchasePayload(
            purchase=_purchase(info, outcome), user_errors=user_errors(outcome.errors)
        )

    @strawberry.mutation(
        description="Send the confirmation email of a pending purchase again, with a fresh "
        "link. Earlier links keep working until the purchase expires."
    )
    async def resend_license_purchase_confirmation(
        self, info: strawberry.Info, input: ResendLicensePurchaseConfirmationInput
    ) -> ResendLicensePurchaseConfirmationPayload:
        outcome = await resolve.resend(info.context, input.purchase_id)
        return ResendLicensePurchaseConfirmationPayload(
            purchase=_purchase(info, outcome), user_errors=user_errors(outcome.errors)
        )

    @strawberry.mutation(
        description="Sign with the token from the email. Needs no bearer token: the token is "
        "the credential."
    )
    async def sign_license_purchase(
        self, info: strawberry.Info, input: SignLicensePurchaseInput
    ) -> SignLicensePurchasePayload:
        outcome = await resolve.sign(info.context, input.token, input.signer_name)
        return SignLicensePurchasePayload(
            purchase=_purchase(info, outcome), user_errors=user_errors(outcome.errors)
        )
