"""What a client selected below a field: read only what the answer needs."""

from __future__ import annotations

from collections.abc import Iterable

import strawberry
from strawberry.types.nodes import FragmentSpread, InlineFragment, Selection


def _fields_named(selections: Iterable[Selection], name: str) -> list[Selection]:
    """The fields called `name` among these selections, fragments included."""
    found: list[Selection] = []
    for selection in selections:
        if isinstance(selection, (FragmentSpread, InlineFragment)):
            found += _fields_named(selection.selections, name)
        elif selection.name == name:
            found.append(selection)
    return found


def selects(info: strawberry.Info, *path: str) -> bool:
    """Whether the field being resolved selects `path` below it (edges, node, licenses...)."""
    level: list[Selection] = []
    for field in info.selected_fields:
        level += field.selections
    for name in path:
        next_level: list[Selection] = []
        for field in _fields_named(level, name):
            next_level += field.selections
        if not _fields_named(level, name):
            return False
        level = next_level
    return True


def selects_any(info: strawberry.Info, *names: str) -> bool:
    """Whether the field being resolved selects any of these fields right below it."""
    return any(selects(info, name) for name in names)
