"""Buying licenses end to end: quote, purchase, the email, the signature page, GraphQL signing."""

from __future__ import annotations

import io
import json
from typing import Any

import httpx
from pypdf import PdfReader

from bench.smtp import SmtpServer, html_of, shown_quote, signature_token, text_of
from licensing.settings import Settings
from models.contract import Contract
from models.document import ContractDocument
from models.outbox import OutboxEmail
from models.purchase import LicensePurchase
from resolvers.ids import encode_id
from services.protection.tokens import create_token
from tests.conftest import ACME, BASE_URL, Acme, error_codes, gql

JOBS = encode_id("Contract", 1)
GB = 1024**3

QUOTE = """
query Quote($input: LicensePurchaseQuoteInput!) {
  licensePurchaseQuote(input: $input) {
    quote {
      contractBreakdown { product kind quantity currentTotal newTotal startsOn commitmentEndsOn
                          currentAllowanceBytes newAllowanceBytes }
      costBreakdown {
        unitPrice { kind period unitAmount { formatted } }
        recurringAmount { amountMinor } subtotal { amountMinor formatted }
        tax { amountMinor } total { amountMinor formatted } totalCommitment { amountMinor }
        lines { description amount { amountMinor formatted } }
      }
    }
    userErrors { field message code }
  }
}
"""
PURCHASE_FIELDS = """
  id status quantity kind product requestedAt expiresAt confirmationSentTo signedAt signerName
  requestedBy { name } confirmationEmailStatus confirmationEmailAttempts
  quote { costBreakdown { total { formatted } } }
"""
PURCHASE = f"""
mutation Purchase($input: PurchaseLicensesInput!) {{
  purchaseLicenses(input: $input) {{
    purchase {{ {PURCHASE_FIELDS} }}
    userErrors {{ field message code }}
  }}
}}
"""
SIGN = f"""
mutation Sign($input: SignLicensePurchaseInput!) {{
  signLicensePurchase(input: $input) {{
    purchase {{ {PURCHASE_FIELDS} }}
    userErrors {{ field message code }}
  }}
}}
"""
CANCEL = """
mutation Cancel($id: ID!) { cancelLicensePurchase(input: {purchaseId: $id}) {
  purchase { status } userErrors { field message code } } }
"""
RESEND = """
mutation Resend($id: ID!) { resendLicensePurchaseConfirmation(input: {purchaseId: $id}) {
  purchase { status confirmationEmailStatus } userErrors { field message code } } }
"""
POOL = """
{ subscription { usage { allowanceBytes } contract(product: JOBS) {
    licensePool(kind: CONTRACTED) { total assigned available pending }
    usage { allowanceBytes }
    documents { title signedAt downloadUrl }
    purchases { totalCount edges { node { id status } } }
} } }
"""


async def quote(client: httpx.AsyncClient, token: str, **input: Any) -> dict[str, Any]:
    variables = {"input": {"contractId": JOBS, "kind": "CONTRACTED", "quantity": 3, **input}}
    body = await gql(client, QUOTE, variables, token=token)
    result: dict[str, Any] = body["data"]["licensePurchaseQuote"]
    return result


async def purchase(client: httpx.AsyncClient, token: str, **input: Any) -> dict[str, Any]:
    variables = {"input": {"contractId": JOBS, "kind": "CONTRACTED", "quantity": 3, **input}}
    body = await gql(client, PURCHASE, variables, token=token)
    assert "errors" not in body, body
    result: dict[str, Any] = body["data"]["purchaseLicenses"]
    return result


async def sign(client: httpx.AsyncClient, token: str, name: str = "Olivia Owner") -> dict[str, Any]:
    body = await gql(client, SIGN, {"input": {"token": token, "signerName": name}})
    result: dict[str, Any] = body["data"]["signLicensePurchase"]
    return result


async def pool_view(client: httpx.AsyncClient, token: str) -> dict[str, Any]:
    body = await gql(client, POOL, token=token)
    result: dict[str, Any] = body["data"]["subscription"]
    return result


