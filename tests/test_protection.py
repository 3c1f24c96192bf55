"""Protection for partners and mobile: limits, cost, throttling, scopes, persisted queries."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import time
from typing import Any

import httpx
import pytest
from graphql import GraphQLSyntaxError, parse

from licensing.db import orm
from licensing.logs import JsonFormatter
from licensing.settings import Settings
from models.api import RateLimitBucket
from models.contract import LicensePool
from models.user import User
from resolvers.ids import encode_id
from services.protection import rate_limit
from services.protection.tokens import create_token
from tests.conftest import Acme, make_settings, serve

LIMITS = {
    "max_query_depth": 5,
    "max_query_aliases": 3,
    "max_query_tokens": 200,
    "max_query_cost": 100,
    "max_batch_operations": 3,
}


@pytest.fixture
def settings(request: pytest.FixtureRequest, database_url: str, smtp_port: int) -> Settings:
    """Small limits, so each can be tested just under and just over."""
    return dataclasses.replace(make_settings(database_url, smtp_port), **LIMITS)


async def post(
    client: httpx.AsyncClient,
    query: str,
    token: str,
    variables: dict[str, Any] | None = None,
    extensions: dict[str, Any] | None = None,
) -> dict[str, Any]:
    payload: dict[str, Any] = {"query": query, "variables": variables or {}}
    if extensions:
        payload["extensions"] = extensions
    response = await client.post(
        "/graphql", json=payload, headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def code(body: dict[str, Any]) -> str | None:
    errors = body.get("errors") or [{}]
    found: str | None = errors[0].get("extensions", {}).get("code")
    return found


async def test_depth_just_under_and_just_over(client: httpx.AsyncClient, acme: Acme) -> None:
    five = "{ viewer { company { users(first: 1) { edges { cursor } } } } }"
    six = "{ viewer { company { users(first: 1) { edges { node { name } } } } } }"
    assert "errors" not in await post(client, five, acme.tokens["owner"])
    refused = await post(client, six, acme.tokens["owner"])
    assert code(refused) == "QUERY_TOO_DEEP"
    assert refused["data"] is None
    assert "6 levels deep; the limit is 5" in refused["errors"][0]["message"]


async def test_aliases_just_under_and_just_over(client: httpx.AsyncClient, acme: Acme) -> None:
    def aliased(count: int) -> str:
        return "{ " + " ".join(f"a{n}: viewer {{ name }}" for n in range(count)) + " }"

    assert "errors" not in await post(client, aliased(3), acme.tokens["owner"])
    assert code(await post(client, aliased(4), acme.tokens["owner"])) == "TOO_MANY_ALIASES"


async def test_tokens_just_under_and_just_over(client: httpx.AsyncClient, acme: Acme) -> None:
    def fields(count: int) -> str:
        return "{ viewer { " + " ".join(["name"] * count) + " } }"

    most = max(n for n in range(1, 400) if _parses(fields(n), LIMITS["max_query_tokens"]))
    assert "errors" not in await post(client, fields(most), acme.tokens["owner"])
    over = await post(client, fields(most + 1), acme.tokens["owner"])
    assert code(over) == "TOO_MANY_TOKENS"


def _parses(query: str, max_tokens: int) -> bool:
    try:
        parse(query, max_tokens=max_tokens)
    except GraphQLSyntaxError:
        return False
    return True


async def test_cost_just_under_and_just_over(client: httpx.AsyncClient, acme: Acme) -> None:
    query = "query($n: Int) { viewer { company { users(first: $n) { edges { cursor } } } } }"
    # viewer 1 + company 1 + users 1 + n edges = 3 + n
    under = await post(client, query, acme.tokens["owner"], {"n": 97})
    assert "errors" not in under
    assert under["extensions"]["cost"]["requestedQueryCost"] == 100
    over = await post(client, query, acme.tokens["owner"], {"n": 98})
    assert code(over) == "QUERY_TOO_COSTLY"
    assert "costs 101; the limit is 100" in over["errors"][0]["message"]


async def test_batches_just_under_and_just_over(client: httpx.AsyncClient, acme: Acme) -> None:
    headers = {"Authorization": f"Bearer {acme.tokens['owner']}"}
    three = [{"query": "{ viewer { name } }"}] * 3
    ok = (await client.post("/graphql", json=three, headers=headers)).json()
    assert [item["data"]["viewer"]["name"] for item in ok] == ["Olivia Owner"] * 3
    four = (await client.post("/graphql", json=three + three[:1], headers=headers)).json()
    assert code(four) == "TOO_MANY_OPERATIONS"
    assert "at most 3 operations; this one has 4" in four["errors"][0]["message"]
    empty = await client.post("/graphql", json=[], headers=headers)
    assert empty.status_code == 400
    assert "The batch is empty" in empty.text


async def test_first_must_be_one_to_a_hundred(client: httpx.AsyncClient, acme: Acme) -> None:
    query = "query($n: Int) { viewer { company { users(first: $n) { totalCount } } } }"
    for bad in (0, -1, 101):
        assert code(await post(client, query, acme.tokens["owner"], {"n": bad})) == (
            "BAD_USER_INPUT"
        )


async def test_refused_mutations_change_nothing(client: httpx.AsyncClient, acme: Acme) -> None:
    deletes = " ".join(
        f'd{n}: deleteLicenses(input: {{contractId: "{encode_id("Contract", 1)}", '
        f"kind: MONTHLY, quantity: 1}}) {{ userErrors {{ code }} }}"
        for n in range(4)
    )
    body = await post(client, f"mutation {{ {deletes} }}", acme.tokens["owner"])
    assert code(body) == "TOO_MANY_ALIASES"
    assert (await LicensePool.get(contract_id=1, kind="MONTHLY")).total == 3


async def test_every_response_reports_its_cost(
    client: httpx.AsyncClient, acme: Acme, settings: Settings
) -> None:
    query = """{ viewer { company { users(first: 10) { totalCount pageInfo { hasNextPage }
                 edges { cursor } } } } }"""
    body = await post(client, query, acme.tokens["owner"])
    cost = body["extensions"]["cost"]
    # viewer 1 + company 1 + users 1 + pageInfo 1 + 10 edges = 14
    assert cost["requestedQueryCost"] == 14
    # Returned: viewer, company, users, pageInfo and the company's 4 users' edges = 8
    assert cost["actualQueryCost"] == 8
    assert cost["throttleStatus"]["maximumAvailable"] == settings.rate_limit_capacity
    assert cost["throttleStatus"]["restoreRate"] == settings.rate_limit_restore_rate
    mutation = await post(
        client,
        'mutation { unassignLicense(input: {userId: "x", product: JOBS}) { userErrors { code } } }',
        acme.tokens["owner"],
    )
    assert mutation["extensions"]["cost"]["requestedQueryCost"] == 10


async def test_read_only_tokens_may_not_mutate(
    client: httpx.AsyncClient, acme: Acme, settings: Settings
) -> None:
    token = await create_token(
        email="olivia@acme-heating.example",
        scopes=["licenses:read"],
        name="Acme CRM",
        now=settings.clock.now(),
    )
    contract, user = encode_id("Contract", 1), encode_id("User", 3)
    purchase = encode_id("LicensePurchase", 1)
    mutations = [
        f'purchaseLicenses(input: {{contractId: "{contract}", kind: DAILY, quantity: 1}})',
        f'cancelLicensePurchase(input: {{purchaseId: "{purchase}"}})',
        f'resendLicensePurchaseConfirmation(input: {{purchaseId: "{purchase}"}})',
        f'deleteLicenses(input: {{contractId: "{contract}", kind: MONTHLY, quantity: 1}})',
        f'assignLicense(input: {{userId: "{user}", product: JOBS, kind: DAILY}})',
        f'unassignLicense(input: {{userId: "{user}", product: JOBS}})',
        f'deleteUser(input: {{userId: "{user}"}})',
    ]
    for mutation in mutations:
        body = await post(client, f"mutation {{ {mutation} {{ userErrors {{ code }} }} }}", token)
        assert code(body) == "FORBIDDEN", mutation
        assert "read-only" in body["errors"][0]["message"]
    reads = await post(client, "{ subscription { contracts { product } } }", token)
    assert "errors" not in reads
    assert (await LicensePool.get(contract_id=1, kind="MONTHLY")).total == 3
    assert await User.filter(id=3).exists()


async def test_each_request_is_logged_once_without_the_token(
    client: httpx.AsyncClient, acme: Acme, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="licensing.requests")
    await post(client, "query Me { viewer { name } }", acme.tokens["owner"])
    [record] = [r for r in caplog.records if r.name == "licensing.requests"]
    line = json.loads(JsonFormatter().format(record))
    assert (line["operation"], line["cost"], line["status"]) == ("Me", 1, "ok")
    assert line["durationMs"] >= 0
    assert len(line["requestId"]) == 16
    assert acme.tokens["owner"] not in JsonFormatter().format(record)


async def test_field_suggestions_are_off(client: httpx.AsyncClient, acme: Acme) -> None:
    body = await post(client, "{ viewer { nam } }", acme.tokens["owner"])
    assert code(body) == "GRAPHQL_VALIDATION_FAILED"
    assert "Did you mean" not in body["errors"][0]["message"]


async def test_throttled_by_a_tiny_bucket_per_token(
    database_url: str, smtp_port: int, acme_tokens_offline: dict[str, str]
) -> None:
    # Refilling 0.001 a second: however slow the machine, the test sees no refill worth a request.
    tiny = dataclasses.replace(
        make_settings(database_url, smtp_port),
        rate_limit_capacity=10,
        rate_limit_restore_rate=0.001,
    )
    query = "{ viewer { company { name } } }"  # costs 2
    async with serve(tiny) as client:
        left = [
            (await post(client, query, acme_tokens_offline["owner"]))["extensions"]["cost"]
            for _ in range(5)
        ]
        assert [int(c["throttleStatus"]["currentlyAvailable"]) for c in left] == [8, 6, 4, 2, 0]
        refused = await post(client, query, acme_tokens_offline["owner"])
        assert code(refused) == "THROTTLED"
        assert refused["data"] is None
        # About 2 / 0.001 = 2,000 seconds until 2 are available again.
        assert 1500 < refused["errors"][0]["extensions"]["retryAfterSeconds"] <= 2000
        assert "Retry in" in refused["errors"][0]["message"]
        # Another token has a bucket of its own.
        assert "errors" not in await post(client, query, acme_tokens_offline["finance"])


async def test_a_bucket_refills_at_its_rate_up_to_its_capacity(database_url: str) -> None:
    """The clock is an argument: the arithmetic is checked exactly, not against real time."""
    bucket = rate_limit.Bucket(capacity=10, restore_rate=0.5)
    async with orm(database_url):
        start = 1_000_000.0
        first = await rate_limit.take(key="token:9", cost=8, bucket=bucket, now=start)
        assert (first.allowed, first.available) == (True, 2)
        refused = await rate_limit.take(key="token:9", cost=4, bucket=bucket, now=start + 1)
        assert (refused.allowed, refused.available, refused.retry_after_seconds) == (False, 2.5, 3)
        later = await rate_limit.take(key="token:9", cost=4, bucket=bucket, now=start + 4)
        assert (later.allowed, later.available) == (True, 0)  # 2 + 4 x 0.5 = 4, less 4
        full = await rate_limit.take(key="token:9", cost=1, bucket=bucket, now=start + 1000)
        assert (full.allowed, full.available) == (True, 9)  # capped at 10 before taking 1


async def test_buckets_that_have_refilled_are_forgotten(database_url: str) -> None:
    """Every client address ever seen would otherwise keep a row for good."""
    bucket = rate_limit.Bucket(capacity=10, restore_rate=1)
    async with orm(database_url):
        for key, cost in (("ip:a", 10), ("ip:b", 2), ("token:1", 1)):
            await rate_limit.take(key=key, cost=cost, bucket=bucket, now=1000.0)
        # At 1005: a has 5 of 10, b and the token are full again.
        assert await rate_limit.forget_full(bucket=bucket, now=1005.0) == 2
        assert await RateLimitBucket.all().values_list("key", flat=True) == ["ip:a"]
        later = await rate_limit.take(key="ip:b", cost=4, bucket=bucket, now=1006.0)
        assert (later.allowed, later.available) == (True, 6)  # a fresh, full bucket


async def test_concurrent_requests_never_overspend_a_bucket(database_url: str) -> None:
    bucket = rate_limit.Bucket(capacity=1000, restore_rate=0.001)
    async with orm(database_url):
        decisions = await asyncio.gather(
            *(
                rate_limit.take(key="token:1", cost=100, bucket=bucket, now=time.time())
                for _ in range(30)
            )
        )
    assert sum(decision.allowed for decision in decisions) == 10
    assert all(d.retry_after_seconds > 0 for d in decisions if not d.allowed)
