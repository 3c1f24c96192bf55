"""Calculated cost of representative documents, against hand-computed values."""

from __future__ import annotations

import pytest
from graphql import get_introspection_query, parse

from schema.api import build_schema
from schema.protection.cost import analyze
from tests.test_read_api import DASHBOARD

SCHEMA = build_schema()._schema

USERS_PAGE = """{ viewer { company { users(first: 100) { totalCount pageInfo { hasNextPage }
  edges { cursor node { name licenses { product kind } } } } } } }"""


def cost(query: str, variables: dict[str, object] | None = None) -> int:
    return analyze(SCHEMA, parse(query), None, variables).cost


def test_the_dashboard_costs_139() -> None:
    # subscription 1 + company 1 + usage 1 + 2 contracts x 68, where a contract is itself 1
    # + plan (1 + 3 prices x (1 + unitAmount 1)) 7 + 3 pools x (1 + price 1 + unitAmount 1) 9
    # + usage 1 + documents: `first`, 50 when not given.
    assert cost(DASHBOARD) == 1 + 1 + 1 + 2 * (1 + 7 + 9 + 1 + 50) == 139
    assert cost(DASHBOARD.replace("documents {", "documents(first: 5) {")) == 3 + 2 * 23


def test_a_page_of_100_users_with_licenses_costs_404() -> None:
    # viewer 1 + company 1 + users 1 + pageInfo 1 + 100 x (edge 1 + node 1 + 2 licenses)
    assert cost(USERS_PAGE) == 4 + 100 * 4 == 404


@pytest.mark.parametrize(("first", "expected"), [(None, 3 + 50), (1, 4), (100, 103)])
def test_connections_multiply_their_edges_by_first(first: int | None, expected: int) -> None:
    query = "query($n: Int) { viewer { company { users(first: $n) { edges { cursor } } } } }"
    assert cost(query, {"n": first} if first is not None else {}) == expected


def test_scalars_are_free_and_mutations_cost_ten_each() -> None:
    assert cost("{ viewer { name email role } }") == 1
    mutation = """mutation { a: unassignLicense(input: {userId: "x", product: JOBS}) {
        user { company { users(first: 100) { edges { node { name } } } } } }
      b: deleteUser(input: {userId: "y"}) { deletedUserId } }"""
    assert cost(mutation) == 20


def test_every_request_costs_at_least_one() -> None:
    # A flood of `{ __typename }` (or of registrations of it) is work the rate limit must see.
    assert cost("{ __typename }") == 1
    assert cost("query { __typename a: __typename }") == 1


def test_fragments_count_like_inline_selections() -> None:
    inline = "{ viewer { company { name } } }"
    spread = "{ viewer { ...V } } fragment V on User { company { name } }"
    assert cost(inline) == cost(spread) == 2
    nodes = 'query { nodes(ids: ["a", "b", "c"]) { ... on Contract { plan { name } } } }'
    assert cost(nodes) == 3 * (1 + 1)


def test_the_standard_introspection_query_is_not_too_deep() -> None:
    # What GraphiQL and code generators send: 15 levels of `ofType`, by design.
    analysis = analyze(SCHEMA, parse(get_introspection_query(descriptions=True)), None, {})
    assert analysis.depth <= 2
    deep = (
        "{ viewer { company { users { edges { node { company { users { totalCount } } } } } } } }"
    )
    assert analyze(SCHEMA, parse(deep), None, {}).depth == 8  # the depth limit still counts
