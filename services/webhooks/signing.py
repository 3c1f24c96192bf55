"""Signatures as the Standard Webhooks specification makes them, so partners verify with a
stock library: `v1,` and the base64 HMAC-SHA256 of "id.timestamp.body" under the secret's
decoded bytes."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

SECRET_PREFIX = "whsec_"  # noqa: S105 (the prefix the specification gives every secret)
SECRET_BYTES = 32


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def new_event_id() -> str:
    """The webhook-id: unique, and free of the dots that separate the signed parts."""
    return "msg_" + secrets.token_urlsafe(18)


def sign(secret: str, *, event_id: str, timestamp: int, body: bytes) -> str:
    key = base64.b64decode(secret.removeprefix(SECRET_PREFIX))
    signed = f"{event_id}.{timestamp}.".encode() + body
    digest = hmac.new(key, signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def signature_header(
    signing_secrets: list[str], *, event_id: str, timestamp: int, body: bytes
) -> str:
    """One `v1,` signature per secret, space-separated (two while a rotated secret overlaps)."""
    return " ".join(
        sign(secret, event_id=event_id, timestamp=timestamp, body=body)
        for secret in signing_secrets
    )
