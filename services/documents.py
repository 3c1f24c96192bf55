"""Contract documents: the master agreement of each contract and the listing/download reads."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Sequence
from functools import partial
from typing import Any

from models.company import Company
from models.contract import Contract
from models.document import ContractDocument, DocumentKind
from models.enums import KIND_ORDER, LicenseKind
from models.plan import Plan
from services.errors import NotFound
from services.money import format_money
from services.pdf import PdfSection, render_pdf
from services.pricing import Quote


def master_agreement_signed_at(starts_on: dt.date) -> dt.datetime:
    return dt.datetime.combine(starts_on, dt.time(0, 0), tzinfo=dt.UTC)


def _master_terms(
    company: Company, contract: Contract, plan: Plan, totals: dict[LicenseKind, int]
) -> dict[str, object]:
    return {
        "company": company.name,
        "companyEmail": company.email,
        "product": str(contract.product),
        "plan": plan.name,
        "currency": plan.currency,
        "startsOn": contract.starts_on.isoformat(),
        "expiresOn": contract.expires_on.isoformat(),
        "storageAllowancePerLicenseBytes": int(plan.storage_allowance_per_license_bytes),
        "pools": {str(kind): totals.get(kind, 0) for kind in KIND_ORDER},
        "prices": {str(kind): plan.price_minor(kind) for kind in KIND_ORDER},
    }


def _render_master(terms: dict[str, object], plan: Plan, signed_at: dt.datetime) -> bytes:
    pools = terms["pools"]
    assert isinstance(pools, dict)
    period = {LicenseKind.DAILY: "day"}
    return render_pdf(
        title=f"Master agreement: {terms['product']}, {terms['plan']}",
        intro=(
            f"This agreement between the service provider and {terms['company']} "
            f"({terms['companyEmail']}) sets out the {terms['product']} subscription below."
        ),
        sections=[
            PdfSection(
                "Term",
                [
                    ("Plan", str(terms["plan"])),
                    ("Starts on", str(terms["startsOn"])),
                    ("Expires on", str(terms["expiresOn"])),
                    ("Storage per license", f"{plan.storage_allowance_per_license_bytes} bytes"),
                ],
            ),
            PdfSection(
                "Licenses and prices",
                [
                    (
                        f"{kind.title()} licenses",
                        f"{pools[str(kind)]} at "
                        f"{format_money(plan.price_minor(kind), plan.currency)} per "
                        f"{period.get(kind, 'month')}",
                    )
                    for kind in KIND_ORDER
                ],
            ),
        ],
        created_at=signed_at,
    )


async def ensure_master_agreement(
    *, company: Company, contract: Contract, plan: Plan, totals: dict[LicenseKind, int]
) -> bool:
    """Create or refresh the contract's master agreement PDF. True when it changed."""
    terms = _master_terms(company, contract, plan, totals)
    content_hash = hashlib.sha256(json.dumps(terms, sort_keys=True).encode()).hexdigest()
    existing = await ContractDocument.filter(
        contract_id=contract.id, kind=DocumentKind.MASTER_AGREEMENT
    ).first()
    if existing is not None and existing.content_hash == content_hash:
        return False
    signed_at = master_agreement_signed_at(contract.starts_on)
    values: dict[str, Any] = {
        "title": f"Master agreement ({contract.product.title()}, {plan.name})",
        "signed_at": signed_at,
        "content_hash": content_hash,
        "pdf": _render_master(terms, plan, signed_at),
    }
    if existing is None:
        await ContractDocument.create(
            contract_id=contract.id, kind=DocumentKind.MASTER_AGREEMENT, **values
        )
    else:
        await ContractDocument.filter(id=existing.id).update(**values)
    return True


def _breakdown_sections(quote: Quote) -> list[PdfSection]:
    money = partial(format_money, currency=quote.currency)
    return [
        PdfSection(
            "Contract breakdown",
            [
                ("Product", quote.product.title()),
                ("License type", quote.kind.title()),
                ("Licenses added", f"{quote.quantity:,}"),
                ("Licenses before / after", f"{quote.current_total:,} / {quote.new_total:,}"),
                ("Billed from", quote.starts_on.isoformat()),
                (
                    "Commitment ends",
                    quote.commitment_ends_on.isoformat() if quote.commitment_ends_on else "Rolling",
                ),
                ("Storage allowance after", f"{quote.new_allowance_bytes:,} bytes"),
            ],
        ),
        PdfSection(
            "Cost breakdown",
            [
                *((line.description, money(line.amount_minor)) for line in quote.lines),
                ("Total commitment", money(quote.total_minor)),
            ],
        ),
    ]


async def create_addendum(
    *,
    company: Company,
    contract_id: int,
    purchase_id: int,
    quote: Quote,
    signer_name: str,
    signed_at: dt.datetime,
) -> ContractDocument:
    """The signed addendum of one purchase: both breakdowns, the signer and the time."""
    noun = "license" if quote.quantity == 1 else "licenses"
    title = f"Addendum: {quote.quantity:,} {quote.kind.title()} {noun} ({quote.product.title()})"
    signature = PdfSection(
        "Signature",
        [
            ("Signed by", signer_name),
            ("Signed at", signed_at.isoformat(timespec="seconds")),
            ("Purchase reference", str(purchase_id)),
        ],
    )
    pdf = render_pdf(
        title=title,
        intro=f"This addendum to the agreement with {company.name} adds the licenses below.",
        sections=[*_breakdown_sections(quote), signature],
        created_at=signed_at,
    )
    return await ContractDocument.create(
        contract_id=contract_id,
        kind=DocumentKind.ADDENDUM,
        title=title,
        signed_at=signed_at,
        content_hash=hashlib.sha256(pdf).hexdigest(),
        pdf=pdf,
    )


async def documents_for_contracts(contract_ids: Sequence[int]) -> list[ContractDocument]:
    """Document metadata (never the PDF bytes), newest first by signedAt."""
    return (
        await ContractDocument.filter(contract_id__in=list(contract_ids))
        .only("id", "contract_id", "kind", "title", "signed_at")
        .order_by("-signed_at", "-id")
    )


async def document_pdf(document_id: int) -> tuple[str, bytes]:
    """Title and PDF bytes. Callers have already verified the signed link."""
    row = await ContractDocument.filter(id=document_id).only("id", "title", "pdf").first()
    if row is None:
        raise NotFound("This document no longer exists.")
    return row.title, bytes(row.pdf)
