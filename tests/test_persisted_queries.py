"""Automatic persisted queries, and the switches for production."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from typing import Any

import httpx

from services.persisted_queries import register
from tests.conftest import Acme, make_settings, serve

QUERY = "query Names { viewer { name company { name } } }"
DIGEST = hashlib.sha256(QUERY.encode()).hexdigest()


def persisted(digest: str = DIGEST) -> dict[str, Any]:
    return {"persistedQuery": {"version": 1, "sha256Hash": digest}}


async def post(client: httpx.AsyncClient, token: str, **payload: Any) -> dict[str, Any]:
    response = await client.post(
        "/graphql", json=payload, headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def code(body: dict[str, Any]) -> str:
    found: str = body["errors"][0]["extensions"]["code"]
    return found


async def test_round_trip_register_then_hash_only(client: httpx.AsyncClient, acme: Acme) -> None:
    token = acme.tokens["owner"]
    missing = await post(client, token, extensions=persisted())
    assert code(missing) == "PERSISTED_QUERY_NOT_FOUND"
    assert missing["errors"][0]["message"] == "PersistedQueryNotFound"
    registered = await post(client, token, query=QUERY, extensions=persisted())
    assert registered["data"]["viewer"]["name"] == "Olivia Owner"
    by_hash = await post(client, token, extensions=persisted())
    assert by_hash["data"] == registered["data"]

    params = {"extensions": json.dumps(persisted()), "operationName": "Names"}
    cached = await client.get(
        "/graphql", params=params, headers={"Authorization": f"Bearer {token}"}
    )
    assert cached.status_code == 200
    assert cached.json()["data"] == registered["data"]


async def test_a_wrong_hash_is_refused(client: httpx.AsyncClient, acme: Acme) -> None:
    token = acme.tokens["owner"]
    wrong = await post(client, token, query=QUERY, extensions=persisted("0" * 64))
    assert code(wrong) == "PERSISTED_QUERY_HASH_MISMATCH"
    assert wrong["data"] is None
    malformed = await post(client, token, query=QUERY, extensions=persisted("not-a-hash"))
    assert code(malformed) == "PERSISTED_QUERY_INVALID"
    # Nothing was registered under either hash.
    assert code(await post(client, token, extensions=persisted("0" * 64))) == (
        "PERSISTED_QUERY_NOT_FOUND"
    )


async def test_mutations_are_not_run_over_get(client: httpx.AsyncClient, acme: Acme) -> None:
    mutation = 'mutation { deleteUser(input: {userId: "x"}) { userErrors { code } } }'
    response = await client.get(
        "/graphql",
        params={"query": mutation},
        headers={"Authorization": f"Bearer {acme.tokens['owner']}"},
    )
    assert response.status_code == 400
    assert "mutation" in response.text.lower()


async def test_persisted_only_mode(
    database_url: str, smtp_port: int, acme_tokens_offline: dict[str, str]
) -> None:
    strict = dataclasses.replace(
        make_settings(database_url, smtp_port), persisted_queries_only=True
    )
    token = acme_tokens_offline["owner"]
    async with serve(strict) as client:
        assert code(await post(client, token, query=QUERY)) == "PERSISTED_QUERY_REQUIRED"
        unregistered = await post(client, token, query=QUERY, extensions=persisted())
        assert code(unregistered) == "PERSISTED_QUERY_NOT_ALLOWED"
        await register(query=QUERY, now=strict.clock.now())
        ok = await post(client, token, extensions=persisted())
        assert ok["data"]["viewer"]["name"] == "Olivia Owner"


async def test_introspection_and_graphiql_can_be_turned_off(
    database_url: str, smtp_port: int, acme_tokens_offline: dict[str, str]
) -> None:
    closed = dataclasses.replace(
        make_settings(database_url, smtp_port), graphql_introspection=False, graphiql=False
    )
    async with serve(closed) as client:
        body = await post(
            client, acme_tokens_offline["owner"], query="{ __schema { types { name } } }"
        )
        assert body["data"] is None
        assert code(body) == "GRAPHQL_VALIDATION_FAILED"
        assert "introspection" in body["errors"][0]["message"].lower()
        page = await client.get("/graphql", headers={"Accept": "text/html"})
        assert page.status_code == 404


async def test_healthy_after_huge_and_deep_queries(client: httpx.AsyncClient, acme: Acme) -> None:
    token = acme.tokens["owner"]
    aliases = "{ " + " ".join(f"a{n}: viewer {{ name }}" for n in range(5000)) + " }"
    deep = "{ " + "viewer { company { " * 150 + "name" + " } }" * 150 + " }"  # 300 levels
    for hostile, refusal in ((aliases, "TOO_MANY_TOKENS"), (deep, "QUERY_TOO_DEEP")):
        body = await post(client, token, query=hostile)
        assert body["data"] is None
        assert code(body) == refusal
    assert (await client.get("/healthz")).status_code == 200
    normal = await post(client, token, query="{ viewer { name } }")
    assert normal["data"] == {"viewer": {"name": "Olivia Owner"}}
