"""The read API over HTTP: every field of the dashboard, as a client asks for it."""

from __future__ import annotations

import base64

import httpx

from bench.sql_count import count_sql
from resolvers.ids import encode_id
from tests.conftest import Acme, gql

DASHBOARD = """
query Dashboard {
  subscription {
    id
    company { name email taxRateBasisPoints currency }
    usage { usedBytes allowanceBytes percentUsed }
    contracts {
      id product startsOn expiresOn
      plan {
        name storageAllowancePerLicenseBytes
        prices { kind period unitAmount { amountMinor currency formatted } }
      }
      licensePools { id kind total assigned available pending deletable
                     price { kind unitAmount { formatted } } }
      usage { usedBytes allowanceBytes percentUsed }
      documents { id title signedAt downloadUrl }
    }
  }
}
"""

GB = 1024**3


async def test_dashboard_shows_both_contracts_as_loaded(
    client: httpx.AsyncClient, acme: Acme
) -> None:
    body = await gql(client, DASHBOARD, token=acme.tokens["owner"])
    assert "errors" not in body
    subscription = body["data"]["subscription"]
    assert subscription["company"] == {
        "name": "Acme Heating Ltd",
        "email": "accounts@acme-heating.example",
        "taxRateBasisPoints": 2000,
        "currency": "GBP",
    }
    jobs, sales = subscription["contracts"]
    assert (jobs["product"], sales["product"]) == ("JOBS", "SALES")
    assert (jobs["startsOn"], jobs["expiresOn"]) == ("2026-01-01", "2027-12-31")
    assert jobs["plan"]["name"] == "Customer Journey Plan"
    assert jobs["plan"]["storageAllowancePerLicenseBytes"] == str(20 * GB)
    assert jobs["plan"]["prices"] == [
        {
            "kind": "CONTRACTED",
            "period": "MONTH",
            "unitAmount": {"amountMinor": "4500", "currency": "GBP", "formatted": "£45.00"},
        },
        {
            "kind": "MONTHLY",
            "period": "MONTH",
            "unitAmount": {"amountMinor": "5500", "currency": "GBP", "formatted": "£55.00"},
        },
        {
            "kind": "DAILY",
            "period": "DAY",
            "unitAmount": {"amountMinor": "400", "currency": "GBP", "formatted": "£4.00"},
        },
    ]
    pools = [
        (p["kind"], p["total"], p["assigned"], p["available"], p["pending"], p["deletable"])
        for p in jobs["licensePools"]
    ]
    # Olivia and Frank hold CONTRACTED, Oscar MONTHLY, Erin DAILY.
    assert pools == [
        ("CONTRACTED", 10, 2, 8, 0, False),
        ("MONTHLY", 3, 1, 2, 0, True),
        ("DAILY", 2, 1, 1, 0, True),
    ]
    assert [p["price"]["unitAmount"]["formatted"] for p in jobs["licensePools"]] == [
        "£45.00",
        "£55.00",
        "£4.00",
    ]
    # 90 GiB used of 20 GiB x (10 + 3) = 260 GiB: 34.6%.
    assert jobs["usage"] == {
        "usedBytes": str(90 * GB),
        "allowanceBytes": str(260 * GB),
        "percentUsed": 34.6,
    }
    # 1 GiB of 10 GiB x 2 = 20 GiB: 5.0%.
    assert sales["usage"] == {
        "usedBytes": str(GB),
        "allowanceBytes": str(20 * GB),
        "percentUsed": 5.0,
    }
    assert subscription["usage"] == {
        "usedBytes": str(91 * GB),
        "allowanceBytes": str(280 * GB),
        "percentUsed": 32.5,
    }
    [master] = jobs["documents"]
    assert (
        master["title"]
        == "Master agreement (Jobs, Customer Journey Plan, 2026-01-01 to 2027-12-31)"
    )
    assert master["signedAt"] == "2026-01-01T00:00:00+00:00"
    assert master["downloadUrl"].startswith("http://licensing.test/documents/")


async def test_contract_by_product_and_pool_by_kind(client: httpx.AsyncClient, acme: Acme) -> None:
    query = """{ subscription {
        sales: contract(product: SALES) { product licensePool(kind: CONTRACTED) { total assigned } }
        jobs: contract(product: JOBS) { licensePool(kind: DAILY) { kind available } } } }"""
    body = await gql(client, query, token=acme.tokens["finance"])
    assert body["data"]["subscription"] == {
        "sales": {"product": "SALES", "licensePool": {"total": 2, "assigned": 1}},
        "jobs": {"licensePool": {"kind": "DAILY", "available": 1}},
    }


async def test_viewer_with_licenses_and_company(client: httpx.AsyncClient, acme: Acme) -> None:
    query = """{ viewer { id name email role company { name }
                 licenses { product kind assignedAt } } }"""
    body = await gql(client, query, token=acme.tokens["owner"])
    viewer = body["data"]["viewer"]
    assert base64.b64decode(viewer["id"]).decode().startswith("User:")
    assert (viewer["name"], viewer["role"]) == ("Olivia Owner", "OWNER_MANAGER")
    assert viewer["company"] == {"name": "Acme Heating Ltd"}
    assert [(lic["product"], lic["kind"]) for lic in viewer["licenses"]] == [
        ("JOBS", "CONTRACTED"),
        ("SALES", "CONTRACTED"),
    ]
    assert viewer["licenses"][0]["assignedAt"].startswith("2026-11-26T")


