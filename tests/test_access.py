"""Who may read what: each role, no token, bad tokens, and another company's ids."""

from __future__ import annotations

import base64
import datetime as dt

import httpx
import pytest

from models.token import ApiToken
from services.protection.tokens import hash_token
from tests.conftest import Acme, error_codes, gql

SUBSCRIPTION = "{ subscription { contracts { product } } }"


@pytest.mark.parametrize(
    ("role", "allowed"),
    [("owner", True), ("finance", True), ("office", False), ("engineer", False)],
)
async def test_only_finance_roles_read_the_subscription(
    client: httpx.AsyncClient, acme: Acme, role: str, allowed: bool
) -> None:
    body = await gql(client, SUBSCRIPTION, token=acme.tokens[role])
    if allowed:
        assert body["data"]["subscription"]["contracts"] == [
            {"product": "JOBS"},
            {"product": "SALES"},
        ]
    else:
        assert body["data"] is None
        assert error_codes(body) == ["FORBIDDEN"]
        assert "owner/manager or financial office staff" in body["errors"][0]["message"]


async def test_other_roles_cannot_list_users(client: httpx.AsyncClient, acme: Acme) -> None:
    body = await gql(
        client, "{ viewer { company { users { totalCount } } } }", token=acme.tokens["engineer"]
    )
    assert error_codes(body) == ["FORBIDDEN"]


async def test_no_token_is_unauthenticated(client: httpx.AsyncClient, acme: Acme) -> None:
    for query in ("{ viewer { name } }", SUBSCRIPTION, '{ node(id: "VXNlcjox") { id } }'):
        body = await gql(client, query)
        assert error_codes(body) == ["UNAUTHENTICATED"]
        assert "Authorization: Bearer" in body["errors"][0]["message"]


async def test_bad_and_revoked_tokens_are_unauthenticated(
    client: httpx.AsyncClient, acme: Acme
) -> None:
    assert error_codes(await gql(client, "{ viewer { name } }", token="lic_wrong")) == [
        "UNAUTHENTICATED"
    ]
    response = await client.post(
        "/graphql", json={"query": "{ viewer { name } }"}, headers={"Authorization": "Basic abc"}
    )
    assert response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"

    token = acme.tokens["owner"]
    await ApiToken.filter(token_hash=hash_token(token)).update(revoked_at=dt.datetime.now(dt.UTC))
    body = await gql(client, "{ viewer { name } }", token=token)
    assert error_codes(body) == ["UNAUTHENTICATED"]


async def test_tokens_are_stored_only_as_hashes(acme: Acme) -> None:
    stored = await ApiToken.all().values_list("token_hash", flat=True)
    assert set(stored) == {hash_token(token) for token in acme.tokens.values()}
    assert not set(stored) & set(acme.tokens.values())


async def _ids_of(client: httpx.AsyncClient, token: str) -> list[str]:
    body = await gql(
        client,
        """{ viewer { id company { id } } subscription { id contracts { id
             licensePools { id } documents { id } } } }""",
        token=token,
    )
    data = body["data"]
    contract = data["subscription"]["contracts"][0]
    return [
        data["viewer"]["id"],
        data["viewer"]["company"]["id"],
        data["subscription"]["id"],
        contract["id"],
        contract["licensePools"][0]["id"],
        contract["documents"][0]["id"],
    ]


async def test_another_companys_ids_read_like_unknown_ids(
    client: httpx.AsyncClient, acme: Acme, other_company: str
) -> None:
    foreign = await _ids_of(client, other_company)
    own = await _ids_of(client, acme.tokens["owner"])
    assert not set(foreign) & set(own)
    query = "query($ids: [ID!]!) { nodes(ids: $ids) { id } }"
    body = await gql(client, query, {"ids": foreign}, token=acme.tokens["owner"])
    assert body == {"data": {"nodes": [None] * len(foreign)}}
    for global_id in foreign:
        single = await gql(
            client,
            "query($id: ID!) { node(id: $id) { id } }",
            {"id": global_id},
            token=acme.tokens["owner"],
        )
        assert single == {"data": {"node": None}}
    # An id that exists nowhere reads the same.
    unknown = base64.b64encode(b"Contract:424242").decode()
    body = await gql(client, query, {"ids": [unknown]}, token=acme.tokens["owner"])
    assert body == {"data": {"nodes": [None]}}


async def test_own_objects_by_node_follow_the_role_rules(
    client: httpx.AsyncClient, acme: Acme
) -> None:
    own = await _ids_of(client, acme.tokens["owner"])
    user_id, company_id, subscription_id, contract_id, pool_id, document_id = own
    engineer = acme.tokens["engineer"]
    query = "query($id: ID!) { node(id: $id) { id } }"
    for forbidden_id in (subscription_id, contract_id, pool_id, document_id, user_id):
        body = await gql(client, query, {"id": forbidden_id}, token=engineer)
        assert error_codes(body) == ["FORBIDDEN"], forbidden_id
    body = await gql(client, query, {"id": company_id}, token=engineer)
    assert body == {"data": {"node": {"id": company_id}}}
    me = (await gql(client, "{ viewer { id } }", token=engineer))["data"]["viewer"]["id"]
    body = await gql(client, query, {"id": me}, token=engineer)
    assert body == {"data": {"node": {"id": me}}}


async def test_users_list_only_the_viewers_company(
    client: httpx.AsyncClient, acme: Acme, other_company: str
) -> None:
    body = await gql(
        client,
        "{ viewer { company { users { totalCount edges { node { email } } } } } }",
        token=other_company,
    )
    users = body["data"]["viewer"]["company"]["users"]
    assert users["totalCount"] == 1
    assert users["edges"] == [{"node": {"email": "barry@bolt-plumbing.example"}}]


async def test_last_use_of_a_token_is_recorded(client: httpx.AsyncClient, acme: Acme) -> None:
    token = acme.tokens["engineer"]
    assert (await ApiToken.get(token_hash=hash_token(token))).last_used_at is None
    await gql(client, "{ viewer { name } }", token=token)
    used = (await ApiToken.get(token_hash=hash_token(token))).last_used_at
    assert used is not None
    assert used.date() == dt.date(2026, 11, 26)
