"""What operators see: /healthz, /readyz and /metrics of the app (one process, in process).

The same scrape against `licensing serve` with one and two workers is in tests/test_logs.py.
"""

from __future__ import annotations

import asyncio
import dataclasses
import ipaddress
import signal
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest
from asgi_lifespan import LifespanManager
from tortoise.connection import get_connection

from bench.scrape import Samples, parse, value
from bench.smtp import free_port
from licensing.app import create_app
from licensing.settings import Settings
from services import sql
from services.fixtures import load_fixture_text
from services.global_ids import encode_id
from services.protection.tokens import create_token
from tests.conftest import ACME, BASE_URL, EXAMPLE_FIXTURE, gql, make_settings, serve
from tests.databases import ON_POSTGRES

SCRAPE_TOKEN = "scrape-secret"
SCRAPE = {"Authorization": f"Bearer {SCRAPE_TOKEN}"}
POOLS = "query Pools { subscription { contracts { licensePools { kind total } } } }"
MINE = "query Mine { viewer { name } }"
INVALID = "query Broken { viewer { noSuchField } }"
UNPARSABLE = "query { viewer { name "
BUY = """mutation Buy($c: ID!) { purchaseLicenses(input: {contractId: $c, kind: MONTHLY,
  quantity: 1}) { purchase { id } userErrors { code } } }"""
CREATE_ENDPOINT = """mutation($url: String!) { createWebhookEndpoint(input: {url: $url,
  eventTypes: [LICENSE_PURCHASE_CREATED]}) { userErrors { code message } } }"""


async def scrape(http: httpx.AsyncClient) -> Samples:
    response = await http.get("/metrics", headers=SCRAPE)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain; version=")
    return parse(response.text)


def _settings(database_url: str, smtp_port: int) -> Settings:
    return dataclasses.replace(
        make_settings(database_url, smtp_port),
        metrics_token=SCRAPE_TOKEN,
        metrics_operation_names=("Pools", "Buy"),
        webhook_allowed_networks=(ipaddress.ip_network("127.0.0.0/8"),),
        webhook_allow_http=True,
        webhook_poll_seconds=0.05,
        webhook_timeout_seconds=1.0,
    )


@asynccontextmanager
async def _acme(settings: Settings) -> AsyncIterator[tuple[httpx.AsyncClient, str]]:
    async with serve(settings) as http:
        now = settings.clock.now()
        await load_fixture_text(source="f.json", text=EXAMPLE_FIXTURE.read_text(), now=now)
        yield http, await create_token(email=ACME["owner"], now=now)


