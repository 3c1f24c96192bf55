"""Reference servers: what this stack does at best, with no rules (and no database but one).

    python -m bench.reference_apps {plain,typename,memory,tortoise} USERS PORT

`plain` is a Starlette route returning a fixed 335-byte JSON; `typename` is Strawberry
answering `{ __typename }`; `memory` is Strawberry answering the dashboard and users-page
documents (bench/documents.py) with the same shape from objects built in memory; `tortoise`
is the same Strawberry server reading the dashboard from DATABASE_URL the plainest way, with
Tortoise's `prefetch_related` (4 SELECTs: contracts, plans, pools, storage) and no token.

Each is as fast as the stack makes it: the plainest Strawberry schema with its parser and
validation caches and no other extension, uvicorn on uvloop and httptools, no access log.
"""

from __future__ import annotations

import datetime as dt
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass

import strawberry
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp
from strawberry.asgi import GraphQL
from strawberry.extensions import ParserCache, SchemaExtension, ValidationCache


def _plain_body(size: int = 335) -> bytes:
    head = b'{"data":{"subscription":{"id":"U3Vic2NyaXB0aW9uOjE=","padding":"'
    tail = b'"}}}'
    return head + b"x" * (size - len(head) - len(tail)) + tail


PLAIN_BODY = _plain_body()


def plain() -> Starlette:
    async def answer(request: Request) -> Response:
        return Response(PLAIN_BODY, media_type="application/json")

    return Starlette(routes=[Route("/graphql", answer, methods=["POST"])])


def _caches() -> list[Callable[[], SchemaExtension]]:
    return [lambda: ParserCache(maxsize=256), lambda: ValidationCache(maxsize=256)]


@strawberry.type
class TypenameQuery:
    hello: str = "world"


def typename() -> GraphQL[None, None]:
    return GraphQL(strawberry.Schema(query=TypenameQuery, extensions=_caches()))


@strawberry.type
class Money:
    amount_minor: str
    currency: str
    formatted: str


@strawberry.type
class LicensePrice:
    kind: str
    period: str
    unit_amount: Money


@strawberry.type
class Plan:
    name: str
    storage_allowance_per_license_bytes: str
    prices: list[LicensePrice]


@strawberry.type
class LicensePool:
    id: strawberry.ID
    kind: str
    total: int
    assigned: int
    pending: int

    @strawberry.field
    def available(self) -> int:
        return self.total - self.assigned

    @strawberry.field
    def deletable(self) -> bool:
        return self.kind != "CONTRACTED"


@strawberry.type
class Usage:
    used_bytes: str
    allowance_bytes: str
    percent_used: float


@strawberry.type
class Contract:
    id: strawberry.ID
    product: str
    starts_on: dt.date
    expires_on: dt.date
    plan: Plan
    license_pools: list[LicensePool]
    usage: Usage


@strawberry.type
class LicenseAssignment:
    product: str
    kind: str
    assigned_at: dt.datetime


@strawberry.type
class User:
    id: strawberry.ID
    name: str
    email: str
    role: str
    licenses: list[LicenseAssignment]


@strawberry.type
class UserEdge:
    node: User
    cursor: str


@strawberry.type
class PageInfo:
    has_next_page: bool
    end_cursor: str | None


@strawberry.type
class UserConnection:
    total_count: int
    page_info: PageInfo
    edges: list[UserEdge]


@dataclass
class CompanyData:
    users: list[User]


@strawberry.type
class Company:
    data: strawberry.Private[CompanyData]

    @strawberry.field
    def users(self, first: int = 50) -> UserConnection:
        page = self.data.users[:first]
        return UserConnection(
            total_count=len(self.data.users),
            page_info=PageInfo(has_next_page=len(self.data.users) > first, end_cursor=page[-1].id),
            edges=[UserEdge(node=user, cursor=user.id) for user in page],
        )


@strawberry.type
class Subscription:
    id: strawberry.ID
    usage: Usage
    contracts: list[Contract]
    company: Company


def _plan() -> Plan:
    prices = [
        LicensePrice(
            kind=kind,
            period=period,
            unit_amount=Money(amount_minor=amount, currency="GBP", formatted=f"£{amount}"),
        )
        for kind, period, amount in (
            ("CONTRACTED", "MONTH", "4500"),
            ("MONTHLY", "MONTH", "5500"),
            ("DAILY", "DAY", "450"),
        )
    ]
    return Plan(
        name="Customer Journey Plan",
        storage_allowance_per_license_bytes="5368709120",
        prices=prices,
    )


def _contract(number: int, product: str) -> Contract:
    pools = [
        LicensePool(
            id=strawberry.ID(f"p{number}{kind}"), kind=kind, total=10, assigned=2, pending=0
        )
        for kind in ("CONTRACTED", "MONTHLY", "DAILY")
    ]
    return Contract(
        id=strawberry.ID(f"c{number}"),
        product=product,
        starts_on=dt.date(2026, 1, 1),
        expires_on=dt.date(2027, 12, 31),
        plan=_plan(),
        license_pools=pools,
        usage=Usage(used_bytes="96636764160", allowance_bytes="107374182400", percent_used=90.0),
    )


def _users(count: int) -> list[User]:
    assigned = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    return [
        User(
            id=strawberry.ID(f"u{n}"),
            name=f"User {n:05}",
            email=f"user{n}@acme.example",
            role="ENGINEER",
            licenses=[LicenseAssignment(product="JOBS", kind="MONTHLY", assigned_at=assigned)],
        )
        for n in range(count)
    ]


def memory(users: int) -> GraphQL[None, None]:
    subscription = Subscription(
        id=strawberry.ID("s1"),
        usage=Usage(used_bytes="96636764160", allowance_bytes="107374182400", percent_used=90.0),
        contracts=[_contract(1, "JOBS"), _contract(2, "SALES")],
        company=Company(data=CompanyData(users=_users(users))),
    )

    @strawberry.type
    class Query:
        @strawberry.field
        def subscription(self) -> Subscription:
            return subscription

    return GraphQL(strawberry.Schema(query=Query, extensions=_caches()))


def tortoise(database_url: str) -> Starlette:
    """The dashboard read through Tortoise the plainest way, for company 1, no token."""
    from bench.naive_tortoise import naive_dashboard_app

    return naive_dashboard_app(database_url, _caches())


def main() -> None:
    name, users, port = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    apps: dict[str, Callable[[], ASGIApp]] = {
        "plain": plain,
        "typename": typename,
        "memory": lambda: memory(users),
        "tortoise": lambda: tortoise(os.environ["DATABASE_URL"]),
    }
    uvicorn.run(
        apps[name](),
        host="127.0.0.1",
        port=port,
        loop="uvloop",
        http="httptools",
        access_log=False,
        log_level="warning",
    )


if __name__ == "__main__":
    main()
