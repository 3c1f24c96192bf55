"""GraphQL errors for authorization, and the mapping of domain errors to userErrors."""

from __future__ import annotations

from dataclasses import dataclass

from graphql import GraphQLError

from services.errors import DomainError


class ClientError(GraphQLError):
    """A refusal the client must handle: never masked, always carries extensions.code."""

    def __init__(self, message: str, code: str) -> None:
        super().__init__(message, extensions={"code": code})


def internal_error(request_id: str) -> ClientError:
    """What a client sees of a failure on our side: no detail, the id of its log line."""
    error = ClientError("Internal server error.", "INTERNAL_SERVER_ERROR")
    error.extensions = {**(error.extensions or {}), "requestId": request_id}
    return error


def unauthenticated(problem: str) -> ClientError:
    return ClientError(problem, "UNAUTHENTICATED")


def forbidden(message: str) -> ClientError:
    return ClientError(message, "FORBIDDEN")


def bad_request(message: str) -> ClientError:
    return ClientError(message, "BAD_USER_INPUT")


@dataclass(frozen=True)
class UserErrorData:
    """What a payload's userErrors entry says (the schema turns it into UserError)."""

    field: list[str] | None
    message: str
    code: str


def user_error(error: DomainError, *, prefix: tuple[str, ...] = ("input",)) -> UserErrorData:
    path = (error.field,) if isinstance(error.field, str) else error.field
    field = [*prefix, *path] if path else None
    return UserErrorData(field=field, message=error.message, code=error.code)