async def test_quote_shows_both_breakdowns_and_stores_nothing(
    client: httpx.AsyncClient, acme: Acme
) -> None:
    result = await quote(client, acme.tokens["finance"])
    assert result["userErrors"] == []
    contract = result["quote"]["contractBreakdown"]
    assert contract == {
        "product": "JOBS",
        "kind": "CONTRACTED",
        "quantity": 3,
        "currentTotal": 10,
        "newTotal": 13,
        "startsOn": "2026-11-26",
        "commitmentEndsOn": "2027-12-31",
        "currentAllowanceBytes": str(260 * GB),
        "newAllowanceBytes": str(320 * GB),
    }
    cost = result["quote"]["costBreakdown"]
    # 2026-11-26 to 2027-12-31: 13 months to 2027-12-26, then 6 of the 31 days to 2028-01-26.
    # 45.00 x 3 x (13 + 6/31) = 1,781.129 -> 1,781.13; tax 20% = 356.226 -> 356.23.
    assert cost["unitPrice"] == {
        "kind": "CONTRACTED",
        "period": "MONTH",
        "unitAmount": {"formatted": "£45.00"},
    }
    assert cost["recurringAmount"]["amountMinor"] == "13500"
    assert cost["subtotal"] == {"amountMinor": "178113", "formatted": "£1,781.13"}
    assert cost["tax"]["amountMinor"] == "35623"
    assert cost["total"] == {"amountMinor": "213736", "formatted": "£2,137.36"}
    assert cost["totalCommitment"]["amountMinor"] == "213736"
    assert [line["description"] for line in cost["lines"]] == [
        "3 Contracted licenses x £45.00 / month x 13.19 months",
        "Tax at 20%",
    ]
    assert await LicensePurchase.all().count() == 0
    assert await OutboxEmail.all().count() == 0


async def test_quote_and_purchase_errors(
    client: httpx.AsyncClient, acme: Acme, other_company: str
) -> None:
    owner = acme.tokens["owner"]
    cases: list[tuple[str, dict[str, Any], str, list[str]]] = [
        (owner, {"quantity": 0}, "INVALID_QUANTITY", ["input", "quantity"]),
        (owner, {"quantity": 10_001}, "INVALID_QUANTITY", ["input", "quantity"]),
        (owner, {"contractId": encode_id("Contract", 77)}, "NOT_FOUND", ["input", "contractId"]),
        (other_company, {}, "NOT_FOUND", ["input", "contractId"]),
    ]
    for token, input, code, field in cases:
        for result in (await quote(client, token, **input), await purchase(client, token, **input)):
            [error] = result["userErrors"]
            assert (error["code"], error["field"]) == (code, field), input
    # A contract that does not renew, ended yesterday.
    await Contract.filter(id=1).update(expires_on="2026-11-25", auto_renews=False)
    for kind in ("CONTRACTED", "MONTHLY", "DAILY"):
        [error] = (await quote(client, owner, kind=kind))["userErrors"]
        assert error["code"] == "CONTRACT_EXPIRED"
        assert "expired on 2026-11-25" in error["message"]
    assert await LicensePurchase.all().count() == 0


async def test_other_roles_may_not_quote_or_buy(client: httpx.AsyncClient, acme: Acme) -> None:
    for role in ("office", "engineer"):
        variables = {"input": {"contractId": JOBS, "kind": "DAILY", "quantity": 1}}
        assert error_codes(await gql(client, QUOTE, variables, token=acme.tokens[role])) == [
            "FORBIDDEN"
        ]
        assert error_codes(await gql(client, PURCHASE, variables, token=acme.tokens[role])) == [
            "FORBIDDEN"
        ]
    assert await LicensePurchase.all().count() == 0


