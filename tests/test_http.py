"""HTTP routes besides POST /graphql: GraphiQL, PDF downloads, masked errors."""

from __future__ import annotations

import datetime as dt
import io
import logging
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from pypdf import PdfReader
from tortoise.connection import get_connection

from services.subscription.download_links import download_url
from tests.conftest import BASE_URL, TODAY, Acme, gql

DOCUMENTS = "{ subscription { contracts { documents { id title downloadUrl } } } }"


async def _master_url(client: httpx.AsyncClient, acme: Acme) -> str:
    body = await gql(client, DOCUMENTS, token=acme.tokens["owner"])
    url: str = body["data"]["subscription"]["contracts"][0]["documents"][0]["downloadUrl"]
    return url


async def test_graphiql_on_get(client: httpx.AsyncClient) -> None:
    response = await client.get("/graphql", headers={"Accept": "text/html"})
    assert response.status_code == 200
    assert "graphiql" in response.text.lower()


async def test_master_agreement_pdf_downloads_without_a_token(
    client: httpx.AsyncClient, acme: Acme
) -> None:
    url = await _master_url(client, acme)
    response = await client.get(url)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/pdf"
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(response.content)).pages)
    for expected in (
        "Acme Heating Ltd",
        "Jobs subscription",
        "2026-01-01",
        "2027-12-31",
        "£45.00",
        "Contracted licenses 10",
    ):
        assert expected in text


async def test_tampered_download_url_is_refused(client: httpx.AsyncClient, acme: Acme) -> None:
    url = await _master_url(client, acme)
    parts = urlsplit(url)
    query = parse_qs(parts.query)
    other_document = parts.path.replace(".pdf", "0.pdf")
    tampered = [
        f"{other_document}?{parts.query}",
        f"{parts.path}?expires={int(query['expires'][0]) + 3600}&signature={query['signature'][0]}",
        f"{parts.path}?expires={query['expires'][0]}&signature={'0' * 64}",
        parts.path,
    ]
    for attempt in tampered:
        response = await client.get(attempt)
        assert response.status_code == 403, attempt
        assert "fresh link" in response.text
        assert response.headers["content-type"].startswith("text/plain")


async def test_expired_download_url_is_gone(client: httpx.AsyncClient, acme: Acme) -> None:
    url = await _master_url(client, acme)
    document_id = int(urlsplit(url).path.split("/")[-1].removesuffix(".pdf"))
    yesterday = dt.datetime.combine(TODAY - dt.timedelta(days=1), dt.time(), dt.UTC)
    expired = download_url(
        base_url=BASE_URL,
        secret_key="test-secret",
        document_id=document_id,
        now_ts=int(yesterday.timestamp()),
        ttl_seconds=900,
    )
    response = await client.get(expired)
    assert response.status_code == 410
    assert "expired" in response.text


async def test_refusals_are_not_logged_as_errors(
    client: httpx.AsyncClient, acme: Acme, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    await gql(client, "{ viewer { name } }")
    await gql(client, "{ subscription { id } }", token=acme.tokens["engineer"])
    # Both were seen and logged as what they are: refusals of the client's request...
    operations = [r for r in caplog.records if r.name == "licensing.requests"]
    assert [r.fields["errors"] for r in operations] == [["UNAUTHENTICATED"], ["FORBIDDEN"]]
    # ...and nothing at ERROR level, where unexpected failures go (licensing.errors).
    assert [r for r in caplog.records if r.levelno >= logging.ERROR] == []


async def test_unexpected_errors_are_masked(
    client: httpx.AsyncClient, acme: Acme, caplog: pytest.LogCaptureFixture
) -> None:
    await get_connection("default").execute_script('DROP TABLE "storage_usage"')
    body = await gql(client, "{ subscription { usage { usedBytes } } }", token=acme.tokens["owner"])
    [error] = body["errors"]
    assert error["message"] == "Internal server error."
    assert error["extensions"]["code"] == "INTERNAL_SERVER_ERROR"
    request_id = error["extensions"]["requestId"]
    assert "storage_usage" not in str(body)
    assert "Traceback" not in str(body)
    # The log keeps what the client does not see, under the id the client was given.
    [logged] = [r for r in caplog.records if r.name == "licensing.errors"]
    assert request_id in logged.getMessage()
    assert logged.exc_info is not None
    assert "storage_usage" in str(logged.exc_info[1])


async def test_a_failing_rate_limit_is_masked_too(
    client: httpx.AsyncClient, acme: Acme, caplog: pytest.LogCaptureFixture
) -> None:
    """Found by review: an error raised while throttling reached the client as it was."""
    await get_connection("default").execute_script('DROP TABLE "rate_limit_bucket"')
    body = await gql(client, "{ viewer { name } }", token=acme.tokens["owner"])
    [error] = body["errors"]
    assert (error["message"], error["extensions"]["code"]) == (
        "Internal server error.",
        "INTERNAL_SERVER_ERROR",
    )
    assert "rate_limit_bucket" not in str(body)
    [logged] = [r for r in caplog.records if r.name == "licensing.errors"]
    assert error["extensions"]["requestId"] in logged.getMessage()
