"""The company, its users and the licenses they hold."""

from __future__ import annotations

import datetime as dt
from collections.abc import Generator
from typing import Any, cast

import strawberry
from strawberry import Private

from models.enums import LicenseKind, Product, Role
from resolvers import licenses as resolve
from resolvers.context import RequestContext
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


class _LicensesWhenAsked:
    """A user's licenses, read only if GraphQL awaits them (a user on their own: the viewer, a
    node, a payload), batched with the other users' of the request."""

    def __init__(self, context: RequestContext, user_id: int) -> None:
        self.context = context
        self.user_id = user_id

    def __await__(self) -> Generator[Any, None, list[HeldLicense]]:
        return resolve.licenses_held(self.context, self.user_id).__await__()


@strawberry.type(description="A person of the company.")
class User(Node):
    name: str
    email: str
    role: Role
    licenses: list[LicenseAssignment] = strawberry.field(
        description="The licenses this user holds, at most one per product."
    )
    pk: Private[int]

    @classmethod
    def of(
        cls,
        row: UserView,
        context: RequestContext,
        held: list[HeldLicense] | None = None,
    ) -> User:
        """`held`: the user's licenses, read beforehand with the users page they are on."""
        # A HeldLicense has LicenseAssignment's fields: GraphQL reads them from it as it is.
        licenses = cast(
            list[LicenseAssignment],
            held if held is not None else _LicensesWhenAsked(context, row.id),
        )
        return cls(
            id=strawberry.ID(encode_id("User", row.id)),
            name=row.name,
            email=row.email,
            role=row.role,
            licenses=licenses,
            pk=row.id,
        )

    @strawberry.field(description="The user's company.")
    def company(self, info: strawberry.Info) -> Company:
        # Users are only ever reachable within the viewer's own company.
        return Company.of(info.context.viewer.company)


@strawberry.type(description="A user and where it stands in the connection.")
class UserEdge:
    node: User
    row: Private[UserView]

    @strawberry.field(description="Where this user stands, for `after`.")
    def cursor(self) -> str:
        # Made only when asked: pages are mostly read with pageInfo.endCursor alone.
        return resolve.user_cursor(self.row)


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
                node=User.of(row, info.context, held.get(row.id, []) if with_licenses else None),
                row=row,
            )
            for row in page.users
        ]
        return UserConnection(
            edges=edges,
            page_info=page_info(
                page.users,
                resolve.user_cursor,
                has_next_page=page.has_next_page,
                has_previous_page=bool(after),
            ),
            total_count=page.total_count,
        )