async def test_every_role_may_read_viewer(client: httpx.AsyncClient, acme: Acme) -> None:
    for role in ("office", "engineer"):
        body = await gql(client, "{ viewer { role licenses { kind } } }", token=acme.tokens[role])
        assert "errors" not in body


USERS = """
query Users($first: Int, $after: String) {
  viewer { company { users(first: $first, after: $after) {
    totalCount
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    edges { cursor node { name role licenses { product kind } } }
  } } }
}
"""


async def test_users_connection_pages_by_name(client: httpx.AsyncClient, acme: Acme) -> None:
    token = acme.tokens["owner"]
    first = (await gql(client, USERS, {"first": 3}, token=token))["data"]["viewer"]["company"]
    users = first["users"]
    assert users["totalCount"] == 4
    assert [edge["node"]["name"] for edge in users["edges"]] == [
        "Erin Engineer",
        "Frank Finance",
        "Olivia Owner",
    ]
    assert users["pageInfo"]["hasNextPage"] is True
    assert users["pageInfo"]["hasPreviousPage"] is False
    assert users["pageInfo"]["endCursor"] == users["edges"][-1]["cursor"]
    assert users["edges"][0]["node"]["licenses"] == [{"product": "JOBS", "kind": "DAILY"}]

    after = users["pageInfo"]["endCursor"]
    second = await gql(client, USERS, {"first": 3, "after": after}, token=token)
    rest = second["data"]["viewer"]["company"]["users"]
    assert [edge["node"]["name"] for edge in rest["edges"]] == ["Oscar Office"]
    assert rest["pageInfo"]["hasNextPage"] is False
    assert rest["pageInfo"]["hasPreviousPage"] is True


async def test_users_connection_defaults_and_limits(client: httpx.AsyncClient, acme: Acme) -> None:
    token = acme.tokens["owner"]
    default = await gql(client, USERS, token=token)
    assert len(default["data"]["viewer"]["company"]["users"]["edges"]) == 4

    too_many = await gql(client, USERS, {"first": 101}, token=token)
    assert too_many["data"] is None
    assert "between 1 and 100" in too_many["errors"][0]["message"]
    assert too_many["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"

    bad_cursor = await gql(client, USERS, {"after": "not-a-cursor"}, token=token)
    assert bad_cursor["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_node_refetches_each_type(client: httpx.AsyncClient, acme: Acme) -> None:
    token = acme.tokens["owner"]
    ids = await gql(
        client,
        """{ viewer { id company { id } }
             subscription { id contracts { id licensePools { id } documents { id } } } }""",
        token=token,
    )
    data = ids["data"]
    contract = data["subscription"]["contracts"][0]
    wanted = [
        data["viewer"]["id"],
        data["viewer"]["company"]["id"],
        data["subscription"]["id"],
        contract["id"],
        contract["licensePools"][1]["id"],
        contract["documents"][0]["id"],
    ]
    query = """query($ids: [ID!]!) { nodes(ids: $ids) { __typename id
        ... on User { name } ... on Company { name } ... on Contract { product }
        ... on LicensePool { kind total } ... on ContractDocument { title }
        ... on Subscription { company { name } } } }"""
    body = await gql(client, query, {"ids": wanted}, token=token)
    nodes = body["data"]["nodes"]
    assert [node["__typename"] for node in nodes] == [
        "User",
        "Company",
        "Subscription",
        "Contract",
        "LicensePool",
        "ContractDocument",
    ]
    assert [node["id"] for node in nodes] == wanted
    assert nodes[4]["kind"] == "MONTHLY"

    single = await gql(
        client,
        "query($id: ID!) { node(id: $id) { id ... on Contract { product } } }",
        {"id": contract["id"]},
        token=token,
    )
    assert single["data"]["node"] == {"id": contract["id"], "product": "JOBS"}


async def test_unknown_and_malformed_ids_read_as_null(
    client: httpx.AsyncClient, acme: Acme
) -> None:
    unknown = base64.b64encode(b"Contract:999999").decode()
    body = await gql(
        client,
        "query($ids: [ID!]!) { nodes(ids: $ids) { id } }",
        {"ids": [unknown, "!!!", base64.b64encode(b"Nope:1").decode()]},
        token=acme.tokens["owner"],
    )
    assert body == {"data": {"nodes": [None, None, None]}}


async def test_nodes_loads_one_query_per_type_whatever_the_number_of_ids(
    client: httpx.AsyncClient, acme: Acme
) -> None:
    token = acme.tokens["owner"]
    users = [encode_id("User", pk) for pk in (1, 2, 3, 4)]
    pools = [encode_id("LicensePool", pk) for pk in range(1, 7)]
    query = "query($ids: [ID!]!) { nodes(ids: $ids) { id } }"
    await gql(client, "{ viewer { name } }", token=token)  # the token's first use writes more
    with count_sql() as few:
        small = await gql(client, query, {"ids": users[:1] + pools[:1]}, token=token)
    with count_sql() as many:
        large = await gql(client, query, {"ids": users + pools}, token=token)
    assert [node["id"] for node in small["data"]["nodes"]] == users[:1] + pools[:1]
    assert [node["id"] for node in large["data"]["nodes"]] == users + pools
    # The token lookup, the rate limit, one query for the users, one for the pools and one for
    # their contracts (a pool's price is its contract's plan's), and the response cache's look
    # at the next purchase to lapse.
    assert few.statements == many.statements == 6
