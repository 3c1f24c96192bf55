"""Shared fixtures: a real migrated database file per test, the real app over HTTP."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager

from licensing import db
from licensing.app import create_app
from licensing.settings import Clock, Settings
from services.fixtures import load_fixture_text
from services.tokens import create_token

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
def migrated_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One database migrated once; every test gets its own copy of the file."""
    import asyncio

    path = tmp_path_factory.mktemp("template") / "template.db"
    asyncio.run(db.apply_migrations(f"sqlite://{path}"))
    return path


@pytest.fixture
def database_url(migrated_template: Path, tmp_path: Path) -> str:
    path = tmp_path / "licensing.db"
    shutil.copy(migrated_template, path)
    return f"sqlite://{path}"


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings(
        database_url=database_url,
        public_base_url=BASE_URL,
        secret_key="test-secret",
        clock=Clock(pinned_today=TODAY),
    )


@pytest.fixture
async def client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """The real ASGI app, its lifespan run, spoken to over HTTP."""
    app = create_app(settings)
    async with (
        LifespanManager(app) as manager,
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=manager.app), base_url=BASE_URL
        ) as http,
    ):
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
    return body


def error_codes(body: dict[str, Any]) -> list[str]:
    return [error["extensions"]["code"] for error in body.get("errors", [])]
