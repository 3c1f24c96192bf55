"""Typed domain errors. The GraphQL layer maps each `code` to a UserErrorCode."""

from __future__ import annotations

from collections.abc import Sequence


class DomainError(Exception):
    """An expected failure the person can fix. `field` names the input at fault: a name, or a
    path below the input for an item of a list (`("events", "3", "on")`)."""

    code = "INVALID"

    def __init__(self, message: str, *, field: str | tuple[str, ...] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class DomainErrors(Exception):
    """Several items of one request at fault (a batch), reported together; nothing was done."""

    def __init__(self, errors: Sequence[DomainError]) -> None:
        super().__init__("; ".join(error.message for error in errors))
        self.errors = list(errors)


class NotFound(DomainError):
    code = "NOT_FOUND"


class InvalidQuantity(DomainError):
    code = "INVALID_QUANTITY"


class AccessDenied(Exception):
    """The viewer's role or token may not do this. Not a user error: an authorization failure."""


class FixtureError(ValueError):
    """A fixture file that cannot be loaded; the message names the file, the JSON path and why."""


class ContractedNotDeletable(DomainError):
    code = "CONTRACTED_NOT_DELETABLE"


class LicensesAssigned(DomainError):
    code = "LICENSES_ASSIGNED"


class NoLicenseAvailable(DomainError):
    code = "NO_LICENSE_AVAILABLE"


class LicenseNotHeld(DomainError):
    code = "LICENSE_NOT_HELD"


class CannotDeleteSelf(DomainError):
    code = "CANNOT_DELETE_SELF"


class LastOwnerRequired(DomainError):
    code = "LAST_OWNER_REQUIRED"


class PurchaseNotPending(DomainError):
    code = "PURCHASE_NOT_PENDING"


class SignatureTokenInvalid(DomainError):
    code = "SIGNATURE_TOKEN_INVALID"


class SignatureTokenExpired(DomainError):
    code = "SIGNATURE_TOKEN_EXPIRED"


class SignerNameRequired(DomainError):
    code = "SIGNER_NAME_REQUIRED"


class IdempotencyKeyReused(DomainError):
    code = "IDEMPOTENCY_KEY_REUSED"


class InvalidIdempotencyKey(DomainError):
    code = "INVALID_IDEMPOTENCY_KEY"


class DownloadLinkInvalid(DomainError):
    code = "DOWNLOAD_LINK_INVALID"


class DownloadLinkExpired(DomainError):
    code = "DOWNLOAD_LINK_EXPIRED"


class ContractExpired(DomainError):
    code = "CONTRACT_EXPIRED"


class UnknownScope(DomainError):
    code = "UNKNOWN_SCOPE"


class QuoteChanged(DomainError):
    """The signature page's amounts are not today's any more (the page only)."""

    code = "QUOTE_CHANGED"


class ContractNotRenewing(DomainError):
    code = "CONTRACT_NOT_RENEWING"


class RenewalWindowClosed(DomainError):
    code = "RENEWAL_WINDOW_CLOSED"


class RenewalChangeNotOpen(DomainError):
    code = "RENEWAL_CHANGE_NOT_OPEN"


class ActivityDayOutOfRange(DomainError):
    code = "ACTIVITY_DAY_OUT_OF_RANGE"


class TooManyEvents(DomainError):
    code = "TOO_MANY_EVENTS"


class InvalidInput(DomainError):
    """Input of the wrong form or size; the message says what is expected."""

    code = "INVALID_INPUT"
