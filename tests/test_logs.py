"""The service's log, read whole from a live `licensing serve`: JSON lines, and no secrets."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from bench.scrape import parse, value
from bench.service import Service, service_env
from bench.smtp import SmtpServer, shown_quote, signature_token
from licensing.db import orm
from services.fixtures import load_fixture_text
from services.protection.tokens import create_token
from tests.conftest import ACME, EXAMPLE_FIXTURE, TODAY
from tests.databases import ON_POSTGRES

BUY = """mutation { purchaseLicenses(input: {contractId: "Q29udHJhY3Q6MQ==", kind: MONTHLY,
  quantity: 1}) { userErrors { code } } }"""
DOCUMENTS = "{ subscription { contracts { documents { title downloadUrl } } } }"
CLOCK_NOW = dt.datetime.combine(TODAY, dt.time(12), dt.UTC)


async def owner_token(database_url: str) -> str:
    """Acme loaded, and a token of its owner, before the service starts."""
    async with orm(database_url):
        await load_fixture_text(source="f.json", text=EXAMPLE_FIXTURE.read_text(), now=CLOCK_NOW)
        return await create_token(email=ACME["owner"], now=CLOCK_NOW)


def logged_env(database_url: str, smtp: SmtpServer, **extra: str) -> dict[str, str]:
    """A service's environment with its INFO lines logged."""
    return service_env(
        database_url, smtp.port, LOG_LEVEL="INFO", LICENSING_TODAY=TODAY.isoformat(), **extra
    )


async def _live_session(base: str, token: str, smtp: SmtpServer) -> tuple[str, str]:
    """What a customer does: buy, sign from the email's page, download the addendum.

    Returns the signature token and the download link's signature.
    """
    auth = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=base, timeout=30) as http:
        bought = await http.post("/graphql", json={"query": BUY}, headers=auth)
        assert bought.json()["data"]["purchaseLicenses"]["userErrors"] == []
        link_token = signature_token((await smtp.wait_for(1))[0], "http://licensing.test")
        opened = await http.get(f"/sign/{link_token}")
        assert opened.status_code == 200
        form = {"signer_name": "Olivia Owner", "agree": "yes", "shown": shown_quote(opened.text)}
        signed = await http.post(f"/sign/{link_token}", data=form)
        assert "Purchase signed" in signed.text
        body = (await http.post("/graphql", json={"query": DOCUMENTS}, headers=auth)).json()
        url = body["data"]["subscription"]["contracts"][0]["documents"][0]["downloadUrl"]
        parts = urlsplit(url)
        download = await http.get(f"{parts.path}?{parts.query}")
        assert download.status_code == 200
        wrong = {"Authorization": "Bearer lic_wrong"}
        await http.post("/graphql", json={"query": "{ viewer { name } }"}, headers=wrong)
    return link_token, parse_qs(parts.query)["signature"][0]


async def _check_the_metrics_of_every_worker(service: Service, bearer: str, workers: int) -> None:
    """Twenty named queries, whichever worker answers each: a scrape (from loopback, so without
    METRICS_TOKEN) counts all twenty, plus the session's operations."""
    auth = {"Authorization": f"Bearer {bearer}"}
    viewer = {"query": "query Viewer { viewer { name } }"}
    async with httpx.AsyncClient(base_url=service.base_url, timeout=30) as http:
        # Twenty connections at once: the workers share the listening socket, so both take some.
        answers = await asyncio.gather(
            *(
                http.post("/graphql", json=viewer, headers=auth | {"Connection": "close"})
                for _ in range(20)
            )
        )
        assert {answer.json()["data"]["viewer"]["name"] for answer in answers} == {"Olivia Owner"}
        scraped = (await http.get("/metrics")).text
    samples = parse(scraped)
    ok = {"operation_type": "query", "outcome": "ok"}
    assert value(samples, "licensing_graphql_requests_total", operation_name="Viewer", **ok) == 20
    # The session's purchase (a mutation without a name) and its anonymous documents query.
    mutation = {"operation_type": "mutation", "operation_name": "anonymous", "outcome": "ok"}
    assert value(samples, "licensing_graphql_requests_total", **mutation) == 1
    assert value(samples, "licensing_graphql_errors_total", code="UNAUTHENTICATED") == 1
    assert value(samples, "licensing_worker_processes") == workers
    # One series per worker, by pid: each wrote its figures to a file of its own.
    assert len({key for key in samples if key[0] == "licensing_process_open_fds"}) == workers
    assert value(samples, "licensing_email_backlog") == 0


def _lines(log: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in log.read_text().splitlines() if line.strip()]


@pytest.mark.parametrize(
    "workers",
    [
        1,
        # Each worker configures its own logging: uvicorn's access log must stay off in all.
        pytest.param(
            2,
            marks=pytest.mark.skipif(not ON_POSTGRES, reason="several workers need PostgreSQL"),
        ),
    ],
)
async def test_every_line_is_json_and_no_token_or_signature_reaches_the_log(
    database_url: str, smtp: SmtpServer, tmp_path: Path, workers: int
) -> None:
    bearer = await owner_token(database_url)
    log = tmp_path / "service.log"
    # An operator's metrics directory, with a file of theirs and one of an earlier start.
    metrics_folder = tmp_path / "metrics"
    metrics_folder.mkdir()
    (metrics_folder / "README").write_text("the operator's")
    (metrics_folder / "counter_1.db").write_bytes(b"an earlier start's")
    env = logged_env(
        database_url,
        smtp,
        METRICS_OPERATION_NAMES="Viewer",
        PROMETHEUS_MULTIPROC_DIR=str(metrics_folder),
    )
    with Service(env, workers=workers, log=log) as service:
        await service.until_healthy()
        link_token, signature = await _live_session(service.base_url, bearer, smtp)
        await _check_the_metrics_of_every_worker(service, bearer, workers)
    assert service.returncode == 0
    assert (metrics_folder / "README").read_text() == "the operator's"
    assert not (metrics_folder / "counter_1.db").exists()

    text = log.read_text()
    for secret in (bearer, link_token, signature):
        assert secret not in text
    lines = _lines(log)  # every line parses, or this raises
    requests = [line for line in lines if line["logger"] == "licensing.access"]
    paths = {(line["method"], line["path"]) for line in requests}
    assert ("GET", "/sign/[redacted]") in paths
    assert ("POST", "/sign/[redacted]") in paths
    [download] = [line for line in requests if line["path"].startswith("/documents/")]
    assert download["status"] == 200
    assert "signature=[redacted]" in download["query"]
    assert "expires=" in download["query"]
    # Every worker answered GraphQL requests, and the scrape counted them all (above).
    assert len({line["pid"] for line in requests if line["path"] == "/graphql"}) == workers
    operations = [line for line in lines if line["logger"] == "licensing.requests"]
    assert {line["status"] for line in operations} >= {"ok", "error"}
    # A GraphQL line and its HTTP line share the request id.
    assert {line["requestId"] for line in operations} <= {line["requestId"] for line in requests}
    assert any("Application startup complete" in line["message"] for line in lines)
    assert any(line["message"].startswith("shutting down") for line in lines)
    assert not [line for line in lines if line["logger"] == "uvicorn.access"]
