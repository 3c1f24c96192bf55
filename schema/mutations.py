"""The root Mutation: deleting licenses and managing who holds them."""

from __future__ import annotations

from enum import Enum

import strawberry

from models.enums import LicenseKind, Product
from resolvers import mutations as resolve
from resolvers.errors import UserErrorData
from resolvers.ids import encode_id
from schema.company import User
from schema.subscription import LicensePool


@strawberry.enum(description="What went wrong with the input.")
class UserErrorCode(Enum):
    INVALID_QUANTITY = "INVALID_QUANTITY"
    NOT_FOUND = "NOT_FOUND"
    CONTRACT_EXPIRED = "CONTRACT_EXPIRED"
    CONTRACTED_NOT_DELETABLE = "CONTRACTED_NOT_DELETABLE"
    LICENSES_ASSIGNED = "LICENSES_ASSIGNED"
    NO_LICENSE_AVAILABLE = "NO_LICENSE_AVAILABLE"
    PURCHASE_NOT_PENDING = "PURCHASE_NOT_PENDING"
    SIGNATURE_TOKEN_INVALID = "SIGNATURE_TOKEN_INVALID"
    SIGNATURE_TOKEN_EXPIRED = "SIGNATURE_TOKEN_EXPIRED"
    SIGNER_NAME_REQUIRED = "SIGNER_NAME_REQUIRED"
    IDEMPOTENCY_KEY_REUSED = "IDEMPOTENCY_KEY_REUSED"
    LICENSE_NOT_HELD = "LICENSE_NOT_HELD"
    CANNOT_DELETE_SELF = "CANNOT_DELETE_SELF"
    LAST_OWNER_REQUIRED = "LAST_OWNER_REQUIRED"


@strawberry.type(
    description="A problem with the input, for the person to fix. Authorization problems are "
    "GraphQL errors instead."
)
class UserError:
    field: list[str] | None = strawberry.field(
        description='Path to the input field, e.g. ["input", "quantity"].'
    )
    message: str = strawberry.field(description="What is wrong and what to do about it.")
    code: UserErrorCode

    @classmethod
    def of(cls, data: UserErrorData) -> UserError:
        return cls(field=data.field, message=data.message, code=UserErrorCode(data.code))


def _errors(errors: list[UserErrorData]) -> list[UserError]:
    return [UserError.of(error) for error in errors]


@strawberry.input(description="Which unassigned licenses to delete.")
class DeleteLicensesInput:
    contract_id: strawberry.ID
    kind: LicenseKind = strawberry.field(description="MONTHLY or DAILY.")
    quantity: int = strawberry.field(description="1 to the pool's total, at most its available.")


@strawberry.type(description="The pool after the deletion, or why nothing was deleted.")
class DeleteLicensesPayload:
    license_pool: LicensePool | None
    user_errors: list[UserError]


@strawberry.input(description="Whom to give which license.")
class AssignLicenseInput:
    user_id: strawberry.ID
    product: Product
    kind: LicenseKind


@strawberry.type(description="The user after the change, or why nothing changed.")
class AssignLicensePayload:
    user: User | None
    user_errors: list[UserError]


@strawberry.input(description="Whose license of which product to free.")
class UnassignLicenseInput:
    user_id: strawberry.ID
    product: Product


@strawberry.type(description="The user after the change, or why nothing changed.")
class UnassignLicensePayload:
    user: User | None
    user_errors: list[UserError]


@strawberry.input(description="Which user to delete.")
class DeleteUserInput:
    user_id: strawberry.ID


@strawberry.type(description="The deleted user's id, or why nothing was deleted.")
class DeleteUserPayload:
    deleted_user_id: strawberry.ID | None
    user_errors: list[UserError]


@strawberry.type
class Mutation:
    @strawberry.mutation(description="Remove unassigned MONTHLY or DAILY licenses.")
    async def delete_licenses(
        self, info: strawberry.Info, input: DeleteLicensesInput
    ) -> DeleteLicensesPayload:
        outcome = await resolve.delete_licenses(
            info.context, input.contract_id, input.kind, input.quantity
        )
        pool = outcome.value
        return DeleteLicensesPayload(
            license_pool=None if pool is None else await LicensePool.of_row(info, pool),
            user_errors=_errors(outcome.errors),
        )

    @strawberry.mutation(
        description="Give a user a license of this kind for the product, or move them to this kind."
    )
    async def assign_license(
        self, info: strawberry.Info, input: AssignLicenseInput
    ) -> AssignLicensePayload:
        outcome = await resolve.assign_license(
            info.context, input.user_id, input.product, input.kind
        )
        user = None if outcome.value is None else User.from_model(outcome.value)
        return AssignLicensePayload(user=user, user_errors=_errors(outcome.errors))

    @strawberry.mutation(description="Free the license a user holds for a product.")
    async def unassign_license(
        self, info: strawberry.Info, input: UnassignLicenseInput
    ) -> UnassignLicensePayload:
        outcome = await resolve.unassign_license(info.context, input.user_id, input.product)
        user = None if outcome.value is None else User.from_model(outcome.value)
        return UnassignLicensePayload(user=user, user_errors=_errors(outcome.errors))

    @strawberry.mutation(
        description="Delete a user of the company; the licenses they held become available."
    )
    async def delete_user(self, info: strawberry.Info, input: DeleteUserInput) -> DeleteUserPayload:
        outcome = await resolve.delete_user(info.context, input.user_id)
        deleted = None if outcome.value is None else strawberry.ID(encode_id("User", outcome.value))
        return DeleteUserPayload(deleted_user_id=deleted, user_errors=_errors(outcome.errors))
