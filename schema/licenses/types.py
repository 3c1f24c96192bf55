"""The company, its users and the licenses they hold."""

from __future__ import annotations

import datetime as dt
from typing import cast

import strawberry
from strawberry import Private

from models.enums import LicenseKind, Product, Role
from resolvers import licenses as resolve
from resolvers.ids import encode_id
from schema.common import Node, PageInfo, page_info
from schema.selection import selects
from services.access import CompanyInfo
from services.licenses.users import HeldLicense, UserView


@strawberry.type(description="A license a user holds for one product.")
class LicenseAssignment:
    product: Product
    kind: LicenseKind
    assigned_at: dt.datetime

    @classmethod
    def of(cls, held: HeldLicense) -> LicenseAssignment:
        return cls(product=held.product, kind=held.kind, assigned_at=held.assigned_at)


@strawberry.type(description="A person of the company.")
class User(Node):
    name: str
    email: str
    role: Role
    pk: Private[int]
    # Read with the users page, for all its users in one statement; None elsewhere.
    held: Private[list[HeldLicense] | None] = None

    @classmethod
    def of(cls, row: UserView, held: list[HeldLicense] | None = None) -> User:
        return cls(
            id=strawberry.ID(encode_id("User", row.id)),
            name=row.name,
            email=row.email,
            role=row.role,
            pk=row.id,
            held=held,
        )

    @strawberry.field(description="The user's company.")
    def company(self, info: strawberry.Info) -> Company:
        # Users are only ever reachable within the viewer's own company.
        return Company.of(info.context.viewer.company)

    @strawberry.field(description="The licenses this user holds, at most one per product.")
    def licenses(self, info: strawberry.Info) -> list[LicenseAssignment]:
        if self.held is None:
            # A user on their own (viewer, node, a payload): read when asked, batched. GraphQL
            # awaits what a resolver returns; the users page's hundred users need no awaiting.
            return cast(list[LicenseAssignment], self._read_licenses(info))
        return [LicenseAssignment.of(held) for held in self.held]

    async def _read_licenses(self, info: strawberry.Info) -> list[LicenseAssignment]:
        return [
            LicenseAssignment.of(held)
            for held in await resolve.licenses_held(info.context, self.pk)
        ]


@strawberry.type(description="A user and where it stands in the connection.")
class UserEdge:
    node: User
    cursor: str


@strawberry.type(description="A page of users.")
class UserConnection:
    edges: list[UserEdge]
    page_info: PageInfo
    total_count: int = strawberry.field(description="All users of the company, on every page.")


@strawberry.type(description="A customer company.")
class Company(Node):
    name: str
    email: str = strawberry.field(
        description="The address in the company details: every purchase confirmation goes here."
    )
    tax_rate_basis_points: int = strawberry.field(
        description="Tax applied to cost breakdowns, in basis points (2000 = 20% VAT)."
    )
    currency: str
    pk: Private[int]

    @classmethod
    def of(cls, row: CompanyInfo) -> Company:
        return cls(
            id=strawberry.ID(encode_id("Company", row.id)),
            name=row.name,
            email=row.email,
            tax_rate_basis_points=row.tax_rate_basis_points,
            currency=row.currency,
            pk=row.id,
        )

    @strawberry.field(description="Ordered by name, then id. first defaults to 50, at most 100.")
    async def users(
        self,
        info: strawberry.Info,
        first: int | None = None,
        after: str | None = None,
    ) -> UserConnection:
        with_licenses = selects(info, "edges", "node", "licenses")
        page, held = await resolve.company_users(
            info.context, self.pk, first, after, with_licenses=with_licenses
        )
        edges = [
            UserEdge(
                node=User.of(row, held.get(row.id, []) if with_licenses else None),
                cursor=resolve.user_cursor(row),
            )
            for row in page.users
        ]
        cursors = [edge.cursor for edge in edges]
        return UserConnection(
            edges=edges,
            page_info=page_info(
                cursors, has_next_page=page.has_next_page, has_previous_page=bool(after)
            ),
            total_count=page.total_count,
        )
