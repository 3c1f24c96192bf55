"""Each term's master agreement, added once, by whichever process renders it first.

A term row without `master_document_id` is waiting for its agreement: a term just started by a
renewal, a contract just loaded, or terms an operator changed with `licensing load --adjust`.
A renderer takes a lease on the row (so two processes rarely render the same PDF), renders
outside any transaction, then stores the document and links it in one transaction whose guarded
UPDATE only the first renderer wins: a second one's document is rolled back with it.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

from tortoise.expressions import Q
from tortoise.transactions import in_transaction

from models.contract import ContractTerm
from models.document import ContractDocument, DocumentKind
from services import data_version
from services.subscription.documents import (
    MasterTerms,
    master_agreement_signed_at,
    master_terms,
    render_master,
)

BATCH = 20


class _AlreadyLinked(Exception):
    """Another process linked this term's agreement first: roll this one back."""


def _unleased(now: dt.datetime) -> Q:
    return Q(render_locked_until__isnull=True) | Q(render_locked_until__lt=now)


# Long enough to render a PDF; a renderer that dies frees its term when it runs out.
LEASE = dt.timedelta(minutes=2)


async def add_missing(*, now: dt.datetime) -> int:
    """Add the agreement of every term that has none and no other renderer holds; how many
    new documents that took (a term whose terms match an earlier agreement reuses it)."""
    rendered = 0
    while batch := await _claim_batch(now):
        for term in batch:
            rendered += bool(await _add_for(term))
    return rendered


async def _claim_batch(now: dt.datetime) -> list[ContractTerm]:
    """Up to BATCH waiting terms, each leased by a guarded UPDATE (another may win some)."""
    waiting = (
        await ContractTerm.filter(_unleased(now), master_document_id__isnull=True)
        .order_by("id")
        .limit(BATCH)
    )
    claimed = []
    for term in waiting:
        won = await ContractTerm.filter(
            _unleased(now), id=term.id, master_document_id__isnull=True
        ).update(render_locked_until=now + LEASE)
        if won == 1:
            claimed.append(term)
    return claimed


async def _terms_of(term: ContractTerm) -> MasterTerms:
    await term.fetch_related("contract__plan", "contract__company")
    contract = term.contract
    terms = master_terms(
        company_name=contract.company.name,
        company_email=contract.company.email,
        contract=contract,
        plan=contract.plan,
        contracted=term.contracted_licenses,
    )
    # The term's own dates: the contract may have moved on to a later term meanwhile.
    return dataclasses.replace(terms, starts_on=term.starts_on, expires_on=term.expires_on)


async def _add_for(term: ContractTerm) -> bool | None:
    """True: a new document; False: an earlier one with the same terms; None: too late."""
    terms = await _terms_of(term)
    same = await ContractDocument.filter(
        contract_id=term.contract_id,
        kind=DocumentKind.MASTER_AGREEMENT,
        content_hash=terms.content_hash,
    ).first()
    document = same or _master_document(terms, await render_master(terms))
    try:
        async with in_transaction():
            await data_version.changed(terms.company_id)
            if same is None:
                await document.save()
            linked = await ContractTerm.filter(id=term.id, master_document_id__isnull=True).update(
                master_document_id=document.id, render_locked_until=None
            )
            if linked != 1:
                raise _AlreadyLinked  # rolls this document back
    except _AlreadyLinked:
        return None
    return same is None


def _master_document(terms: MasterTerms, pdf: bytes) -> ContractDocument:
    return ContractDocument(
        contract_id=terms.contract_id,
        kind=DocumentKind.MASTER_AGREEMENT,
        title=terms.title,
        signed_at=master_agreement_signed_at(terms.starts_on),
        content_hash=terms.content_hash,
        pdf=pdf,
    )
