"""The company, its users and the licenses they hold."""

from __future__ import annotations

import datetime as dt

import strawberry
from strawberry import Private

from models import company as company_models
from models import user as user_models
from models.enums import LicenseKind, Product, Role
from resolvers import licenses as resolve
from resolvers.ids import encode_id
from schema.common import Node, PageInfo, page_info


@strawberry.type(description="A license a user holds for one product.")
class LicenseAssignment:
    product: Product
    kind: LicenseKind
    assigned_at: dt.datetime

    @classmethod
    def from_model(cls, row: user_models.LicenseAssignment) -> LicenseAssignment:
        return cls(
            product=row.product, kind=LicenseKind(row.pool.kind), assigned_at=row.assigned_at
        )


@strawberry.type(description="A person of the company.")
class User(Node):
    name: str
    email: str
    role: Role
    pk: Private[int]

    @classmethod
    def from_model(cls, row: user_models.User) -> User:
        return cls(
            id=strawberry.ID(encode_id("User", row.id)),
            name=row.name,
            email=row.email,
            role=row.role,
            pk=row.id,
        )

    @strawberry.field(description="The user's company.")
    def company(self, info: strawberry.Info) -> Company:
        # Users are only ever reachable within the viewer's own company.
        return Company.from_model(info.context.viewer.company)

    @strawberry.field(description="The licenses this user holds, at most one per product.")
    async def licenses(self, info: strawberry.Info) -> list[LicenseAssignment]:
        rows = await resolve.licenses_held(info.context, self.pk)
        return [LicenseAssignment.from_model(row) for row in rows]


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
    def from_model(cls, row: company_models.Company) -> Company:
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
        page = await resolve.company_users(info.context, self.pk, first, after)
        edges = [
            UserEdge(node=User.from_model(row), cursor=resolve.user_cursor(row))
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
