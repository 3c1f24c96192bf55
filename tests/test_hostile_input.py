"""Hostile and malformed requests: a clear refusal, never a 5xx, nothing changed."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from bench.smtp import SmtpServer, shown_quote, signature_token
from models.contract import LicensePool
from models.purchase import LicensePurchase
from tests.conftest import BASE_URL, Acme, gql
from tests.test_purchases import purchase


def _headers(acme: Acme) -> dict[str, str]:
    return {"Authorization": f"Bearer {acme.tokens['owner']}", "Content-Type": "application/json"}


@pytest.mark.parametrize(
    ("body", "says"),
    [
        (b'"hello"', "must be a JSON object"),
        (b"5", "must be a JSON object"),
        (b"null", "must be a JSON object"),
        (b"[1, 2]", "must be a JSON object"),
        (b"not json", "Unable to parse request body as JSON"),
        (b'{"query": "{ viewer { name } }\xff"}', "not valid UTF-8"),
    ],
)
async def test_bodies_that_are_not_graphql_requests(
    client: httpx.AsyncClient, acme: Acme, body: bytes, says: str
) -> None:
    response = await client.post("/graphql", content=body, headers=_headers(acme))
    assert response.status_code == 400
    assert says in response.text


async def test_the_wrong_content_type(client: httpx.AsyncClient, acme: Acme) -> None:
    response = await client.post(
        "/graphql", content=b"{}", headers={**_headers(acme), "Content-Type": "text/plain"}
    )
    assert response.status_code == 400
    assert "Unsupported content type" in response.text


async def test_a_10_mb_body_is_refused_before_parsing(
    client: httpx.AsyncClient, acme: Acme
) -> None:
    huge = b'{"query": "' + b"a" * 10_000_000 + b'"}'
    response = await client.post("/graphql", content=huge, headers=_headers(acme))
    assert response.status_code == 413
    assert "larger than 1,048,576 bytes" in response.text

    async def chunks() -> Any:  # no Content-Length: counted as it arrives
        for _ in range(20):
            yield b"a" * 100_000

    streamed = await client.post("/graphql", content=chunks(), headers=_headers(acme))
    assert streamed.status_code == 413


async def test_every_response_says_nosniff(client: httpx.AsyncClient) -> None:
    for path in ("/healthz", "/graphql", "/sign/unknown"):
        response = await client.get(path)
        assert response.headers["x-content-type-options"] == "nosniff", path


@pytest.mark.parametrize("quantity", [2**31, -1, 0])
async def test_out_of_range_quantities(
    client: httpx.AsyncClient, acme: Acme, quantity: int
) -> None:
    query = """mutation($q: Int!) { deleteLicenses(input: {contractId: "Q29udHJhY3Q6MQ==",
      kind: MONTHLY, quantity: $q}) { userErrors { code } } }"""
    body = await gql(client, query, {"q": quantity}, token=acme.tokens["owner"])
    if quantity == 2**31:
        assert body["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    else:
        assert body["data"]["deleteLicenses"]["userErrors"] == [{"code": "INVALID_QUANTITY"}]
    assert (await LicensePool.get(contract_id=1, kind="MONTHLY")).total == 3


async def test_a_huge_or_hostile_signer_name(
    client: httpx.AsyncClient, acme: Acme, smtp: SmtpServer
) -> None:
    await purchase(client, acme.tokens["owner"], quantity=1)
    token = signature_token((await smtp.wait_for(1))[0], BASE_URL)
    sign = """mutation($t: String!, $n: String!) { signLicensePurchase(input:
      {token: $t, signerName: $n}) { userErrors { code } } }"""
    huge = await gql(client, sign, {"t": token, "n": "x" * 100_000})
    assert huge["data"]["signLicensePurchase"]["userErrors"] == [{"code": "SIGNER_NAME_REQUIRED"}]
    assert (await LicensePurchase.get()).status == "PENDING_SIGNATURE"

    hostile = "<script>alert(1)</script>'; DROP TABLE app_user; --"
    shown = shown_quote((await client.get(f"/sign/{token}")).text)
    form = {"signer_name": hostile, "agree": "yes", "shown": shown}
    page = await client.post(f"/sign/{token}", data=form)
    assert page.status_code == 200
    assert "<script>" not in page.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
    assert (await LicensePurchase.get()).signer_name == hostile  # stored verbatim


async def test_a_batch_of_1000_operations_is_refused_and_runs_nothing(
    client: httpx.AsyncClient, acme: Acme
) -> None:
    delete = {
        "query": 'mutation { deleteLicenses(input: {contractId: "Q29udHJhY3Q6MQ==", '
        "kind: DAILY, quantity: 1}) { userErrors { code } } }"
    }
    response = await client.post("/graphql", json=[delete] * 1000, headers=_headers(acme))
    assert response.status_code == 200
    [error] = response.json()["errors"]
    assert error["extensions"]["code"] == "TOO_MANY_OPERATIONS"
    assert "at most 10 operations" in error["message"]
    assert (await LicensePool.get(contract_id=1, kind="DAILY")).total == 2


async def test_a_tampered_signature_token_signs_nothing(
    client: httpx.AsyncClient, acme: Acme, smtp: SmtpServer
) -> None:
    await purchase(client, acme.tokens["owner"], kind="DAILY", quantity=3)
    token = signature_token((await smtp.wait_for(1))[0], BASE_URL)
    tampered = token[:-1] + ("A" if token[-1] != "A" else "B")
    body = await gql(
        client,
        'mutation($t: String!) { signLicensePurchase(input: {token: $t, signerName: "Eve"}) '
        "{ userErrors { code } } }",
        {"t": tampered},
    )
    assert body["data"]["signLicensePurchase"]["userErrors"] == [
        {"code": "SIGNATURE_TOKEN_INVALID"}
    ]
    page = await client.post(f"/sign/{tampered}", data={"signer_name": "Eve", "agree": "yes"})
    assert page.status_code == 404
    assert (await LicensePurchase.get()).status == "PENDING_SIGNATURE"
    assert (await LicensePool.get(contract_id=1, kind="DAILY")).total == 2
