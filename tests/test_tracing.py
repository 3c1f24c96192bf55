"""OpenTelemetry traces (licensing/tracing.py): the real app over HTTP, its spans read from the
SDK's in-memory exporter; and without OTEL_EXPORTER_OTLP_ENDPOINT, nothing of it imported."""

from __future__ import annotations

import argparse
import json
import logging
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import pytest_asyncio
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from bench.smtp import free_port
from licensing import cli, tracing
from licensing.app import create_app
from licensing.logs import JsonFormatter
from licensing.settings import Settings
from resolvers.ids import encode_id
from services.fixtures import load_fixture_text
from services.protection.tokens import create_token
from tests.conftest import ACME, EXAMPLE_FIXTURE, REPO, gql, make_settings, serve_app
from tests.databases import Databases

JOBS = encode_id("Contract", 1)
COMPANY_EMAIL = "accounts@acme-heating.example"
IDEMPOTENCY_KEY = "idem-7f3a9c51-only-in-the-variables"
PURCHASE = """
mutation Purchase($input: PurchaseLicensesInput!) {
  purchaseLicenses(input: $input) {
    purchase { id confirmationSentTo }
    userErrors { code }
  }
}
"""
USERS = """
query Seats($first: Int) { subscription { company { users(first: $first) { totalCount } } } }
"""
TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
CALLER_SPAN_ID = "00f067aa0ba902b7"
# One traced service for the whole module: starting and stopping one takes most of a second.
in_the_service = pytest.mark.asyncio(loop_scope="module")


@dataclass
class Traced:
    http: httpx.AsyncClient
    spans: InMemorySpanExporter
    owner_token: str


@asynccontextmanager
async def traced(settings: Settings) -> AsyncIterator[Traced]:
    """tests/conftest.py's `serve` with traces on, into memory; Acme loaded (untraced: no
    request is under way)."""
    spans = InMemorySpanExporter()
    async with serve_app(create_app(settings, span_exporter=spans)) as http:
        await load_fixture_text(
            source="fixture.json", text=EXAMPLE_FIXTURE.read_text(), now=settings.clock.now()
        )
        token = await create_token(email=ACME["owner"], now=settings.clock.now())
        yield Traced(http, spans, token)


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def service(
    test_databases: Databases, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Traced]:
    url = await test_databases.create(tmp_path_factory.mktemp("tracing"))
    try:
        async with traced(make_settings(url, free_port())) as running:
            yield running
    finally:
        await test_databases.drop(url)


@pytest.fixture
def spans(service: Traced) -> InMemorySpanExporter:
    """The service's exporter, emptied for this test."""
    service.spans.clear()
    return service.spans


def _by_name(spans: tuple[ReadableSpan, ...], name: str) -> ReadableSpan:
    [found] = [span for span in spans if span.name == name]
    return found


def _descends_from(
    span: ReadableSpan, ancestor: ReadableSpan, spans: dict[int, ReadableSpan]
) -> bool:
    assert ancestor.context is not None
    while span.parent is not None:
        if span.parent.span_id == ancestor.context.span_id:
            return True
        span = spans[span.parent.span_id]
    return False


def _everything_recorded(spans: tuple[ReadableSpan, ...]) -> str:
    return json.dumps(
        [
            [span.name, {key: str(value) for key, value in (span.attributes or {}).items()}]
            for span in spans
        ]
    )


@in_the_service
async def test_a_mutation_is_a_request_span_an_operation_span_and_statement_spans(
    service: Traced, spans: InMemorySpanExporter
) -> None:
    variables = {
        "input": {
            "contractId": JOBS,
            "kind": "DAILY",
            "quantity": 1,
            "idempotencyKey": IDEMPOTENCY_KEY,
        }
    }
    body = await gql(service.http, PURCHASE, variables, token=service.owner_token)
    made = body["data"]["purchaseLicenses"]
    assert made["userErrors"] == []
    # The company's email went into the outbox's INSERT as a parameter.
    assert made["purchase"]["confirmationSentTo"] == COMPANY_EMAIL

    finished = spans.get_finished_spans()
    by_id = {span.context.span_id: span for span in finished if span.context is not None}
    request = _by_name(finished, "POST /graphql")
    assert request.kind is SpanKind.SERVER
    assert request.parent is None
    assert request.attributes is not None
    assert request.attributes["http.request.method"] == "POST"
    assert request.attributes["url.path"] == "/graphql"
    assert request.attributes["http.route"] == "/graphql"
    assert request.attributes["http.response.status_code"] == 200

    operation = _by_name(finished, "mutation Purchase")
    assert operation.parent is not None
    assert request.context is not None
    assert operation.parent.span_id == request.context.span_id
    assert dict(operation.attributes or {}) == {
        "graphql.operation.type": "mutation",
        "graphql.operation.name": "Purchase",
    }

    statements = [span for span in finished if span.kind is SpanKind.CLIENT]
    # The token's lookup before the operation, the purchase's statements inside it.
    assert any(_descends_from(statement, operation, by_id) for statement in statements)
    for statement in statements:
        assert _descends_from(statement, request, by_id)
        attributes = statement.attributes or {}
        assert attributes["db.system.name"] in ("sqlite", "postgresql")
        assert attributes["db.operation.name"] == statement.name
    texts = [str((span.attributes or {})["db.query.text"]) for span in statements]
    inserts = [text for text in texts if text.startswith("INSERT")]
    assert any("license_purchase" in text for text in inserts), texts
    assert all("?" in text or "$1" in text for text in inserts)  # placeholders, not values

    recorded = _everything_recorded(finished)
    for secret in (IDEMPOTENCY_KEY, COMPANY_EMAIL, service.owner_token, ACME["owner"]):
        assert secret not in recorded


