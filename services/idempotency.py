"""Idempotency keys: a repeated request with the same key answers with what the first made.

Keys are scoped to the company; a key reused for a different request is refused. Any model with
`company_id`, `idempotency_key` and `request_fingerprint` (and a unique key on the first two)
takes part: purchases and renewal changes.
"""

from __future__ import annotations

from typing import TypeVar

from models.purchase import LicensePurchase
from models.renewal import RenewalChange
from services.errors import IdempotencyKeyReused, InvalidIdempotencyKey

MAX_KEY_LENGTH = 200


K = TypeVar("K", LicensePurchase, RenewalChange)


def clean_key(idempotency_key: str | None) -> str | None:
    """The key without surrounding spaces; 1 to MAX_KEY_LENGTH characters, or none at all."""
    key = idempotency_key.strip() if idempotency_key else None
    if idempotency_key is not None and not 1 <= len(key or "") <= MAX_KEY_LENGTH:
        raise InvalidIdempotencyKey(
            f"An idempotency key has 1 to {MAX_KEY_LENGTH} characters.", field="idempotencyKey"
        )
    return key


async def earlier(
    model: type[K], *, company_id: int, key: str, fingerprint: str, what: str
) -> K | None:
    """The `what` (a purchase, a renewal change) this key already made, if the request is the
    same one."""
    existing = await model.filter(company_id=company_id, idempotency_key=key).first()
    if existing is not None and existing.request_fingerprint != fingerprint:
        raise IdempotencyKeyReused(
            f"This idempotency key was already used for a different {what}. Use a new key "
            f"for a new {what}.",
            field="idempotencyKey",
        )
    return existing
