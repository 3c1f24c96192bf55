"""The naive reference: the dashboard read through Tortoise's models the plainest way.

What anyone would write first: `prefetch_related` for the plan, pools and storage (4 SELECTs),
Tortoise model instances, no token, no rules. The project must be at least this fast.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager

import strawberry
from starlette.applications import Starlette
from starlette.routing import Route
from strawberry.asgi import GraphQL
from strawberry.extensions import SchemaExtension

from bench import reference_apps as shapes
from licensing import db
from models.contract import Contract
from models.enums import KIND_ORDER

KINDS = [str(kind) for kind in KIND_ORDER]
PERIOD = {"CONTRACTED": "MONTH", "MONTHLY": "MONTH", "DAILY": "DAY"}


def _money(amount: int) -> shapes.Money:
    return shapes.Money(amount_minor=str(amount), currency="GBP", formatted=f"£{amount / 100:,.2f}")


def _contract(row: Contract) -> shapes.Contract:
    plan = row.plan
    prices = {
        "CONTRACTED": plan.contracted_price_minor,
        "MONTHLY": plan.monthly_price_minor,
        "DAILY": plan.daily_price_minor,
    }
    pools = sorted(row.pools, key=lambda pool: KINDS.index(pool.kind))
    granting = sum(pool.total for pool in pools if pool.kind != "DAILY")
    allowance = plan.storage_allowance_per_license_bytes * granting
    used = row.storage_usage.used_bytes if row.storage_usage else 0
    return shapes.Contract(
        id=strawberry.ID(f"c{row.id}"),
        product=str(row.product),
        starts_on=row.starts_on,
        expires_on=row.expires_on,
        plan=shapes.Plan(
            name=plan.name,
            storage_allowance_per_license_bytes=str(plan.storage_allowance_per_license_bytes),
            prices=[
                shapes.LicensePrice(
                    kind=kind, period=PERIOD[kind], unit_amount=_money(prices[kind])
                )
                for kind in KINDS
            ],
        ),
        license_pools=[
            shapes.LicensePool(
                id=strawberry.ID(f"p{pool.id}"),
                kind=str(pool.kind),
                total=pool.total,
                assigned=pool.assigned,
                pending=0,
            )
            for pool in pools
        ],
        usage=shapes.Usage(
            used_bytes=str(used),
            allowance_bytes=str(allowance),
            percent_used=round(used * 100 / allowance, 1) if allowance else 0.0,
        ),
    )


def naive_dashboard_app(
    database_url: str, extensions: Sequence[Callable[[], SchemaExtension]]
) -> Starlette:
    @strawberry.type
    class Query:
        @strawberry.field
        async def subscription(self) -> shapes.Subscription:
            rows = await Contract.filter(company_id=1).prefetch_related(
                "plan", "pools", "storage_usage"
            )
            contracts = [_contract(row) for row in rows]
            used = sum(int(c.usage.used_bytes) for c in contracts)
            allowance = sum(int(c.usage.allowance_bytes) for c in contracts)
            return shapes.Subscription(
                id=strawberry.ID("s1"),
                usage=shapes.Usage(
                    used_bytes=str(used),
                    allowance_bytes=str(allowance),
                    percent_used=round(used * 100 / allowance, 1) if allowance else 0.0,
                ),
                contracts=contracts,
                company=shapes.Company(data=shapes.CompanyData(users=[])),
            )

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with db.orm(database_url):
            yield

    graphql = GraphQL(strawberry.Schema(query=Query, extensions=list(extensions)))
    return Starlette(
        routes=[Route("/graphql", graphql, methods=["GET", "POST"])], lifespan=lifespan
    )
