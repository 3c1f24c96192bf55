"""Automatic persisted queries, and the switches for production."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from typing import Any

import httpx

from models.api import PersistedQuery
from services.protection.persisted_queries import register
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


async def _stored() -> list[str]:
    return sorted(await PersistedQuery.all().values_list("sha256", flat=True))


def _registration(query: str) -> dict[str, Any]:
    return {"query": query, "extensions": persisted(hashlib.sha256(query.encode()).hexdigest())}


async def test_only_authenticated_clients_register_and_only_documents_that_run(
    client: httpx.AsyncClient, acme: Acme
) -> None:
    anonymous = await client.post("/graphql", json=_registration(QUERY))
    assert code(anonymous.json()) == "UNAUTHENTICATED"
    token = acme.tokens["owner"]
    invalid = await post(client, token, **_registration("{ viewer { nope } }"))
    assert code(invalid) == "GRAPHQL_VALIDATION_FAILED"
    unparsable = await post(client, token, **_registration("{ viewer { name "))
    assert code(unparsable) == "GRAPHQL_PARSE_FAILED"
    valid = await post(client, token, **_registration("{ x: viewer { name } y: viewer { name } }"))
    assert "errors" not in valid
    assert await _stored() == [
        hashlib.sha256(b"{ x: viewer { name } y: viewer { name } }").hexdigest()
    ]


async def test_a_registration_is_counted_and_refused_when_throttled(
    database_url: str, smtp_port: int, acme_tokens_offline: dict[str, str]
) -> None:
    tiny = dataclasses.replace(
        make_settings(database_url, smtp_port), rate_limit_capacity=3, rate_limit_restore_rate=0.01
    )
    token = acme_tokens_offline["owner"]
    async with serve(tiny) as client:
        first = await post(client, token, **_registration("{ a: viewer { name } }"))
        assert first["extensions"]["cost"]["throttleStatus"]["currentlyAvailable"] < 3
        results = [
            await post(client, token, **_registration(f"{{ n{n}: __typename }}")) for n in range(4)
        ]
        refused = [body for body in results if "errors" in body]
        assert refused
        assert {code(body) for body in refused} == {"THROTTLED"}
        stored = await _stored()
    # Each registration cost at least 1 from a bucket of 3: the throttled ones stored nothing.
    assert len(stored) == 1 + len(results) - len(refused) <= 3


async def test_registered_documents_are_capped_in_size_and_in_number(
    database_url: str, smtp_port: int, acme_tokens_offline: dict[str, str]
) -> None:
    small = dataclasses.replace(
        make_settings(database_url, smtp_port),
        max_persisted_query_bytes=200,
        max_automatic_persisted_queries=3,
    )
    token = acme_tokens_offline["owner"]
    async with serve(small) as client:
        await register(query=QUERY, now=small.clock.now())  # an operator's: never evicted
        padded = "{ viewer { name } }" + " " * 300
        too_large = await post(client, token, **_registration(padded))
        assert code(too_large) == "PERSISTED_QUERY_TOO_LARGE"
        documents = [f"{{ a{n}: viewer {{ name }} }}" for n in range(5)]
        for document in documents:
            assert "errors" not in await post(client, token, **_registration(document))
        stored = await _stored()
    newest = [hashlib.sha256(d.encode()).hexdigest() for d in documents[-3:]]
    assert stored == sorted([DIGEST, *newest])