async def test_metrics_count_operations_by_name_outcome_and_error_code(
    database_url: str, smtp_port: int
) -> None:
    async with _acme(_settings(database_url, smtp_port)) as (http, token):
        before = await scrape(http)
        auth = {"Authorization": f"Bearer {token}"}
        for document in (POOLS, POOLS, MINE, INVALID, UNPARSABLE):
            await http.post("/graphql", json={"query": document}, headers=auth)
        # A persisted query the server does not know: refused before any document is parsed.
        unknown_hash = {"persistedQuery": {"version": 1, "sha256Hash": "0" * 64}}
        await http.post("/graphql", json={"extensions": unknown_hash}, headers=auth)
        bought = await gql(http, BUY, {"c": encode_id("Contract", 1)}, token=token)
        assert bought["data"]["purchaseLicenses"]["userErrors"] == []
        after = await scrape(http)

    def grew(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    requests = "licensing_graphql_requests_total"
    assert grew(requests, operation_type="query", operation_name="Pools", outcome="ok") == 2
    # A name not on the allow-list is reported as `other`, never as the client wrote it.
    assert grew(requests, operation_type="query", operation_name="other", outcome="ok") == 1
    assert grew(requests, operation_type="query", operation_name="other", outcome="error") == 1
    unknown = {"operation_type": "unknown", "operation_name": "anonymous", "outcome": "error"}
    assert grew(requests, **unknown) == 2  # the unparsable document, the unknown hash
    assert grew("licensing_graphql_errors_total", code="PERSISTED_QUERY_NOT_FOUND") == 1
    assert grew(requests, operation_type="mutation", operation_name="Buy", outcome="ok") == 1
    assert not [key for key in after if ("operation_name", "Mine") in key[1]]
    assert grew("licensing_graphql_errors_total", code="GRAPHQL_VALIDATION_FAILED") == 1
    assert grew("licensing_graphql_errors_total", code="GRAPHQL_PARSE_FAILED") == 1
    # The second Pools came from the response cache; the first and Mine were run (misses).
    assert grew("licensing_response_cache_lookups_total", result="hit") == 1
    assert grew("licensing_response_cache_lookups_total", result="miss") == 2
    duration = "licensing_graphql_request_duration_seconds_count"
    assert grew(duration, operation_type="query", operation_name="Pools") == 2
    assert value(after, "licensing_db_pool_max_connections") >= 1
    assert value(after, "licensing_worker_processes") >= 1
    assert value(after, "licensing_process_resident_memory_bytes") > 10_000_000


async def test_metrics_show_the_email_and_webhook_backlogs(database_url: str) -> None:
    """Nothing listens on the SMTP port nor at the endpoint: the email and the delivery wait."""
    closed_port = free_port()
    settings = _settings(database_url, closed_port)
    async with _acme(settings) as (http, token):
        created = await gql(
            http, CREATE_ENDPOINT, {"url": f"http://127.0.0.1:{closed_port}/hook"}, token=token
        )
        assert created["data"]["createWebhookEndpoint"]["userErrors"] == []
        await gql(http, BUY, {"c": encode_id("Contract", 1)}, token=token)
        queued = await scrape(http)
        assert value(queued, "licensing_email_backlog") == 1
        assert value(queued, "licensing_webhook_backlog") == 1
        # Once tried and refused, the delivery waits for its retry (about 5 s): no longer due.
        samples = await _until(
            http,
            lambda found: (
                value(found, "licensing_webhook_backlog") == 1
                and value(found, "licensing_webhook_backlog_due") == 0
            ),
        )
        assert value(samples, "licensing_email_backlog") == 1
        assert value(samples, "licensing_email_backlog_oldest_age_seconds") > 0
        assert value(samples, "licensing_webhook_backlog_oldest_age_seconds") > 0
        assert value(samples, "licensing_webhook_endpoints_disabled") == 0


async def _until(http: httpx.AsyncClient, condition: object) -> Samples:
    assert callable(condition)
    for _ in range(200):
        samples = await scrape(http)
        if condition(samples):
            return samples
        await asyncio.sleep(0.05)
    raise AssertionError(f"the metrics never showed it: {samples}")


async def test_metrics_count_rate_limit_refusals(database_url: str, smtp_port: int) -> None:
    settings = dataclasses.replace(
        _settings(database_url, smtp_port), rate_limit_capacity=20, rate_limit_restore_rate=0.01
    )
    async with _acme(settings) as (http, token):
        before = await scrape(http)
        codes = []
        for _ in range(30):
            body = await gql(http, MINE, token=token)
            codes += [error["extensions"]["code"] for error in body.get("errors", [])]
        after = await scrape(http)
    throttled = codes.count("THROTTLED")
    assert throttled > 0
    grown = value(after, "licensing_rate_limit_refusals_total") - value(
        before, "licensing_rate_limit_refusals_total"
    )
    assert grown == throttled
    assert (
        value(after, "licensing_graphql_requests_total", **_refused_mine())
        - value(before, "licensing_graphql_requests_total", **_refused_mine())
        == throttled
    )


def _refused_mine() -> dict[str, str]:
    return {"operation_type": "query", "operation_name": "other", "outcome": "refused"}


async def test_metrics_need_the_token_or_a_loopback_client(
    database_url: str, smtp_port: int
) -> None:
    """The in-process client comes from 203.0.113.7: not loopback."""
    settings = make_settings(database_url, smtp_port)
    async with serve(settings) as http:
        refused = await http.get("/metrics")
        assert refused.status_code == 403
        assert "METRICS_TOKEN" in refused.text
    async with serve(dataclasses.replace(settings, metrics_token=SCRAPE_TOKEN)) as http:
        wrong_tokens = (
            {},
            {"Authorization": "Bearer nope"},
            {"Authorization": SCRAPE_TOKEN},
            {"Authorization": "Bearer s\xe9krit".encode("latin-1")},
        )
        for wrong in wrong_tokens:
            answer = await http.get("/metrics", headers=wrong)
            assert answer.status_code == 401
            assert answer.headers["www-authenticate"].startswith("Bearer")
        assert (await http.get("/metrics", headers=SCRAPE)).status_code == 200


LOOPBACK_CASES = [
    ("127.0.0.1", {}, 200),
    ("::1", {}, 200),
    ("::ffff:127.0.0.1", {}, 200),
    # Through a proxy on the same machine: the client is whoever the proxy serves.
    ("127.0.0.1", {"X-Forwarded-For": "127.0.0.1"}, 403),
    ("127.0.0.1", {"Forwarded": "for=127.0.0.1"}, 403),
    ("127.0.0.1", {"X-Real-IP": "127.0.0.1"}, 403),
    ("10.0.0.7", {}, 403),
]


async def test_without_a_token_metrics_answer_loopback_clients_not_through_a_proxy(
    database_url: str, smtp_port: int
) -> None:
    app = create_app(make_settings(database_url, smtp_port))
    async with LifespanManager(app):
        for client, headers, status in LOOPBACK_CASES:
            transport = httpx.ASGITransport(app=app, client=(client, 4242))
            async with httpx.AsyncClient(transport=transport) as http:
                answer = await http.get(f"{BASE_URL}/metrics", headers=headers)
            assert answer.status_code == status, (client, headers)


async def test_healthz_and_readyz(database_url: str, smtp_port: int) -> None:
    async with serve(make_settings(database_url, smtp_port)) as http:
        assert (await http.get("/healthz")).json() == {"status": "ok"}
        assert (await http.get("/readyz")).json() == {"status": "ready"}


async def test_readyz_is_503_while_the_database_is_behind_its_migrations(
    database_url: str, smtp_port: int, caplog: pytest.LogCaptureFixture
) -> None:
    async with serve(make_settings(database_url, smtp_port)) as http:
        connection = get_connection("default")
        rows = await connection.execute_query_dict(
            "SELECT id, name FROM tortoise_migrations ORDER BY id DESC LIMIT 1"
        )
        newest = rows[0]
        await sql.execute("DELETE FROM tortoise_migrations WHERE id = ?", [newest["id"]])
        behind = await http.get("/readyz")
        assert behind.status_code == 503
        assert behind.json()["reason"] == (
            "the database is behind its migrations: run `licensing migrate`"
        )
        # Which migration is for the log, not for whoever asks.
        assert newest["name"] in caplog.text
        assert (await http.get("/healthz")).status_code == 200


async def test_readyz_is_503_from_the_sigterm_on(database_url: str, smtp_port: int) -> None:
    """The app hears SIGTERM before the handler it found (uvicorn's, in production; here one
    that notes the signal, in place of pytest's default, which would end the run)."""
    heard: list[int] = []

    def note(signum: int, frame: object) -> None:
        heard.append(signum)

    previous = signal.signal(signal.SIGTERM, note)
    try:
        async with serve(make_settings(database_url, smtp_port)) as http:
            assert (await http.get("/readyz")).status_code == 200
            signal.raise_signal(signal.SIGTERM)
            answer = await http.get("/readyz")
            assert answer.status_code == 503
            assert answer.json() == {"status": "unavailable", "reason": "shutting down"}
            assert heard == [signal.SIGTERM]  # and then the handler found, which stops uvicorn
        # Once the app has stopped, the handler it found is back.
        assert signal.getsignal(signal.SIGTERM) == note
    finally:
        signal.signal(signal.SIGTERM, previous)


@pytest.mark.skipif(not ON_POSTGRES, reason="a database server to lose: PostgreSQL")
async def test_readyz_is_503_when_the_database_stops_answering(
    database_url: str, smtp_port: int
) -> None:
    """The service reaches PostgreSQL through a loopback relay that the test can stall."""
    async with Relay.to(database_url) as relay:
        settings = dataclasses.replace(make_settings(relay.url, smtp_port), metrics_token="t")
        async with serve(settings) as http:
            assert (await http.get("/readyz")).status_code == 200
            relay.stall()
            stalled = await http.get("/readyz")
            assert stalled.status_code == 503
            assert stalled.json()["reason"] == "the database did not answer within 1 s"
            assert (await http.get("/healthz")).status_code == 200
            # The metrics still answer, without what only the database knows.
            scraped = await http.get("/metrics", headers={"Authorization": "Bearer t"})
            assert scraped.status_code == 200
            assert value(parse(scraped.text), "licensing_backlogs_read") == 0
            assert "licensing_email_backlog " not in scraped.text
            relay.resume()
            assert (await _until_readyz(http, 200)).status_code == 200
            relay.refuse()
            refused = await _until_readyz(http, 503)
            # The database's name, host and user stay in the log.
            assert refused.json()["reason"] == "the database cannot be reached"


async def _until_readyz(http: httpx.AsyncClient, status: int) -> httpx.Response:
    for _ in range(100):
        answer = await http.get("/readyz")
        if answer.status_code == status:
            return answer
        await asyncio.sleep(0.1)
    raise AssertionError(f"/readyz never answered {status}")


class Relay:
    """A TCP relay on loopback in front of the test database; `stall` holds every byte back
    (a database that accepts connections but no longer answers) until `resume`."""

    def __init__(self, target_host: str, target_port: int, database_url: str) -> None:
        self.target = (target_host, target_port)
        self.port = free_port()
        self.url = database_url.replace(f"{target_host}:{target_port}", f"127.0.0.1:{self.port}")
        self.flowing = asyncio.Event()
        self.flowing.set()
        self.refusing = False
        self._tasks: set[asyncio.Task[None]] = set()

    @classmethod
    @asynccontextmanager
    async def to(cls, database_url: str) -> AsyncIterator[Relay]:
        address = database_url.split("@", 1)[1].split("/", 1)[0]
        host, port = address.rsplit(":", 1)
        relay = cls(host, int(port), database_url)
        server = await asyncio.start_server(relay._connect, "127.0.0.1", relay.port)
        try:
            yield relay
        finally:
            relay.resume()
            server.close()
            for task in relay._tasks:
                task.cancel()

    def stall(self) -> None:
        self.flowing.clear()

    def refuse(self) -> None:
        """Cut every connection, and refuse the new ones (a database server that went away)."""
        self.refusing = True
        for task in self._tasks:
            task.cancel()

    def resume(self) -> None:
        self.flowing.set()

    async def _connect(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.refusing:
            writer.close()
            return
        upstream_reader, upstream_writer = await asyncio.open_connection(*self.target)
        for source, sink in ((reader, upstream_writer), (upstream_reader, writer)):
            task = asyncio.create_task(self._pipe(source, sink))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _pipe(self, source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
        try:
            while chunk := await source.read(65536):
                await self.flowing.wait()
                sink.write(chunk)
                await sink.drain()
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            sink.close()
