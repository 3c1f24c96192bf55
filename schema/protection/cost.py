"""Query analysis before execution: depth, aliases and calculated cost.

Cost, in the spirit of Shopify's and Saleor's: every object returned costs 1, scalars and
enums cost 0; a connection multiplies what is under `edges` by `first` (default 50); a list
of objects multiplies its children by its expected size; each mutation costs a fixed amount
whatever it selects, plus, for a mutation taking a batch, a point per few items of it.
Fragments on an abstract type are all counted (an upper bound).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

import orjson
from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNamedType,
    GraphQLObjectType,
    GraphQLResolveInfo,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    Undefined,
    get_named_type,
    get_nullable_type,
    is_leaf_type,
    value_from_ast_untyped,
)
from graphql.execution.values import VariableValues

from schema.protection.bounded_cache import ByteBoundedLru, digest

DEFAULT_PAGE_SIZE = 50
MUTATION_COST = 10
MINIMUM_COST = 1
# Mutations whose work grows with a list in their input: (the list, items per point). A
# 1,000-event activity report costs 510, about what 25 uncached dashboards cost in CPU. Every
# item counts, also past the most a call takes: checking them is work before any refusal.
BATCH_MUTATIONS = {"recordLicenseActivity": ("events", 2)}
# Expected sizes of plain lists: a company has at most two contracts, a contract three pools...
LIST_SIZES = {
    "contracts": 2,
    "licensePools": 3,
    "prices": 3,
    "licenses": 2,
    "lines": 2,
}
# Plain lists with a `first` argument: they multiply by it, 50 when not given.
PAGED_LISTS = {"documents"}
INTROSPECTION_ROOTS = {"__schema": "__Schema", "__type": "__Type"}


@dataclass
class Analysis:
    depth: int = 0
    aliases: int = 0
    cost: int = 0
    root_fields: list[str] = field(default_factory=list)


class _Walker:
    def __init__(
        self,
        schema: GraphQLSchema,
        fragments: dict[str, FragmentDefinitionNode],
        variables: dict[str, Any],
    ) -> None:
        self.schema = schema
        self.fragments = fragments
        self.variables = variables
        self.analysis = Analysis()
        # Introspection nests `ofType` deeply by design; GRAPHQL_INTROSPECTION governs it.
        self.in_introspection = False

    def _argument(self, node: FieldNode, name: str) -> Any:
        for argument in node.arguments or ():
            if argument.name.value == name:
                value = value_from_ast_untyped(argument.value, self.variables)
                return None if value is Undefined else value
        return None

    def mutation_cost(self, node: FieldNode) -> int:
        batch = BATCH_MUTATIONS.get(node.name.value)
        if batch is None:
            return MUTATION_COST
        name, per_point = batch
        given = self._argument(node, "input")
        items = given.get(name) if isinstance(given, dict) else None
        counted = len(items) if isinstance(items, list) else 0
        return MUTATION_COST + -(-counted // per_point)

    def _multiplier(self, node: FieldNode, returns: Any) -> int:
        name = get_named_type(returns).name
        if name.endswith("Connection"):
            return 1
        if node.name.value == "nodes":
            ids = self._argument(node, "ids")
            return len(ids) if isinstance(ids, list) else 1
        if isinstance(get_nullable_type(returns), GraphQLList):
            if node.name.value in PAGED_LISTS:
                first = self._argument(node, "first")
                return first if isinstance(first, int) and first >= 0 else DEFAULT_PAGE_SIZE
            return LIST_SIZES.get(node.name.value, 1)
        return 1

    def selections(
        self,
        selection_set: SelectionSetNode | None,
        parent: GraphQLNamedType,
        depth: int,
        page_size: int = 1,
    ) -> int:
        """Cost of a selection set on `parent`; `page_size` multiplies a connection's edges."""
        if selection_set is None:
            return 0
        cost = 0
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                cost += self.field(selection, parent, depth, page_size)
            elif isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                target = self.schema.get_type(condition.name.value) if condition else parent
                cost += self.selections(selection.selection_set, target or parent, depth, page_size)
            elif isinstance(selection, FragmentSpreadNode):
                fragment = self.fragments.get(selection.name.value)
                if fragment is not None:
                    target = self.schema.get_type(fragment.type_condition.name.value) or parent
                    cost += self.selections(fragment.selection_set, target, depth, page_size)
        return cost

    def field(self, node: FieldNode, parent: GraphQLNamedType, depth: int, page_size: int) -> int:
        if not self.in_introspection:
            self.analysis.depth = max(self.analysis.depth, depth)
        if node.alias is not None:
            self.analysis.aliases += 1
        name = node.name.value
        if name in INTROSPECTION_ROOTS:
            introspected = self.schema.get_type(INTROSPECTION_ROOTS[name])
            assert introspected is not None
            self.in_introspection = True
            try:
                return 1 + self.selections(node.selection_set, introspected, depth + 1)
            finally:
                self.in_introspection = False
        if (
            not isinstance(parent, (GraphQLObjectType, GraphQLInterfaceType))
            or name not in parent.fields
        ):
            return 0  # __typename, or a field validation has already refused
        returns = parent.fields[name].type
        named = get_named_type(returns)
        if is_leaf_type(named):
            return 0
        first = None
        if named.name.endswith("Connection"):
            first = self._argument(node, "first")
            first = first if isinstance(first, int) and first >= 0 else DEFAULT_PAGE_SIZE
        children = self.selections(node.selection_set, named, depth + 1, page_size=first or 1)
        count = page_size if name == "edges" else self._multiplier(node, returns)
        return count * (1 + children)


