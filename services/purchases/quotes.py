"""Quotes for a company's contract: the database facts fed to the pure pricing rules."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass

from models.enums import LicenseKind
from services.access import CompanyFacts
from services.purchases.pricing import Quote, QuoteRequest, quote
from services.subscription.reads import ContractView, PoolView, contract_and_pools
from services.usage import STORAGE_GRANTING_KINDS


def quote_for_contract(
    *,
    company: CompanyFacts,
    contract: ContractView,
    pools: Mapping[LicenseKind, PoolView],
    kind: LicenseKind,
    quantity: int,
    today: dt.date,
) -> Quote:
    def total(of: LicenseKind) -> int:
        return pools[of].total if of in pools else 0

    return quote(
        QuoteRequest(
            product=contract.product,
            kind=kind,
            quantity=quantity,
            today=today,
            expires_on=contract.expires_on,
            unit_price_minor=contract.plan.price_minor(kind),
            currency=contract.plan.currency,
            tax_rate_basis_points=company.tax_rate_basis_points,
            current_total=total(kind),
            current_storage_totals=sum(total(k) for k in STORAGE_GRANTING_KINDS),
            allowance_per_license_bytes=contract.plan.storage_per_license_bytes,
        )
    )


@dataclass(frozen=True)
class PricedQuote:
    contract: ContractView
    pool: PoolView
    quote: Quote


async def price(
    *, company: CompanyFacts, contract_id: int, kind: LicenseKind, quantity: int, now: dt.datetime
) -> PricedQuote:
    """The quote for adding `quantity` licenses of `kind` to one of the company's contracts."""
    contract, pools = await contract_and_pools(
        company_id=company.id, contract_id=contract_id, field="contractId"
    )
    frozen = quote_for_contract(
        company=company,
        contract=contract,
        pools=pools,
        kind=kind,
        quantity=quantity,
        today=now.date(),
    )
    return PricedQuote(contract=contract, pool=pools[kind], quote=frozen)


async def quote_licenses(
    *, company: CompanyFacts, contract_id: int, kind: LicenseKind, quantity: int, now: dt.datetime
) -> Quote:
    """What the side panel shows: nothing is stored, nothing is sent."""
    priced = await price(
        company=company, contract_id=contract_id, kind=kind, quantity=quantity, now=now
    )
    return priced.quote
