"""Contract PDFs print every customer's letters, and download under their real names."""

from __future__ import annotations

import io
import json
from typing import Any
from urllib.parse import unquote

import httpx
from pypdf import PdfReader

from bench.smtp import SmtpServer, signature_token
from licensing.settings import Settings
from services.fixtures import load_fixture_text
from services.protection.tokens import create_token
from tests.conftest import BASE_URL, gql

PLAN = "Πλάνο Αθηνά"  # Greek
COMPANY = "Łódź Ogrzewanie Sp. z o.o."  # Polish
OWNER = "Siân Llŷr"  # Welsh
SIGNER = "Łukasz Żółć"

FIXTURE = {
    "plans": [
        {
            "name": PLAN,
            "product": "JOBS",
            "storageAllowancePerLicenseBytes": 1024**3,
            "prices": {"CONTRACTED": 4500, "MONTHLY": 5500, "DAILY": 400},
            "currency": "PLN",
        }
    ],
    "companies": [
        {
            "name": COMPANY,
            "email": "biuro@lodz.example",
            "taxRateBasisPoints": 2300,
            "currency": "PLN",
            "contracts": [
                {
                    "product": "JOBS",
                    "plan": PLAN,
                    "startsOn": "2026-01-01",
                    "expiresOn": "2027-12-31",
                    "pools": {"CONTRACTED": 2, "MONTHLY": 0, "DAILY": 0},
                }
            ],
            "users": [{"name": OWNER, "email": "sian@lodz.example", "role": "OWNER_MANAGER"}],
        }
    ],
}
DOCUMENTS = "{ subscription { contracts { id documents { title downloadUrl } } } }"
PURCHASE = """mutation($id: ID!) { purchaseLicenses(input: {contractId: $id, kind: MONTHLY,
  quantity: 1}) { userErrors { code } } }"""
SIGN = """mutation($token: String!, $name: String!) { signLicensePurchase(input: {token: $token,
  signerName: $name}) { userErrors { code } } }"""


def _text(pdf: bytes) -> str:
    return "".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)


async def _download(client: httpx.AsyncClient, document: dict[str, Any]) -> str:
    response = await client.get(document["downloadUrl"])
    assert response.status_code == 200, response.text
    disposition = response.headers["content-disposition"]
    encoded = disposition.split("filename*=UTF-8''")[1]
    assert (
        unquote(encoded)
        == "-".join("".join(c if c.isalnum() else " " for c in document["title"]).split()) + ".pdf"
    )
    disposition.encode("latin-1")  # what HTTP can carry: the real name only in filename*
    return _text(response.content)


async def test_polish_greek_and_welsh_names_print_and_download(
    client: httpx.AsyncClient, settings: Settings, smtp: SmtpServer
) -> None:
    await load_fixture_text(source="f.json", text=json.dumps(FIXTURE), now=settings.clock.now())
    owner = await create_token(email="sian@lodz.example", now=settings.clock.now())
    contract = (await gql(client, DOCUMENTS, token=owner))["data"]["subscription"]["contracts"][0]
    bought = await gql(client, PURCHASE, {"id": contract["id"]}, token=owner)
    assert bought["data"]["purchaseLicenses"]["userErrors"] == []
    token = signature_token((await smtp.wait_for(1))[0], BASE_URL)
    signed = await gql(client, SIGN, {"token": token, "name": SIGNER})
    assert signed["data"]["signLicensePurchase"]["userErrors"] == []

    contract = (await gql(client, DOCUMENTS, token=owner))["data"]["subscription"]["contracts"][0]
    addendum, master = contract["documents"]
    assert PLAN in master["title"]
    master_text = await _download(client, master)
    assert COMPANY in master_text
    assert PLAN in master_text
    addendum_text = await _download(client, addendum)
    assert SIGNER in addendum_text
    assert COMPANY in addendum_text
    # Helvetica printed what Latin-1 lacks as "?": "?ukasz ?ó??".
    assert "?" not in master_text + addendum_text
