"""Mutations of licenses: deleting them and managing who holds them."""

from __future__ import annotations

import strawberry

from models.enums import LicenseKind, Product
from resolvers import licenses as resolve
from resolvers.ids import encode_id
from schema.errors import UserError, user_errors
from schema.licenses.types import User
from schema.subscription.types import LicensePool


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
class LicenseMutations:
    @strawberry.mutation(description="Remove unassigned MONTHLY or DAILY licenses.")
    async def delete_licenses(
        self, info: strawberry.Info, input: DeleteLicensesInput
    ) -> DeleteLicensesPayload:
        outcome = await resolve.delete_licenses(
            info.context, input.contract_id, input.kind, input.quantity
        )
        pool = outcome.value
        return DeleteLicensesPayload(
            license_pool=None if pool is None else await LicensePool.of_view(info, pool),
            user_errors=user_errors(outcome.errors),
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
        user = None if outcome.value is None else User.of(outcome.value, info.context)
        return AssignLicensePayload(user=user, user_errors=user_errors(outcome.errors))

    @strawberry.mutation(description="Free the license a user holds for a product.")
    async def unassign_license(
        self, info: strawberry.Info, input: UnassignLicenseInput
    ) -> UnassignLicensePayload:
        outcome = await resolve.unassign_license(info.context, input.user_id, input.product)
        user = None if outcome.value is None else User.of(outcome.value, info.context)
        return UnassignLicensePayload(user=user, user_errors=user_errors(outcome.errors))

    @strawberry.mutation(
        description="Delete a user of the company; the licenses they held become available."
    )
    async def delete_user(self, info: strawberry.Info, input: DeleteUserInput) -> DeleteUserPayload:
        outcome = await resolve.delete_user(info.context, input.user_id)
        deleted = None if outcome.value is None else strawberry.ID(encode_id("User", outcome.value))
        return DeleteUserPayload(deleted_user_id=deleted, user_errors=user_errors(outcome.errors))
