"""What a client selected below a field: read only what the answer needs.

This walks graphql-core's syntax tree of the request. Strawberry's `info.selected_fields`
would convert the whole subtree below the field (directives, arguments, every nested field)
into its own node types first, a tenth of an uncached dashboard's time; here only the names on
the path are looked at. `@skip`/`@include` are not evaluated: a skipped field counts as selected,
which reads a little more, never less.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import strawberry
from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    InlineFragmentNode,
    SelectionNode,
)


def _fields_named(
    selections: Iterable[SelectionNode],
    name: str,
    fragments: Mapping[str, FragmentDefinitionNode],
) -> list[FieldNode]:
    """The fields called `name` among these selections, fragments included."""
    found: list[FieldNode] = []
    for selection in selections:
        if isinstance(selection, FieldNode):
            if selection.name.value == name:
                found.append(selection)
        elif isinstance(selection, InlineFragmentNode):
            found += _fields_named(selection.selection_set.selections, name, fragments)
        elif isinstance(selection, FragmentSpreadNode):
            fragment = fragments.get(selection.name.value)
            if fragment is not None:
                found += _fields_named(fragment.selection_set.selections, name, fragments)
    return found


def _below(fields: Iterable[FieldNode]) -> list[SelectionNode]:
    return [
        selection
        for field in fields
        if field.selection_set is not None
        for selection in field.selection_set.selections
    ]


def selects(info: strawberry.Info, *path: str) -> bool:
    """Whether the field being resolved selects `path` below it (edges, node, licenses...)."""
    # Strawberry exposes the resolver's field nodes and fragments only on graphql-core's info.
    raw = info._raw_info
    level = _below(raw.field_nodes)
    for name in path:
        fields = _fields_named(level, name, raw.fragments)
        if not fields:
            return False
        level = _below(fields)
    return True


def selects_any(info: strawberry.Info, *names: str) -> bool:
    """Whether the field being resolved selects any of these fields right below it."""
    return any(selects(info, name) for name in names)