@in_the_service
async def test_a_query_operation_span_and_its_error_codes(
    service: Traced, spans: InMemorySpanExporter
) -> None:
    body = await gql(service.http, USERS, {"first": 2}, token=service.owner_token)
    refused = await gql(service.http, USERS, {"first": 2}, token="lic_unknown")
    assert body["data"]["subscription"]["company"]["users"]["totalCount"] > 0
    assert refused["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"

    answered, denied = sorted(
        (span for span in spans.get_finished_spans() if span.name == "query Seats"),
        key=lambda span: span.start_time or 0,
    )
    assert (answered.attributes or {})["graphql.operation.type"] == "query"
    assert "licensing.graphql.error_codes" not in (answered.attributes or {})
    assert (denied.attributes or {})["licensing.graphql.error_codes"] == ("UNAUTHENTICATED",)


@in_the_service
async def test_signature_links_are_redacted_in_spans(
    service: Traced, spans: InMemorySpanExporter
) -> None:
    response = await service.http.get(
        "/sign/sig-tok-93c1e2-secret?signature=sig-93c1e2&expires=123"
    )
    assert response.status_code < 500

    finished = spans.get_finished_spans()
    [request] = [span for span in finished if span.kind is SpanKind.SERVER]
    assert request.name == "GET /sign/{token}"
    assert dict(request.attributes or {}) == {
        "http.request.method": "GET",
        "url.scheme": "http",
        "url.path": "/sign/[redacted]",
        "url.query": "signature=[redacted]&expires=123",
        "http.route": "/sign/{token}",
        "http.response.status_code": response.status_code,
    }
    assert "93c1e2" not in _everything_recorded(finished)


@contextmanager
def json_lines(logger_name: str) -> Iterator[list[str]]:
    """Lines of a logger as licensing/logs.py writes them, formatted as they are written."""
    lines: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(self.format(record))

    handler = Collect()
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger(logger_name)
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield lines
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


@in_the_service
async def test_a_callers_trace_is_continued_and_log_lines_name_it(
    service: Traced, spans: InMemorySpanExporter
) -> None:
    traceparent = f"00-{TRACE_ID}-{CALLER_SPAN_ID}-01"
    with json_lines("licensing.access") as lines:
        response = await service.http.post(
            "/graphql",
            json={"query": USERS, "variables": {"first": 1}},
            headers={"Authorization": f"Bearer {service.owner_token}", "traceparent": traceparent},
        )
    assert response.status_code == 200

    finished = spans.get_finished_spans()
    assert {f"{span.context.trace_id:032x}" for span in finished if span.context} == {TRACE_ID}
    request = _by_name(finished, "POST /graphql")
    assert request.parent is not None
    assert request.parent.is_remote
    assert f"{request.parent.span_id:016x}" == CALLER_SPAN_ID

    [line] = [json.loads(line) for line in lines]
    assert request.context is not None
    assert (line["traceId"], line["spanId"]) == (TRACE_ID, f"{request.context.span_id:016x}")
    assert line["path"] == "/graphql"


def test_without_the_endpoint_nothing_of_opentelemetry_is_imported(tmp_path: Path) -> None:
    """The app built and a request answered (no database needed for `__typename` without a
    rate limit), the JSON log on: no module of OpenTelemetry loaded."""
    program = """
import asyncio, sys
import httpx
from licensing import logs
from licensing import cli, tracing
from licensing.app import create_app
from licensing.settings import Settings

async def main():
    transport = httpx.ASGITransport(app=create_app(Settings.from_env()))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        answer = await http.post("/graphql", json={"query": "{ __typename }"})
        assert answer.json()["data"] == {"__typename": "Query"}, answer.text

logs.configure("INFO")
asyncio.run(main())
print("licensing.tracing" in sys.modules, any(n.startswith("opentelemetry") for n in sys.modules))
"""
    env = {key: value for key, value in os.environ.items() if not key.startswith("OTEL_")}
    env |= {
        "DATABASE_URL": f"sqlite://{tmp_path / 'licensing.db'}",
        "SECRET_KEY": "test-secret",
        "RATE_LIMIT_ENABLED": "false",
    }
    ran = subprocess.run(
        [sys.executable, "-c", program],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.split() == ["True", "False"], ran.stdout
    assert '"path": "/graphql"' in ran.stderr  # the access log's line was written


def test_serve_warns_once_when_the_endpoint_is_set_without_the_extra(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv(tracing.ENDPOINT_VARIABLE, "http://127.0.0.1:4318")
    monkeypatch.setitem(sys.modules, "opentelemetry.sdk", None)  # as if not installed

    async def database_ready(settings: Settings, work: object) -> None:
        return None

    served: list[Settings] = []
    monkeypatch.setattr(cli, "_with_orm", database_ready)
    monkeypatch.setattr(cli, "_serve", lambda settings, args: served.append(settings))
    settings = Settings(database_url="sqlite://licensing.db", secret_key="test-secret")
    with caplog.at_level(logging.WARNING, logger="licensing"):
        cli.cmd_serve(settings, argparse.Namespace(workers=1))

    assert not tracing.configured()
    assert served == [settings]
    [warning] = [record.getMessage() for record in caplog.records if "OTEL_" in record.getMessage()]
    assert 'pip install -e ".[otel]"' in warning
