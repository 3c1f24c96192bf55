"""An IDOR sweep: another company's ids, through every node type and every mutation input,
read exactly like ids that exist nowhere, and change nothing."""

from __future__ import annotations

import datetime as dt
from typing import Any

import httpx

from licensing.settings import Settings
from models.company import Company
from models.contract import Contract, LicensePool
from models.document import ContractDocument
from models.enums import LicenseKind
from models.purchase import LicensePurchase
from models.user import User
from resolvers.ids import encode_id
from services.audit import Actor
from services.purchases.lifecycle import purchase_licenses
from tests.conftest import Acme, gql

UNKNOWN_PK = 987_654


async def _bolt_ids(settings: Settings) -> dict[str, int]:
    """Primary keys of one object of each type that belongs to the other company."""
    bolt = await Company.get(email="office@bolt-plumbing.example")
    contract = await Contract.get(company_id=bolt.id)
    made = await purchase_licenses(
        company=bolt,
        contract_id=contract.id,
        kind=LicenseKind.DAILY,
        quantity=1,
        idempotency_key=None,
        actor=Actor(user_id=None, token_id=None),
        now=settings.clock.now(),
        link_ttl=dt.timedelta(days=30),
    )
    return {
        "Company": bolt.id,
        "Subscription": bolt.id,
        "User": (await User.get(company_id=bolt.id)).id,
        "Contract": contract.id,
        "LicensePool": (await LicensePool.filter(contract_id=contract.id).first()).id,  # type: ignore[union-attr]
        "ContractDocument": (await ContractDocument.get(contract_id=contract.id)).id,
        "LicensePurchase": made.id,
    }


async def _snapshot() -> list[Any]:
    return [
        await LicensePool.all().order_by("id").values_list("total", "assigned"),
        await LicensePurchase.all().order_by("id").values_list("status", flat=True),
        await User.all().count(),
    ]


MUTATIONS = {
    "contractId": [
        'purchaseLicenses(input: {contractId: "ID", kind: DAILY, quantity: 1})',
        'deleteLicenses(input: {contractId: "ID", kind: DAILY, quantity: 1})',
    ],
    "purchaseId": [
        'cancelLicensePurchase(input: {purchaseId: "ID"})',
        'resendLicensePurchaseConfirmation(input: {purchaseId: "ID"})',
    ],
    "userId": [
        'assignLicense(input: {userId: "ID", product: JOBS, kind: DAILY})',
        'unassignLicense(input: {userId: "ID", product: JOBS})',
        'deleteUser(input: {userId: "ID"})',
    ],
}
TYPE_OF_FIELD = {"contractId": "Contract", "purchaseId": "LicensePurchase", "userId": "User"}


async def _answer(client: httpx.AsyncClient, token: str, mutation: str, global_id: str) -> Any:
    document = (
        f"mutation {{ m: {mutation.replace('ID', global_id)} {{ userErrors {{ field code }} }} }}"
    )
    return (await gql(client, document, token=token))["data"]["m"]["userErrors"]


async def test_foreign_ids_read_like_unknown_ones_everywhere(
    client: httpx.AsyncClient, acme: Acme, other_company: str, settings: Settings
) -> None:
    owner = acme.tokens["owner"]
    foreign = await _bolt_ids(settings)
    before = await _snapshot()

    ids = [encode_id(kind, pk) for kind, pk in foreign.items()]
    unknown = [encode_id(kind, UNKNOWN_PK) for kind in foreign]
    query = "query($ids: [ID!]!) { nodes(ids: $ids) { id } }"
    assert await gql(client, query, {"ids": ids}, token=owner) == {"data": {"nodes": [None] * 7}}
    assert await gql(client, query, {"ids": unknown}, token=owner) == {
        "data": {"nodes": [None] * 7}
    }

    for field, mutations in MUTATIONS.items():
        kind = TYPE_OF_FIELD[field]
        for mutation in mutations:
            guessed = await _answer(client, owner, mutation, encode_id(kind, foreign[kind]))
            nowhere = await _answer(client, owner, mutation, encode_id(kind, UNKNOWN_PK))
            assert guessed == nowhere == [{"field": ["input", field], "code": "NOT_FOUND"}], (
                mutation
            )

    quote = """query($id: ID!) { licensePurchaseQuote(input: {contractId: $id, kind: DAILY,
      quantity: 1}) { userErrors { field code } } }"""
    for pk in (foreign["Contract"], UNKNOWN_PK):
        body = await gql(client, quote, {"id": encode_id("Contract", pk)}, token=owner)
        assert body["data"]["licensePurchaseQuote"]["userErrors"] == [
            {"field": ["input", "contractId"], "code": "NOT_FOUND"}
        ]
    assert await _snapshot() == before
