"""userErrors: problems with the input, each with a code, a field path and a message."""

from __future__ import annotations

from enum import Enum

import strawberry

from resolvers.errors import UserErrorData


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
    INVALID_IDEMPOTENCY_KEY = "INVALID_IDEMPOTENCY_KEY"
    CONTRACT_NOT_RENEWING = "CONTRACT_NOT_RENEWING"
    RENEWAL_CHANGE_NOT_OPEN = "RENEWAL_CHANGE_NOT_OPEN"
    RENEWAL_WINDOW_CLOSED = "RENEWAL_WINDOW_CLOSED"
    ACTIVITY_DAY_OUT_OF_RANGE = "ACTIVITY_DAY_OUT_OF_RANGE"
    TOO_MANY_EVENTS = "TOO_MANY_EVENTS"
    WEBHOOK_URL_NOT_ALLOWED = "WEBHOOK_URL_NOT_ALLOWED"
    INVALID_INPUT = "INVALID_INPUT"


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


def user_errors(errors: list[UserErrorData]) -> list[UserError]:
    return [UserError.of(error) for error in errors]