async def test_buy_and_sign_through_the_emailed_link(
    client: httpx.AsyncClient, acme: Acme, smtp: SmtpServer
) -> None:
    owner = acme.tokens["owner"]
    made = (await purchase(client, owner))["purchase"]
    assert made["status"] == "PENDING_SIGNATURE"
    assert made["confirmationSentTo"] == "accounts@acme-heating.example"
    assert made["requestedBy"] == {"name": "Olivia Owner"}
    assert made["expiresAt"].startswith("2026-12-26T")  # 720 hours
    before = await pool_view(client, owner)
    jobs = before["contract"]
    assert jobs["licensePool"] == {"total": 10, "assigned": 2, "available": 8, "pending": 3}
    assert jobs["purchases"]["edges"] == [
        {"node": {"id": made["id"], "status": "PENDING_SIGNATURE"}}
    ]
    assert jobs["usage"]["allowanceBytes"] == str(260 * GB)  # pending licenses grant nothing

    [message] = await smtp.wait_for(1)
    assert message["X-Envelope-To"] == "accounts@acme-heating.example"
    assert message["To"] == "accounts@acme-heating.example"
    text = text_of(message)
    for expected in (
        "Acme Heating Ltd",
        "Olivia Owner asked to buy 3 contracted Jobs licenses",
        "Total commitment: £2,137.36",
        "3 Contracted licenses x £45.00",
        "Commitment ends:       2027-12-31",
        "The link works until 2026-12-26",
    ):
        assert expected in text
    assert "£2,137.36" in html_of(message)
    token = signature_token(message, BASE_URL)

    page = await client.get(f"/sign/{token}")
    assert page.status_code == 200
    policy = page.headers["content-security-policy"]
    assert "default-src 'none'" in policy
    assert "frame-ancestors 'none'" in policy  # a page that signs must not be framed
    html = page.text
    for expected in (
        "Acme Heating Ltd",
        "Jobs",
        "3 contracted",
        "£2,137.36",
        '<label for="signer_name">Your full name</label>',
        'type="checkbox"',
        '<button type="submit">Sign</button>',
        'name="viewport"',
    ):
        assert expected in html
    assert "checked" not in html
    assert "http://" not in html.replace(BASE_URL, "")
    assert "https://" not in html
    assert (await pool_view(client, owner))["contract"]["licensePool"]["total"] == 10

    shown = shown_quote(html)
    unticked = await client.post(
        f"/sign/{token}", data={"signer_name": "Olivia Owner", "shown": shown}
    )
    assert unticked.status_code == 422
    assert "I agree" in unticked.text
    # A page opened before midnight and signed after, or the licenses changed since: the
    # amounts shown are not the ones that would be signed, so nothing is, and the page says so.
    stale = await client.post(
        f"/sign/{token}", data={"signer_name": "Olivia", "agree": "yes", "shown": "0" * 64}
    )
    assert stale.status_code == 422
    assert "The amounts changed since this page was opened" in stale.text
    assert shown_quote(stale.text) == shown
    assert (await pool_view(client, owner))["contract"]["licensePool"]["total"] == 10
    signed = await client.post(
        f"/sign/{token}",
        data={"signer_name": "  Olivia   Owner ", "agree": "yes", "shown": shown},
        headers={"User-Agent": "Phone/1.0"},
    )
    assert signed.status_code == 200
    assert "Purchase signed" in signed.text

    after = await pool_view(client, owner)
    jobs = after["contract"]
    assert jobs["licensePool"] == {"total": 13, "assigned": 2, "available": 11, "pending": 0}
    assert jobs["usage"]["allowanceBytes"] == str(320 * GB)
    assert after["usage"]["allowanceBytes"] == str(340 * GB)
    assert jobs["purchases"]["edges"][0]["node"]["status"] == "CONFIRMED"
    row = await LicensePurchase.get()
    assert (row.signer_name, row.signer_ip, row.signer_user_agent) == (
        "Olivia Owner",
        "203.0.113.7",
        "Phone/1.0",
    )
    addendum, master = jobs["documents"]
    assert addendum["title"] == "Addendum: 3 Contracted licenses (Jobs)"
    assert master["title"].startswith("Master agreement")
    pdf = await client.get(addendum["downloadUrl"])
    assert pdf.status_code == 200
    pdf_text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf.content)).pages)
    for expected in ("Olivia Owner", "£2,137.36", "Contract breakdown", "Cost breakdown"):
        assert expected in pdf_text

    again = await client.get(f"/sign/{token}")
    assert again.status_code == 410
    assert "cannot be used" in again.text
    assert "already been signed" in again.text
    replay = await client.post(f"/sign/{token}", data={"signer_name": "X", "agree": "yes"})
    assert replay.status_code == 410
    assert (await pool_view(client, owner))["contract"]["licensePool"]["total"] == 13


