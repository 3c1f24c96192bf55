"""Integer scalars serialized as decimal strings, so clients never lose precision.

Registered through `StrawberryConfig.scalar_map`, so the NewTypes stay real types for mypy.
"""

from __future__ import annotations

from typing import NewType

import strawberry
from strawberry.types.scalar import ScalarDefinition

Int64 = NewType("Int64", int)
UnsignedInt64 = NewType("UnsignedInt64", int)


def _parse_int64(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise ValueError("expected an integer as a decimal string")
    number = int(value)
    if not -(2**63) <= number < 2**63:
        raise ValueError("integer out of the 64-bit range")
    return number


def _parse_unsigned_int64(value: object) -> int:
    number = _parse_int64(value)
    if number < 0:
        raise ValueError("expected a non-negative integer")
    return number


SCALAR_MAP: dict[object, ScalarDefinition] = {
    Int64: strawberry.scalar(
        name="Int64",
        description=(
            'Integer that may exceed 2^31 either way, serialized as a decimal string, e.g. "-1250".'
        ),
        serialize=str,
        parse_value=_parse_int64,
    ),
    UnsignedInt64: strawberry.scalar(
        name="UnsignedInt64",
        description=(
            "Non-negative integer that may exceed 2^31, serialized as a decimal string "
            "(as Shopify does)."
        ),
        serialize=str,
        parse_value=_parse_unsigned_int64,
    ),
}
