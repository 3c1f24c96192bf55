"""Opaque global ids, as clients see them: base64 of 'TypeName:pk'.

The domain writes them into webhook bodies; the GraphQL layer decodes what clients send back.
"""

from __future__ import annotations

import base64


def encode_id(type_name: str, pk: int) -> str:
    return base64.b64encode(f"{type_name}:{pk}".encode()).decode()