async def test_sign_over_graphql_and_its_errors(
    client: httpx.AsyncClient, acme: Acme, smtp: SmtpServer
) -> None:
    await purchase(client, acme.tokens["owner"], kind="MONTHLY", quantity=2)
    token = signature_token((await smtp.wait_for(1))[0], BASE_URL)

    blank = await sign(client, token, name="   ")
    assert [(e["code"], e["field"]) for e in blank["userErrors"]] == [
        ("SIGNER_NAME_REQUIRED", ["input", "signerName"])
    ]
    page = await client.get("/sign/not-a-token")
    assert page.status_code == 404
    assert "cannot be used" in page.text
    assert "not valid" in page.text
    unknown = await sign(client, "not-a-token")
    assert [(e["code"], e["field"]) for e in unknown["userErrors"]] == [
        ("SIGNATURE_TOKEN_INVALID", ["input", "token"])
    ]
    done = await sign(client, token, name="Frank Finance")
    assert done["userErrors"] == []
    assert (done["purchase"]["status"], done["purchase"]["signerName"]) == (
        "CONFIRMED",
        "Frank Finance",
    )
    assert done["purchase"]["signedAt"].startswith("2026-11-26T")
    twice = await sign(client, token)
    assert [e["code"] for e in twice["userErrors"]] == ["PURCHASE_NOT_PENDING"]
    pool = await gql(
        client,
        "{ subscription { contract(product: JOBS) { "
        "licensePool(kind: MONTHLY) { total pending } } } }",
        token=acme.tokens["owner"],
    )
    assert pool["data"]["subscription"]["contract"]["licensePool"] == {"total": 5, "pending": 0}


async def test_cancel_and_what_a_cancelled_link_says(
    client: httpx.AsyncClient, acme: Acme, smtp: SmtpServer
) -> None:
    made = (await purchase(client, acme.tokens["finance"]))["purchase"]
    token = signature_token((await smtp.wait_for(1))[0], BASE_URL)
    body = await gql(client, CANCEL, {"id": made["id"]}, token=acme.tokens["finance"])
    assert body["data"]["cancelLicensePurchase"] == {
        "purchase": {"status": "CANCELLED"},
        "userErrors": [],
    }
    again = await gql(client, CANCEL, {"id": made["id"]}, token=acme.tokens["finance"])
    [error] = again["data"]["cancelLicensePurchase"]["userErrors"]
    assert (error["code"], error["field"]) == ("PURCHASE_NOT_PENDING", ["input", "purchaseId"])
    assert [e["code"] for e in (await sign(client, token))["userErrors"]] == [
        "PURCHASE_NOT_PENDING"
    ]
    page = await client.get(f"/sign/{token}")
    assert page.status_code == 410
    assert "cancelled" in page.text
    view = await pool_view(client, acme.tokens["owner"])
    assert view["contract"]["licensePool"]["pending"] == 0
    assert view["contract"]["licensePool"]["total"] == 10


async def test_resend_sends_a_fresh_link_and_old_ones_still_work(
    client: httpx.AsyncClient, acme: Acme, smtp: SmtpServer
) -> None:
    made = (await purchase(client, acme.tokens["owner"]))["purchase"]
    first = signature_token((await smtp.wait_for(1))[0], BASE_URL)
    body = await gql(client, RESEND, {"id": made["id"]}, token=acme.tokens["owner"])
    assert body["data"]["resendLicensePurchaseConfirmation"]["userErrors"] == []
    second = signature_token((await smtp.wait_for(2))[1], BASE_URL)
    assert first != second
    # Each outbox row has its own stable Message-ID.
    assert [m["Message-ID"] for m in smtp.inbox] == [
        "<confirmation-1@licensing.test>",
        "<confirmation-2@licensing.test>",
    ]
    assert (await client.get(f"/sign/{second}")).status_code == 200
    assert (await sign(client, first))["userErrors"] == []
    assert (await client.get(f"/sign/{second}")).status_code == 410
    foreign = await gql(
        client, RESEND, {"id": encode_id("LicensePurchase", 999)}, token=acme.tokens["owner"]
    )
    [error] = foreign["data"]["resendLicensePurchaseConfirmation"]["userErrors"]
    assert (error["code"], error["field"]) == ("NOT_FOUND", ["input", "purchaseId"])