def _chosen_operation(
    document: DocumentNode, operation_name: str | None
) -> OperationDefinitionNode | None:
    """The operation the request runs: the one named, or the first."""
    for definition in document.definitions:
        if isinstance(definition, OperationDefinitionNode) and operation_name in (
            None,
            definition.name and definition.name.value,
        ):
            return definition
    return None


def _with_defaults(operation: OperationDefinitionNode, variables: dict[str, Any]) -> dict[str, Any]:
    """The variables as execution will see them: a default stands in for a missing one (or a
    list given as a default would cost nothing)."""
    defaults = {
        definition.variable.name.value: value_from_ast_untyped(definition.default_value)
        for definition in operation.variable_definitions or ()
        if definition.default_value is not None
    }
    return defaults | variables


def analyze(
    schema: GraphQLSchema,
    document: DocumentNode,
    operation_name: str | None,
    variables: dict[str, Any] | None,
) -> Analysis:
    """Depth, aliases and cost of the operation the request runs."""
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    operation = _chosen_operation(document, operation_name)
    if operation is None:
        return Analysis()
    walker = _Walker(schema, fragments, _with_defaults(operation, variables or {}))
    root = schema.get_root_type(operation.operation)
    assert root is not None
    cost = walker.selections(operation.selection_set, root, depth=1)
    roots = [s for s in operation.selection_set.selections if isinstance(s, FieldNode)]
    walker.analysis.root_fields = [field.name.value for field in roots]
    if operation.operation == OperationType.MUTATION:
        cost = sum(walker.mutation_cost(field) for field in roots)
    # Every request is work: `{ __typename }` costs 1, so throttling sees a flood of them.
    walker.analysis.cost = max(cost, MINIMUM_COST)
    return walker.analysis


def running_cost(info: GraphQLResolveInfo[Any]) -> int:
    """The cost of the operation a resolver runs in: a subscription's, paid for each event."""
    document = DocumentNode(definitions=(info.operation, *info.fragments.values()))
    # graphql-core gives the coerced values, or (when resolving a subscription's source) them
    # as a plain dict.
    variables = info.variable_values
    coerced = variables.coerced if isinstance(variables, VariableValues) else dict(variables)
    return analyze(info.schema, document, None, coerced).cost


def objects_in(data: Any) -> int:
    """Objects in an answer: what actualQueryCost counts."""
    # Runs over every answer: a loop that skips the scalars (most values) without a call.
    count = 0
    pending = [data]
    while pending:
        value = pending.pop()
        if type(value) is dict:
            count += 1
            pending.extend(value.values())
        elif type(value) is list:
            pending.extend(value)
    return count


def actual_cost(data: Any) -> int:
    """The objects a query returned; the root object itself is free, any answer costs 1."""
    return max(objects_in(data) - 1, MINIMUM_COST)


_NO_VARIABLES = digest("null")


def variables_digest(variables: dict[str, Any] | None) -> str:
    if not variables:  # most requests: no variables at all
        return _NO_VARIABLES
    # orjson: a 1,000-event report's variables serialize in a tenth of json's time.
    canonical = orjson.dumps(variables, option=orjson.OPT_SORT_KEYS, default=str)
    return hashlib.sha256(canonical).hexdigest()


# An analysis is a few numbers and the root field names.
_analyses: ByteBoundedLru[tuple[int, str, str, str], Analysis] = ByteBoundedLru(
    max_bytes=4 * 1024 * 1024,
    size_of=lambda found: sum(64 + len(name) for name in found.root_fields),
)


def _is_mutation(document: DocumentNode, operation_name: str | None) -> bool:
    operation = _chosen_operation(document, operation_name)
    return operation is not None and operation.operation == OperationType.MUTATION


def analyze_cached(
    schema: GraphQLSchema,
    document: DocumentNode,
    query_digest: str,
    operation_name: str | None,
    variables: dict[str, Any] | None,
) -> Analysis:
    """`analyze`, remembered per document, operation and variables (clients repeat them).

    Not mutations: their analysis is a walk of a small selection, while their variables (a
    1,000-event report) cost more to digest than that walk, and rarely repeat.
    """
    if _is_mutation(document, operation_name):
        return analyze(schema, document, operation_name, variables)
    # The operation name goes in as a digest too: a client may send a name of any length.
    key = (id(schema), query_digest, digest(operation_name or ""), variables_digest(variables))
    found = _analyses.get(key)
    if found is None:
        found = analyze(schema, document, operation_name, variables)
        _analyses.put(key, found)
    return found
