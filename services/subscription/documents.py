"""Contract documents: master agreements, signed addenda, and the listing/download reads.

A signed document is never rewritten. A master agreement states a contract's terms (plan,
prices, dates, CONTRACTED licenses) as they start; when terms change, a new one is added
beside the old. PDFs are rendered in a thread before the short transaction that stores them.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import asdict, dataclass
from functools import partial

from tortoise.expressions import Q

from models.contract import Contract
from models.document import ContractDocument, DocumentKind
from models.enums import KIND_ORDER, LicenseKind, Product
from models.plan import Plan
from services.errors import NotFound
from services.money import format_money
from services.pdf import PdfSection, render_pdf, render_pdf_in_thread
from services.purchases.pricing import Quote

PERIOD = {LicenseKind.CONTRACTED: "month", LicenseKind.MONTHLY: "month", LicenseKind.DAILY: "day"}


def master_agreement_signed_at(starts_on: dt.date) -> dt.datetime:
    return dt.datetime.combine(starts_on, dt.time(0, 0), tzinfo=dt.UTC)


@dataclass(frozen=True)
class MasterTerms:
    """What a master agreement states: the terms a contract's term starts with."""

    company_id: int
    contract_id: int
    company: str
    company_email: str
    product: Product
    plan: str
    currency: str
    starts_on: dt.date
    expires_on: dt.date
    storage_per_license_bytes: int
    contracted_licenses: int
    prices: tuple[tuple[LicenseKind, int], ...]

    @property
    def content_hash(self) -> str:
        """Of the terms only: a renamed company does not make a new agreement."""
        terms = asdict(self)
        for party in ("company_id", "company", "company_email"):
            del terms[party]
        return hashlib.sha256(json.dumps(terms, sort_keys=True, default=str).encode()).hexdigest()

    @property
    def title(self) -> str:
        return (
            f"Master agreement ({self.product.title()}, {self.plan}, "
            f"{self.starts_on.isoformat()} to {self.expires_on.isoformat()})"
        )


def master_terms(
    *, company_name: str, company_email: str, contract: Contract, plan: Plan, contracted: int
) -> MasterTerms:
    return MasterTerms(
        company_id=contract.company_id,
        contract_id=contract.id,
        company=company_name,
        company_email=company_email,
        product=Product(contract.product),
        plan=plan.name,
        currency=plan.currency,
        starts_on=contract.starts_on,
        expires_on=contract.expires_on,
        storage_per_license_bytes=int(plan.storage_allowance_per_license_bytes),
        contracted_licenses=contracted,
        prices=tuple((kind, plan.price_minor(kind)) for kind in KIND_ORDER),
    )


def _master_sections(terms: MasterTerms) -> list[PdfSection]:
    prices = dict(terms.prices)
    money = partial(format_money, currency=terms.currency)
    return [
        PdfSection(
            "Term",
            [
                ("Plan", terms.plan),
                ("Starts on", terms.starts_on.isoformat()),
                ("Expires on", terms.expires_on.isoformat()),
                ("Storage per license", f"{terms.storage_per_license_bytes:,} bytes"),
                ("Contracted licenses", f"{terms.contracted_licenses:,}"),
            ],
        ),
        PdfSection(
            "Prices",
            [
                (f"{kind.title()} license", f"{money(prices[kind])} per {PERIOD[kind]}")
                for kind in KIND_ORDER
            ],
        ),
    ]


async def render_master(terms: MasterTerms) -> bytes:
    return await render_pdf_in_thread(
        title=terms.title,
        intro=(
            f"This agreement between the service provider and {terms.company} "
            f"({terms.company_email}) sets out the {terms.product.title()} subscription below."
        ),
        sections=_master_sections(terms),
        created_at=master_agreement_signed_at(terms.starts_on),
    )


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


@dataclass(frozen=True)
class RenderedDocument:
    title: str
    pdf: bytes
    signed_at: dt.datetime


def addendum_title(quote: Quote) -> str:
    noun = "license" if quote.quantity == 1 else "licenses"
    return f"Addendum: {quote.quantity:,} {quote.kind.title()} {noun} ({quote.product.title()})"


def render_addendum(
    *, company: str, purchase_id: int, quote: Quote, signer_name: str, signed_at: dt.datetime
) -> RenderedDocument:
    """The signed addendum of one purchase: both breakdowns as signed, the signer and the time.

    CPU work: run it in a thread (`asyncio.to_thread`), outside any transaction.
    """
    signature = PdfSection(
        "Signature",
        [
            ("Signed by", signer_name),
            ("Signed at", signed_at.isoformat(timespec="seconds")),
            ("Purchase reference", str(purchase_id)),
        ],
    )
    title = addendum_title(quote)
    pdf = render_pdf(
        title=title,
        intro=f"This addendum to the agreement with {company} adds the licenses below.",
        sections=[*_breakdown_sections(quote), signature],
        created_at=signed_at,
    )
    return RenderedDocument(title, pdf, signed_at)


async def store_addendum(*, contract_id: int, document: RenderedDocument) -> ContractDocument:
    """Inside the signing transaction: the PDF is already rendered."""
    return await ContractDocument.create(
        contract_id=contract_id,
        kind=DocumentKind.ADDENDUM,
        title=document.title,
        signed_at=document.signed_at,
        content_hash=hashlib.sha256(document.pdf).hexdigest(),
        pdf=document.pdf,
    )


@dataclass(frozen=True)
class DocumentPage:
    """Which documents of a contract: the `first` newest after (older than) a document."""

    contract_id: int
    first: int
    after: tuple[dt.datetime, int] | None = None  # (signed_at, id) of the last one seen


async def documents_page(page: DocumentPage) -> list[ContractDocument]:
    """Document metadata (never the PDF bytes), newest first by signedAt, then id."""
    query = ContractDocument.filter(contract_id=page.contract_id)
    if page.after is not None:
        signed_at, document_id = page.after
        query = query.filter(
            Q(signed_at__lt=signed_at) | Q(signed_at=signed_at, id__lt=document_id)
        )
    return (
        await query.only("id", "contract_id", "kind", "title", "signed_at")
        .order_by("-signed_at", "-id")
        .limit(page.first)
    )


async def document_pdf(document_id: int) -> tuple[str, bytes]:
    """Title and PDF bytes. Callers have already verified the signed link."""
    row = await ContractDocument.filter(id=document_id).only("id", "title", "pdf").first()
    if row is None:
        raise NotFound("This document no longer exists.")
    return row.title, bytes(row.pdf)