async def test_events_record_the_purchase_and_the_pool_change(
    client: httpx.AsyncClient, acme: Acme, smtp: SmtpServer
) -> None:
    await purchase(client, acme.tokens["owner"], quantity=2)
    await sign(client, signature_token((await smtp.wait_for(1))[0], BASE_URL))
    body = await gql(
        client,
        "{ subscription { contract(product: JOBS) { events { totalCount edges { node { "
        "action details actorUserId } } } } } }",
        token=acme.tokens["owner"],
    )
    events = body["data"]["subscription"]["contract"]["events"]
    actions = [edge["node"]["action"] for edge in events["edges"]]
    assert actions == ["pool.total_increased", "purchase.confirmed", "purchase.requested"]
    assert '"totalAfter": 12, "totalBefore": 10' in events["edges"][0]["node"]["details"]
    assert events["edges"][2]["node"]["actorUserId"] == encode_id("User", 1)


async def test_signer_addresses_are_for_the_finance_roles_own_tokens_only(
    client: httpx.AsyncClient, acme: Acme, settings: Settings, smtp: SmtpServer
) -> None:
    await purchase(client, acme.tokens["owner"], quantity=1)
    await sign(client, signature_token((await smtp.wait_for(1))[0], BASE_URL))
    partner = await create_token(
        email=ACME["finance"], scopes=["licenses:read"], name="Acme CRM", now=settings.clock.now()
    )
    query = (
        "{ subscription { contract(product: JOBS) { events { edges { node { action details } } "
        "} } } }"
    )

    async def signed_details(token: str) -> dict[str, Any]:
        body = await gql(client, query, token=token)
        edges = body["data"]["subscription"]["contract"]["events"]["edges"]
        [node] = [e["node"] for e in edges if e["node"]["action"] == "purchase.confirmed"]
        details: dict[str, Any] = json.loads(node["details"])
        return details

    assert (await signed_details(acme.tokens["finance"]))["ip"] == "203.0.113.7"
    assert (await signed_details(acme.tokens["owner"]))["ip"] == "203.0.113.7"
    from_partner = await signed_details(partner)
    assert "ip" not in from_partner
    assert from_partner["signerName"] == "Olivia Owner"


async def test_documents_come_in_pages_newest_first(
    client: httpx.AsyncClient, acme: Acme, smtp: SmtpServer
) -> None:
    for quantity in (1, 2, 3):
        await purchase(client, acme.tokens["owner"], quantity=quantity)
        await sign(client, signature_token((await smtp.wait_for(quantity))[-1], BASE_URL))
    query = """query($after: ID) { subscription { contract(product: JOBS) {
      documents(first: 2, after: $after) { id title } } } }"""

    async def page(after: str | None) -> list[dict[str, str]]:
        body = await gql(client, query, {"after": after}, token=acme.tokens["owner"])
        documents: list[dict[str, str]] = body["data"]["subscription"]["contract"]["documents"]
        return documents

    first = await page(None)
    second = await page(first[-1]["id"])
    third = await page(second[-1]["id"])
    assert [d["title"][:22] for d in first + second + third] == [
        "Addendum: 3 Contracted",
        "Addendum: 2 Contracted",
        "Addendum: 1 Contracted",
        "Master agreement (Jobs",
    ]
    assert third == []
    foreign = await gql(
        client, query, {"after": encode_id("ContractDocument", 999)}, token=acme.tokens["owner"]
    )
    assert error_codes(foreign) == ["BAD_USER_INPUT"]


async def test_documents_list_newest_first(
    client: httpx.AsyncClient, acme: Acme, smtp: SmtpServer
) -> None:
    for quantity in (1, 2):
        await purchase(client, acme.tokens["owner"], quantity=quantity)
        await sign(client, signature_token((await smtp.wait_for(quantity))[-1], BASE_URL))
    view = await pool_view(client, acme.tokens["owner"])
    titles = [d["title"] for d in view["contract"]["documents"]]
    assert titles[:2] == [
        "Addendum: 2 Contracted licenses (Jobs)",
        "Addendum: 1 Contracted license (Jobs)",
    ]
    assert await ContractDocument.filter(contract_id=1).count() == 3
