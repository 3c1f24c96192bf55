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
from dataclasses import dataclass

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


@dataclass(frozen=True)
class Added:
    linked: int  # terms that got their agreement in this call
    rendered: int  # of which with a new document (the others had the same terms as an earlier)


async def add_missing(*, now: dt.datetime, lease: dt.timedelta) -> Added:
    """Add the agreements of up to BATCH terms that have none."""
    linked = rendered = 0
    waiting = (
        await ContractTerm.filter(_unleased(now), master_document_id__isnull=True)
        .order_by("id")
        .limit(BATCH)
    )
    for term in waiting:
        claimed = await ContractTerm.filter(
            _unleased(now), id=term.id, master_document_id__isnull=True
        ).update(render_locked_until=now + lease)
        if claimed == 1 and (outcome := await _add_for(term)) is not None:
            linked += 1
            rendered += outcome
    return Added(linked, rendered)


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
    pdf = None if same is not None else await render_master(terms)
    try:
        async with in_transaction():
            await data_version.changed(terms.company_id)
            document_id = same.id if same is not None else await _store(terms, pdf)
            linked = await ContractTerm.filter(id=term.id, master_document_id__isnull=True).update(
                master_document_id=document_id, render_locked_until=None
            )
            if linked != 1:
                raise _AlreadyLinked
    except _AlreadyLinked:
        return None
    return same is None


async def _store(terms: MasterTerms, pdf: bytes | None) -> int:
    assert pdf is not None
    document = await ContractDocument.create(
        contract_id=terms.contract_id,
        kind=DocumentKind.MASTER_AGREEMENT,
        title=terms.title,
        signed_at=master_agreement_signed_at(terms.starts_on),
        content_hash=terms.content_hash,
        pdf=pdf,
    )
    return int(document.id)
