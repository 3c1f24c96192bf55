"""Connection arguments and opaque keyset cursors, shared by every connection."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from resolvers.errors import bad_request

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 100


def page_size(first: int | None) -> int:
    if first is None:
        return DEFAULT_PAGE_SIZE
    if not 1 <= first <= MAX_PAGE_SIZE:
        raise bad_request(f"`first` must be between 1 and {MAX_PAGE_SIZE}, got {first}.")
    return first


def encode_cursor(*key: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(list(key)).encode()).decode()


def id_cursor(row_id: int) -> str:
    """The cursor of a row in a connection keyed by id alone."""
    return encode_cursor(row_id)


def cursor_id(after: str | None) -> int | None:
    """The id an `after` of such a connection names (None: from the start)."""
    return decode_cursor(after, int)[0] if after else None


def decode_cursor(cursor: str, *types: type) -> tuple[Any, ...]:
    """The key a cursor of this connection carries, checked against the expected types."""
    try:
        key = json.loads(base64.urlsafe_b64decode(cursor.encode()))
    except (binascii.Error, ValueError, TypeError):
        key = None
    if not isinstance(key, list) or len(key) != len(types):
        raise bad_request("`after` is not a cursor from this connection.")
    if not all(isinstance(part, kind) for part, kind in zip(key, types, strict=True)):
        raise bad_request("`after` is not a cursor from this connection.")
    return tuple(key)
