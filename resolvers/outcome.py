"""What every mutation resolver shares: the Outcome, error mapping, actor and id decoding."""

from __future__ import annotations

from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Generic, TypeVar

from resolvers.errors import UserErrorData, user_error
from resolvers.ids import decode_id
from services.access import Viewer
from services.audit import Actor
from services.errors import DomainError, DomainErrors, NotFound

T = TypeVar("T")


@dataclass(frozen=True)
class Outcome(Generic[T]):
    """A mutation's result: the value, or the userErrors that explain why there is none."""

    value: T | None
    errors: list[UserErrorData]


async def outcome(work: Awaitable[T]) -> Outcome[T]:
    try:
        return Outcome(await work, [])
    except DomainError as error:
        return Outcome(None, [user_error(error)])
    except DomainErrors as group:
        return Outcome(None, [user_error(error) for error in group.errors])


def actor_of(viewer: Viewer) -> Actor:
    return Actor(user_id=viewer.user_id, token_id=viewer.token_id)


def decode_pk(global_id: str, type_name: str, field: str) -> int:
    pk = decode_id(global_id, type_name)
    if pk is None:
        # Malformed, another type's or unknown: all read the same, as NOT_FOUND.
        raise NotFound(f"No {type_name.lower()} has this id.", field=field)
    return pk
