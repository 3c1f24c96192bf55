"""What emails and pages show of a purchase, formatted for people."""

from __future__ import annotations

from dataclasses import dataclass

from jinja2 import Environment, PackageLoader, select_autoescape

from services.money import format_money
from services.purchases.pricing import Quote
from services.renewal.pricing import RenewalQuote

templates = Environment(
    loader=PackageLoader("licensing", "templates"),
    autoescape=select_autoescape(["html"]),
    keep_trailing_newline=True,
)


@dataclass(frozen=True)
class Line:
    description: str
    amount: str


@dataclass(frozen=True)
class PurchaseView:
    company: str
    requested_by: str
    product: str
    kind: str
    quantity: str
    current_total: str
    new_total: str
    starts_on: str
    commitment_ends_on: str
    current_allowance: str
    new_allowance: str
    lines: list[Line]
    total: str


def _bytes(size: int) -> str:
    gib = size / 1024**3
    return f"{gib:,.0f} GB" if gib == int(gib) else f"{gib:,.1f} GB"


def purchase_view(*, company: str, requested_by: str | None, quote: Quote) -> PurchaseView:
    def money(amount: int) -> str:
        return format_money(amount, quote.currency)

    return PurchaseView(
        company=company,
        requested_by=requested_by or "Someone at your company",
        product=quote.product.title(),
        kind=quote.kind.title(),
        quantity=f"{quote.quantity:,}",
        current_total=f"{quote.current_total:,}",
        new_total=f"{quote.new_total:,}",
        starts_on=quote.starts_on.isoformat(),
        commitment_ends_on=(
            quote.commitment_ends_on.isoformat() if quote.commitment_ends_on else "Rolling"
        ),
        current_allowance=_bytes(quote.current_allowance_bytes),
        new_allowance=_bytes(quote.new_allowance_bytes),
        lines=[Line(line.description, money(line.amount_minor)) for line in quote.lines],
        total=money(quote.total_minor),
    )


@dataclass(frozen=True)
class RenewalView:
    company: str
    requested_by: str
    product: str
    contracted: str
    current_contracted: str
    term_starts_on: str
    term_expires_on: str
    current_allowance: str
    new_allowance: str
    monthly: str
    lines: list[Line]
    total: str


def renewal_view(*, company: str, requested_by: str | None, quote: RenewalQuote) -> RenewalView:
    def money(amount: int) -> str:
        return format_money(amount, quote.currency)

    return RenewalView(
        company=company,
        requested_by=requested_by or "Someone at your company",
        product=quote.product.title(),
        contracted=f"{quote.contracted_licenses:,}",
        current_contracted=f"{quote.current_contracted_licenses:,}",
        term_starts_on=quote.term_starts_on.isoformat(),
        term_expires_on=quote.term_expires_on.isoformat(),
        current_allowance=_bytes(quote.current_allowance_bytes),
        new_allowance=_bytes(quote.new_allowance_bytes),
        monthly=money(quote.monthly_minor),
        lines=[Line(line.description, money(line.amount_minor)) for line in quote.lines],
        total=money(quote.total_minor),
    )
