"""Quotes for a company's contract: the database facts fed to the pure pricing rules."""

from __future__ import annotations

import datetime as dt

from models.contract import Contract, LicensePool
from models.enums import LicenseKind
from services.access import CompanyFacts
from services.purchases.pricing import Quote, QuoteRequest, quote, validate_quantity
from services.subscription.reads import contract_of_company
from services.usage import STORAGE_GRANTING_KINDS


async def quote_for_contract(
    *, company: CompanyFacts, contract: Contract, kind: LicenseKind, quantity: int, today: dt.date
) -> Quote:
    totals = dict(await LicensePool.filter(contract_id=contract.id).values_list("kind", "total"))
    plan = contract.plan
    return quote(
        QuoteRequest(
            product=contract.product,
            kind=kind,
            quantity=quantity,
            today=today,
            expires_on=contract.expires_on,
            unit_price_minor=plan.price_minor(kind),
            currency=plan.currency,
            tax_rate_basis_points=company.tax_rate_basis_points,
            current_total=int(totals.get(kind, 0)),
            current_storage_totals=sum(int(totals.get(k, 0)) for k in STORAGE_GRANTING_KINDS),
            allowance_per_license_bytes=int(plan.storage_allowance_per_license_bytes),
        )
    )


async def quote_licenses(
    *, company: CompanyFacts, contract_id: int, kind: LicenseKind, quantity: int, today: dt.date
) -> Quote:
    """What the side panel shows: nothing is stored, nothing is sent."""
    contract = await contract_of_company(
        company_id=company.id, contract_id=contract_id, field="contractId"
    )
    validate_quantity(quantity)
    return await quote_for_contract(
        company=company, contract=contract, kind=kind, quantity=quantity, today=today
    )
