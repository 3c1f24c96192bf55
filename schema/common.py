"""Types shared by every part of the schema: Node, PageInfo, Money, enums, UserError."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from enum import Enum
from typing import Any, Protocol, TypeVar

import strawberry

from models.enums import LicenseKind as LicenseKindEnum
from models.enums import Product as ProductEnum
from models.enums import Role as RoleEnum
from resolvers.pagination import id_cursor
from schema.scalars import Int64
from services.money import format_money

T = TypeVar("T")

Product = strawberry.enum(ProductEnum, name="Product", description="A product section.")
LicenseKind = strawberry.enum(LicenseKindEnum, name="LicenseKind", description="License kind.")
Role = strawberry.enum(RoleEnum, name="Role", description="A user's role in their company.")


@strawberry.enum(description="How often a license price is charged.")
class BillingPeriod(Enum):
    MONTH = "MONTH"
    DAY = "DAY"


@strawberry.interface(
    description="Relay object identification: every object with an id can be refetched with "
    "Query.node."
)
class Node:
    id: strawberry.ID = strawberry.field(
        description="Opaque global id (base64 of 'TypeName:pk'); never a bare database key."
    )


@strawberry.type(description="Where a page of a connection stands.")
class PageInfo:
    has_next_page: bool
    has_previous_page: bool
    start_cursor: str | None
    end_cursor: str | None


class KeysetPage(Protocol):
    """A page of rows keyed by id (services' Page)."""

    @property
    def rows(self) -> Sequence[Any]: ...

    @property
    def has_next_page(self) -> bool: ...


def id_page_info(page: KeysetPage, after: str | None) -> PageInfo:
    """The bounds of a page of a connection keyed by id alone."""
    return page_info(
        page.rows,
        lambda row: id_cursor(row.id),
        has_next_page=page.has_next_page,
        has_previous_page=bool(after),
    )


def page_info(
    rows: Sequence[T], cursor: Callable[[T], str], *, has_next_page: bool, has_previous_page: bool
) -> PageInfo:
    """The page's bounds: only its first and last rows' cursors are made."""
    return PageInfo(
        has_next_page=has_next_page,
        has_previous_page=has_previous_page,
        start_cursor=cursor(rows[0]) if rows else None,
        end_cursor=cursor(rows[-1]) if rows else None,
    )


@strawberry.type(description="An amount of money.")
class Money:
    amount_minor: Int64 = strawberry.field(
        description="Amount in minor units (pence for GBP). Integer; no floats anywhere in money."
    )
    currency: str = strawberry.field(description="ISO 4217 code, e.g. GBP.")
    formatted: str = strawberry.field(description="Human form, e.g. '£1,234.50'.")

    @classmethod
    def of(cls, amount_minor: int, currency: str) -> Money:
        return cls(
            amount_minor=Int64(amount_minor),
            currency=currency,
            formatted=format_money(amount_minor, currency),
        )


class PricedPlan(Protocol):
    @property
    def currency(self) -> str: ...

    def price_minor(self, kind: LicenseKindEnum) -> int: ...


@strawberry.type(description="Price of one license kind.")
class LicensePrice:
    kind: LicenseKindEnum
    unit_amount: Money = strawberry.field(description="Price of one license for one period.")
    period: BillingPeriod = strawberry.field(
        description="MONTH for CONTRACTED and MONTHLY, DAY for DAILY."
    )

    @classmethod
    def of(cls, plan: PricedPlan, kind: LicenseKindEnum) -> LicensePrice:
        return cls(
            kind=kind,
            unit_amount=Money.of(plan.price_minor(kind), plan.currency),
            period=BillingPeriod.DAY if kind == LicenseKindEnum.DAILY else BillingPeriod.MONTH,
        )
