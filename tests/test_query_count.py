"""No N+1: the dashboard runs the same number of SQL statements at 10 and at 1,000 users."""

from __future__ import annotations

import dataclasses

import httpx
import pytest

from bench.sql_count import count_sql
from licensing.settings import Settings
from models.contract import LicensePool
from models.enums import Product, Role
from models.user import LicenseAssignment, User
from tests.conftest import Acme, gql, make_settings

DASHBOARD_AND_USERS = """
{
  subscription {
    usage { usedBytes allowanceBytes percentUsed }
    contracts {
      product startsOn expiresOn
      plan { name storageAllowancePerLicenseBytes prices { kind period unitAmount { formatted } } }
      licensePools { kind total assigned available pending deletable }
      usage { percentUsed }
      documents { title signedAt downloadUrl }
    }
    company { users(first: 100) { totalCount edges { node { name role
      licenses { product kind assignedAt } } } } }
  }
}
"""


async def _grow_company_to(size: int, settings: Settings) -> None:
    company_id = (await User.get(email="olivia@acme-heating.example")).company_id
    existing = await User.filter(company_id=company_id).count()
    await User.bulk_create(
        [
            User(
                company_id=company_id,
                name=f"User {n:05}",
                email=f"user{n}@acme.example",
                role=Role.ENGINEER,
            )
            for n in range(existing, size)
        ]
    )
    pool = await LicensePool.get(
        contract__company_id=company_id, contract__product="JOBS", kind="CONTRACTED"
    )
    spare = pool.total - pool.assigned
    holders = await LicenseAssignment.filter(pool_id=pool.id).values_list("user_id", flat=True)
    newcomers = (
        await User.filter(email__startswith="user").exclude(id__in=holders).order_by("name")
    )[:spare]
    await LicenseAssignment.bulk_create(
        [
            LicenseAssignment(
                user=u, pool=pool, product=Product.JOBS, assigned_at=settings.clock.now()
            )
            for u in newcomers
        ]
    )
    await LicensePool.filter(id=pool.id).update(assigned=pool.assigned + len(newcomers))


async def _statements(client: httpx.AsyncClient, token: str) -> int:
    with count_sql() as counter:
        body = await gql(client, DASHBOARD_AND_USERS, token=token)
    assert "errors" not in body
    return counter.statements


@pytest.fixture
def settings(database_url: str, smtp_port: int) -> Settings:
    """Queries executed, not answered from the response cache: these tests count statements
    of execution and write around the services, which would not bump the data version."""
    return dataclasses.replace(make_settings(database_url, smtp_port), response_cache_bytes=0)


async def test_dashboard_query_count_is_constant(
    client: httpx.AsyncClient, acme: Acme, settings: Settings
) -> None:
    token = acme.tokens["owner"]
    await gql(client, "{ viewer { name } }", token=token)  # records the token's first use
    await _grow_company_to(10, settings)
    small = await _statements(client, token)
    await _grow_company_to(1000, settings)
    large = await _statements(client, token)
    users = await gql(client, "{ viewer { company { users { totalCount } } } }", token=token)
    assert small == large, (small, large)
    # The token, the rate-limit bucket, the company's snapshot (contracts, plans, pools, pending
    # and storage in one statement), the documents of both contracts (one statement), the users
    # page, its count, and the licenses of the page's users.
    assert large == 7
    assert users["data"]["viewer"]["company"]["users"]["totalCount"] == 1000
