"""Opaque global ids: base64 of 'TypeName:pk'."""

from __future__ import annotations

import base64
import binascii

from services.global_ids import encode_id

__all__ = ["decode_any_id", "decode_id", "encode_id"]


def decode_any_id(global_id: str) -> tuple[str, int] | None:
    """(type name, pk), or None for anything that is not one of our ids."""
    try:
        raw = base64.b64decode(global_id.encode(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    type_name, _, pk = raw.partition(":")
    if not type_name or not pk.isdigit() or len(pk) > 18:
        return None
    return type_name, int(pk)


def decode_id(global_id: str, expected_type: str) -> int | None:
    decoded = decode_any_id(global_id)
    if decoded is None or decoded[0] != expected_type:
        return None
    return decoded[1]
