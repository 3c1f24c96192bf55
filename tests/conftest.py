"""Shared fixtures: a real migrated database file per test, the real app over HTTP."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from starlette.applications import Starlette

from bench.smtp import SmtpServer, free_port
from licensing.app import create_app
from licensing.settings import Clock, Settings
from services.fixtures import load_fixture_text
from services.protection.tokens import create_token
from tests.databases import Databases, databases

REPO = Path(__file__).resolve().parent.parent
CONTRACT_DIR = REPO.parent / "shared" / "contract"
EXAMPLE_FIXTURE = REPO / "licensing" / "demo_fixture.json"
TODAY = dt.date(2026, 11, 26)
BASE_URL = "http://licensing.test"

ACME = {
    "owner": "olivia@acme-heating.example",
    "finance": "frank@acme-heating.example",
    "office": "oscar@acme-heating.example",
    "engineer": "erin@acme-heating.example",
}


@pytest.fixture(scope="session")
def test_databases(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Databases]:
    """Migrated once per session (SQLite file or PostgreSQL template database)."""
    created = databases(tmp_path_factory.mktemp("template"))
    yield created
    created.close()


@pytest.fixture
async def database_url(test_databases: Databases, tmp_path: Path) -> AsyncIterator[str]:
    """A fresh migrated database of its own for every test."""
    url = await test_databases.create(tmp_path)
    yield url
    await test_databases.drop(url)


@pytest.fixture
async def empty_database_url(test_databases: Databases, tmp_path: Path) -> AsyncIterator[str]:
    """A database of its own with no tables at all (never migrated)."""
    url = await test_databases.create_empty(tmp_path)
    yield url
    await test_databases.drop(url)


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    """A real SMTP server, started; the service sends to it."""
    server = SmtpServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def smtp_port() -> int:
    """Where the service sends mail when a test asks for no server: nothing listens there."""
    return free_port()


def make_settings(database_url: str, smtp_port: int, today: dt.date = TODAY) -> Settings:
    return Settings(
        database_url=database_url,
        public_base_url=BASE_URL,
        secret_key="test-secret",
        smtp_host="127.0.0.1",
        smtp_port=smtp_port,
        outbox_poll_seconds=0.02,
        outbox_retry_base_seconds=0.05,
        clock=Clock(pinned_today=today),
    )


@pytest.fixture
def settings(request: pytest.FixtureRequest, database_url: str) -> Settings:
    if "smtp" in request.fixturenames:
        port = request.getfixturevalue("smtp").port
    else:
        port = request.getfixturevalue("smtp_port")
    return make_settings(database_url, port)


@asynccontextmanager
async def serve(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """The real ASGI app, its lifespan run (database, outbox sender), spoken to over HTTP."""
    async with serve_app(create_app(settings)) as http:
        yield http


@asynccontextmanager
async def serve_app(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    """An app made by `create_app`, its lifespan run, spoken to over HTTP from 203.0.113.7."""
    async with (
        LifespanManager(app) as manager,
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=manager.app, client=("203.0.113.7", 4242)),
            base_url=BASE_URL,
        ) as http,
    ):
        yield http


@pytest.fixture
async def client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    async with serve(settings) as http:
        yield http


def fixture_text(**changes: Any) -> str:
    return json.dumps(json.loads(EXAMPLE_FIXTURE.read_text()) | changes)


@dataclass
class Acme:
    """The example fixture loaded, with a token per role."""

    tokens: dict[str, str]


@pytest.fixture
async def acme(client: httpx.AsyncClient, settings: Settings) -> Acme:
    await load_fixture_text(
        source="fixture.json", text=EXAMPLE_FIXTURE.read_text(), now=settings.clock.now()
    )
    tokens = {
        role: await create_token(email=email, now=settings.clock.now())
        for role, email in ACME.items()
    }
    return Acme(tokens=tokens)


OTHER_COMPANY = {
    "plans": [],
    "companies": [
        {
            "name": "Bolt Plumbing",
            "email": "office@bolt-plumbing.example",
            "taxRateBasisPoints": 2000,
            "currency": "GBP",
            "contracts": [
                {
                    "product": "JOBS",
                    "plan": "Customer Journey Plan",
                    "startsOn": "2026-03-01",
                    "expiresOn": "2027-02-28",
                    "pools": {"CONTRACTED": 4, "MONTHLY": 1, "DAILY": 0},
                    "usedBytes": 0,
                }
            ],
            "users": [
                {
                    "name": "Barry Bolt",
                    "email": "barry@bolt-plumbing.example",
                    "role": "OWNER_MANAGER",
                    "licenses": {"JOBS": "CONTRACTED"},
                }
            ],
        }
    ],
}


@pytest.fixture
async def other_company(acme: Acme, settings: Settings) -> str:
    """A second company (after Acme, which owns the plans); returns its owner's token."""
    await load_fixture_text(
        source="other.json", text=json.dumps(OTHER_COMPANY), now=settings.clock.now()
    )
    return await create_token(email="barry@bolt-plumbing.example", now=settings.clock.now())


async def gql(
    client: httpx.AsyncClient,
    query: str,
    variables: dict[str, Any] | None = None,
    *,
    token: str | None = None,
) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    response = await client.post(
        "/graphql", json={"query": query, "variables": variables or {}}, headers=headers
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    # Every response reports its cost (tests/test_protection.py checks it): set it aside.
    assert "cost" in body.pop("extensions"), body
    return body


def error_codes(body: dict[str, Any]) -> list[str]:
    return [error["extensions"]["code"] for error in body.get("errors", [])]


async def purchase_then_stop(
    settings: Settings, *, mail_arrives_at: SmtpServer | None = None
) -> tuple[str, str]:
    """Run the service once: load Acme, buy one daily license, stop. (purchase id, token)

    With `mail_arrives_at`, it stops only once the confirmation email has arrived there.
    """
    async with serve(settings) as http:
        await load_fixture_text(
            source="fixture.json", text=EXAMPLE_FIXTURE.read_text(), now=settings.clock.now()
        )
        token = await create_token(email=ACME["owner"], now=settings.clock.now())
        body = await gql(
            http,
            """mutation { purchaseLicenses(input: {contractId: "Q29udHJhY3Q6MQ==",
                kind: DAILY, quantity: 1}) { purchase { id } } }""",
            token=token,
        )
        if mail_arrives_at is not None:
            await mail_arrives_at.wait_for(1)
    return body["data"]["purchaseLicenses"]["purchase"]["id"], token


@pytest.fixture
async def acme_tokens_offline(database_url: str, smtp_port: int) -> dict[str, str]:
    """Acme loaded and a token per role, by a service run that has stopped since."""
    settings = make_settings(database_url, smtp_port)
    async with serve(settings):
        await load_fixture_text(
            source="fixture.json", text=EXAMPLE_FIXTURE.read_text(), now=settings.clock.now()
        )
        return {
            role: await create_token(email=email, now=settings.clock.now())
            for role, email in ACME.items()
        }
