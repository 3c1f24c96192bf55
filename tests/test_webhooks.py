"""Webhooks to a real HTTP receiver on loopback, against the real app spoken to over HTTP.

Each event type after its change, signed as Standard Webhooks sign (checked with the
`standardwebhooks` package, as a partner would), retried with the same id and body, disabled
on a 410 or after 5 days of failures, redelivered on request; nothing after a refused or
rolled-back change; another company's endpoints and deliveries read as unknown.
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import datetime as dt
import ipaddress
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from bench.smtp import SmtpServer, signature_token, text_of
from bench.webhook_receiver import Received, Reply, WebhookReceiver
from licensing.settings import Settings
from models.audit import AuditEvent
from models.webhook import DeliveryStatus, WebhookDelivery, WebhookEndpoint
from resolvers.ids import encode_id
from services.fixtures import load_fixture_text
from services.protection.tokens import create_token
from tests.conftest import (
    ACME,
    BASE_URL,
    EXAMPLE_FIXTURE,
    OTHER_COMPANY,
    TODAY,
    gql,
    make_settings,
    serve,
)

JOBS = encode_id("Contract", 1)
SALES = encode_id("Contract", 2)
OSCAR = encode_id("User", 3)
ERIN = encode_id("User", 4)
ALL_TYPES = [
    "LICENSE_POOL_CHANGED",
    "LICENSE_PURCHASE_CREATED",
    "LICENSE_PURCHASE_CONFIRMED",
    "LICENSE_PURCHASE_CANCELLED",
    "LICENSE_PURCHASE_EXPIRED",
    "RENEWAL_CHANGE_SCHEDULED",
    "CONTRACT_RENEWED",
    "USER_LICENSE_CHANGED",
]
ENDPOINT_FIELDS = "id url description eventTypes enabled disabledReason createdAt"
CREATE = f"""mutation($input: CreateWebhookEndpointInput!) {{ createWebhookEndpoint(input: $input)
  {{ endpoint {{ {ENDPOINT_FIELDS} }} secret userErrors {{ field message code }} }} }}"""
UPDATE = f"""mutation($input: UpdateWebhookEndpointInput!) {{ updateWebhookEndpoint(input: $input)
  {{ endpoint {{ {ENDPOINT_FIELDS} }} userErrors {{ field message code }} }} }}"""
DELETE_ENDPOINT = """mutation($id: ID!) { deleteWebhookEndpoint(input: {endpointId: $id}) {
  deletedEndpointId userErrors { field message code } } }"""
ROTATE = """mutation($id: ID!) { rotateWebhookSecret(input: {endpointId: $id}) {
  endpoint { id } secret userErrors { field message code } } }"""
DELIVERY_FIELDS = (
    "id eventId eventType createdAt status attempts lastAttemptAt lastResponseStatus "
    "nextAttemptAt lastError"
)
PING = f"""mutation($id: ID!) {{ sendTestWebhook(input: {{endpointId: $id}}) {{
  delivery {{ {DELIVERY_FIELDS} }} userErrors {{ field message code }} }} }}"""
REDELIVER = f"""mutation($id: ID!) {{ redeliverWebhook(input: {{deliveryId: $id}}) {{
  delivery {{ {DELIVERY_FIELDS} }} userErrors {{ field message code }} }} }}"""
ENDPOINTS = f"""query {{ webhookEndpoints(first: 5) {{ totalCount edges {{ node {{ {ENDPOINT_FIELDS}
  deliveries(first: 20) {{ totalCount edges {{ node {{ {DELIVERY_FIELDS} }} }} }} }} }} }} }}"""
NODE = """query($id: ID!) { node(id: $id) { id ... on WebhookEndpoint { url }
  ... on WebhookDelivery { eventId } } }"""
BUY = """mutation($c: ID!, $k: LicenseKind!, $q: Int!) { purchaseLicenses(input: {
  contractId: $c, kind: $k, quantity: $q}) { purchase { id } userErrors { code } } }"""
CANCEL = """mutation($id: ID!) { cancelLicensePurchase(input: {purchaseId: $id}) {
  purchase { status } userErrors { code } } }"""
SIGN = """mutation($t: String!) { signLicensePurchase(input: {token: $t, signerName: "Olivia"}) {
  purchase { status } userErrors { code message } } }"""
DELETE_LICENSES = """mutation($c: ID!, $k: LicenseKind!, $q: Int!) { deleteLicenses(input: {
  contractId: $c, kind: $k, quantity: $q}) { userErrors { code } } }"""
ASSIGN = """mutation($u: ID!, $k: LicenseKind!) { assignLicense(input: {userId: $u,
  product: JOBS, kind: $k}) { userErrors { code } } }"""
ASSIGN_SALES = ASSIGN.replace("JOBS", "SALES")
UNASSIGN = """mutation($u: ID!) { unassignLicense(input: {userId: $u, product: JOBS}) {
  userErrors { code } } }"""
DELETE_USER = """mutation($u: ID!) { deleteUser(input: {userId: $u}) { userErrors { code } } }"""
SCHEDULE = """mutation($c: ID!, $n: Int!) { scheduleContractRenewal(input: {contractId: $c,
  contractedLicenses: $n}) { renewalChange { id } userErrors { code message } } }"""
SIGN_RENEWAL = """mutation($t: String!) { signRenewalChange(input: {token: $t,
  signerName: "Olivia"}) { renewalChange { status } userErrors { code message } } }"""
LOOPBACK = (ipaddress.ip_network("127.0.0.0/8"),)


def webhook_settings(database_url: str, smtp: SmtpServer, today: dt.date = TODAY) -> Settings:
    return dataclasses.replace(
        make_settings(database_url, smtp.port, today),
        webhook_allowed_networks=LOOPBACK,
        webhook_allow_http=True,
        webhook_poll_seconds=0.05,
        webhook_timeout_seconds=1.0,
        webhook_retry_scale=0.1,  # retries after about 0.5 s, 3 s, 12 s...
        renewal_poll_seconds=0.05,
        rate_limit_enabled=False,
    )


@dataclasses.dataclass
class World:
    http: httpx.AsyncClient
    settings: Settings
    tokens: dict[str, str]

    async def call(self, query: str, as_: str = "owner", **variables: Any) -> dict[str, Any]:
        """The operation's payload, as the role `as_` (or with that very token)."""
        body = await gql(self.http, query, variables, token=self.tokens.get(as_, as_))
        assert "errors" not in body, body
        data: dict[str, Any] = next(iter(body["data"].values()))
        return data

    async def create(self, url: str, types: list[str] | None = None) -> tuple[str, str]:
        """A new endpoint's (id, secret)."""
        payload = await self.call(
            CREATE, input={"url": url, "eventTypes": types or ALL_TYPES, "description": "CRM"}
        )
        assert payload["userErrors"] == [], payload
        return payload["endpoint"]["id"], payload["secret"]


async def _load(settings: Settings, *, other: bool = False) -> dict[str, str]:
    now = settings.clock.now()
    await load_fixture_text(source="f.json", text=EXAMPLE_FIXTURE.read_text(), now=now)
    tokens = {role: await create_token(email=email, now=now) for role, email in ACME.items()}
    tokens["reader"] = await create_token(email=ACME["owner"], scopes=["licenses:read"], now=now)
    if other:
        await load_fixture_text(source="o.json", text=json.dumps(OTHER_COMPANY), now=now)
        tokens["bolt"] = await create_token(email="barry@bolt-plumbing.example", now=now)
    return tokens


@asynccontextmanager
async def world(
    settings: Settings, *, load: bool = True, other: bool = False
) -> AsyncIterator[World]:
    async with serve(settings) as http:
        tokens = await _load(settings, other=other) if load else {}
        yield World(http, settings, tokens)


def verified(received: Received, secret: str) -> dict[str, Any]:
    """The body, once its signature checks out with the stock library."""
    body: dict[str, Any] = Webhook(secret).verify(received.body, received.headers)
    return body


def _types(received: list[Received]) -> list[str]:
    return [json.loads(each.body)["type"] for each in received]


async def test_endpoints_are_managed_and_each_change_audited(
    database_url: str, smtp: SmtpServer
) -> None:
    async with WebhookReceiver() as receiver, world(webhook_settings(database_url, smtp)) as w:
        created = await w.call(
            CREATE,
            input={"url": receiver.url(), "eventTypes": ["PING", "CONTRACT_RENEWED"]},
        )
        endpoint, secret = created["endpoint"], created["secret"]
        assert secret.startswith("whsec_")
        assert len(secret) > 40
        assert endpoint["enabled"] is True
        assert endpoint["disabledReason"] is None
        assert endpoint["eventTypes"] == ["CONTRACT_RENEWED", "PING"]
        listed = await w.call(ENDPOINTS)
        assert listed["totalCount"] == 1
        assert "secret" not in json.dumps(listed)

        updated = await w.call(
            UPDATE,
            input={
                "endpointId": endpoint["id"],
                "enabled": False,
                "description": "Payroll",
                "eventTypes": ["LICENSE_POOL_CHANGED"],
            },
        )
        assert updated["endpoint"]["enabled"] is False
        assert updated["endpoint"]["disabledReason"] is None
        assert updated["endpoint"]["description"] == "Payroll"
        rotated = await w.call(ROTATE, id=endpoint["id"])
        assert rotated["secret"].startswith("whsec_")
        assert rotated["secret"] != secret
        deleted = await w.call(DELETE_ENDPOINT, id=endpoint["id"])
        assert deleted["deletedEndpointId"] == endpoint["id"]
        assert (await w.call(ENDPOINTS))["totalCount"] == 0
        actions = await AuditEvent.filter(subject_type="WebhookEndpoint").values_list(
            "action", flat=True
        )
        assert sorted(actions) == [
            "webhook_endpoint.created",
            "webhook_endpoint.deleted",
            "webhook_endpoint.secret_rotated",
            "webhook_endpoint.updated",
        ]
        assert receiver.received == []


async def test_bad_input_and_access_change_nothing(database_url: str, smtp: SmtpServer) -> None:
    async with (
        WebhookReceiver() as receiver,
        world(webhook_settings(database_url, smtp), other=True) as w,
    ):
        endpoint, _ = await w.create(receiver.url())
        for bad, code in [
            ({"eventTypes": []}, "INVALID_INPUT"),
            ({"description": "x" * 501}, "INVALID_INPUT"),
            ({"url": "ftp://127.0.0.1/x"}, "WEBHOOK_URL_NOT_ALLOWED"),
            ({"url": "https://user:pw@127.0.0.1/x"}, "WEBHOOK_URL_NOT_ALLOWED"),
            ({"url": "not a url"}, "WEBHOOK_URL_NOT_ALLOWED"),
        ]:
            payload = await w.call(
                CREATE, input={"url": receiver.url(), "eventTypes": ALL_TYPES} | bad
            )
            assert [e["code"] for e in payload["userErrors"]] == [code], (bad, payload)
            assert payload["endpoint"] is None
            assert payload["secret"] is None
        assert (await w.call(ENDPOINTS))["totalCount"] == 1

        for role in ("reader", "office", "engineer"):
            body = await gql(w.http, ENDPOINTS, token=w.tokens[role])
            assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN", role
            body = await gql(
                w.http,
                CREATE,
                {"input": {"url": receiver.url(), "eventTypes": ALL_TYPES}},
                token=w.tokens[role],
            )
            assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN", role

        # Another company's endpoint and delivery read as unknown.
        ping = await w.call(PING, id=endpoint)
        delivery = ping["delivery"]["id"]
        assert (await w.call(ENDPOINTS, as_="bolt"))["totalCount"] == 0
        for query, variables in [
            (UPDATE, {"input": {"endpointId": endpoint, "enabled": False}}),
            (DELETE_ENDPOINT, {"id": endpoint}),
            (ROTATE, {"id": endpoint}),
            (PING, {"id": endpoint}),
            (REDELIVER, {"id": delivery}),
        ]:
            payload = await w.call(query, as_="bolt", **variables)
            assert [e["code"] for e in payload["userErrors"]] == ["NOT_FOUND"], payload
        for node_id in (endpoint, delivery):
            assert (await w.call(NODE, as_="bolt", id=node_id)) is None
            assert (await w.call(NODE, id=node_id))["id"] == node_id
        row = await WebhookEndpoint.get(id=1)
        assert row.enabled is True
        assert await WebhookDelivery.all().count() == 1


PERSONAL = ("Olivia", "Oscar", "Erin", "acme", "@", "203.0.113.7")


def _no_personal_data(received: list[Received]) -> None:
    for each in received:
        text = each.body.decode()
        assert not [word for word in PERSONAL if word.lower() in text.lower()], text


async def _emailed_token(smtp: SmtpServer, subject: str) -> str:
    """The signature token of the first email whose subject holds `subject`, once it arrives."""
    deadline = asyncio.get_running_loop().time() + 10
    while not (found := [m for m in smtp.inbox if subject in str(m["Subject"])]):
        assert asyncio.get_running_loop().time() < deadline, f"no email about {subject}"
        await asyncio.sleep(0.02)
    return signature_token(found[0], BASE_URL)


async def _sign_purchase(w: World, smtp: SmtpServer, subject: str) -> None:
    token = await _emailed_token(smtp, subject)
    assert (await w.call(SIGN, as_=token, t=token))["purchase"]["status"] == "CONFIRMED"


async def test_each_license_change_sends_its_events_signed(
    database_url: str, smtp: SmtpServer
) -> None:
    async with WebhookReceiver() as receiver, world(webhook_settings(database_url, smtp)) as w:
        _, secret = await w.create(receiver.url())
        bought = await w.call(BUY, c=JOBS, k="MONTHLY", q=2)
        await w.call(CANCEL, id=bought["purchase"]["id"])
        await w.call(BUY, c=JOBS, k="DAILY", q=1)
        await _sign_purchase(w, smtp, "1 Daily Jobs")
        await w.call(DELETE_LICENSES, c=JOBS, k="MONTHLY", q=1)
        await w.call(ASSIGN, u=ERIN, k="MONTHLY")
        await w.call(UNASSIGN, u=ERIN)
        await w.call(DELETE_USER, u=OSCAR)
        expected = [
            "license_purchase.created",
            "license_purchase.cancelled",
            "license_purchase.created",
            "license_purchase.confirmed",
            "license_pool.changed",
            "license_pool.changed",
            "user_license.changed",
            "license_pool.changed",
            "user_license.changed",
            "license_pool.changed",
            "user_license.changed",
            "license_pool.changed",
        ]
        received = await receiver.wait_for(len(expected))
        await asyncio.sleep(0.3)  # and no more than these
        assert sorted(_types(receiver.at("/hooks"))) == sorted(expected)
        bodies = [verified(each, secret) for each in received]
        _no_personal_data(received)
        versions = [body["data"]["version"] for body in bodies]
        assert len(set(each.event_id for each in received)) == len(expected)
        assert all(isinstance(v, int) and v > 0 for v in versions)

        by_type = {body["type"]: body for body in bodies}  # the last of each type
        assert by_type["license_purchase.confirmed"]["data"] | {"version": 0} == {
            "purchaseId": encode_id("LicensePurchase", 2),
            "contractId": JOBS,
            "productSection": "JOBS",
            "kind": "DAILY",
            "quantity": 1,
            "status": "CONFIRMED",
            "version": 0,
        }
        moved = [b["data"] for b in bodies if b["type"] == "user_license.changed"]
        assert [(m["kind"], m["previousKind"], m["userDeleted"]) for m in moved] == [
            ("MONTHLY", "DAILY", False),
            (None, "MONTHLY", False),
            (None, "MONTHLY", True),
        ]
        assert moved[2]["userId"] == OSCAR
        last_pools = [b["data"]["pools"] for b in bodies if b["type"] == "license_pool.changed"]
        assert last_pools[-1] == [
            {
                "id": encode_id("LicensePool", 2),
                "contractId": JOBS,
                "productSection": "JOBS",
                "kind": "MONTHLY",
                "total": 2,
                "assigned": 0,
                "available": 2,
            }
        ]
        assert {b["timestamp"][:10] for b in bodies} == {TODAY.isoformat()}
        listed = await w.call(ENDPOINTS)
        deliveries = listed["edges"][0]["node"]["deliveries"]
        assert deliveries["totalCount"] == len(expected)
        assert {d["node"]["status"] for d in deliveries["edges"]} == {"SUCCEEDED"}
        assert {d["node"]["lastResponseStatus"] for d in deliveries["edges"]} == {200}


async def test_nothing_is_sent_for_a_refused_or_rolled_back_change(
    database_url: str, smtp: SmtpServer
) -> None:
    async with WebhookReceiver() as receiver, world(webhook_settings(database_url, smtp)) as w:
        await w.create(receiver.url())
        refused = [
            (DELETE_LICENSES, {"c": JOBS, "k": "CONTRACTED", "q": 1}, "CONTRACTED_NOT_DELETABLE"),
            (DELETE_LICENSES, {"c": JOBS, "k": "DAILY", "q": 2}, "LICENSES_ASSIGNED"),
            (BUY, {"c": JOBS, "k": "DAILY", "q": 0}, "INVALID_QUANTITY"),
            (UNASSIGN, {"u": encode_id("User", 99)}, "NOT_FOUND"),
            # Rolled back after its assignment row was written: Sales has no monthly license.
            (ASSIGN_SALES, {"u": OSCAR, "k": "MONTHLY"}, "NO_LICENSE_AVAILABLE"),
        ]
        for query, variables, code in refused:
            payload = await w.call(query, **variables)
            assert [e["code"] for e in payload["userErrors"]] == [code], payload
        # A change that goes through is heard, and it is the first thing heard.
        await w.call(DELETE_LICENSES, c=JOBS, k="MONTHLY", q=1)
        first = await receiver.wait_for(1)
        assert _types(first) == ["license_pool.changed"]
        await asyncio.sleep(0.3)
        assert len(receiver.received) == 1
        assert await WebhookDelivery.all().count() == 1


async def test_renewal_and_expiry_events_as_the_days_pass(
    database_url: str, smtp: SmtpServer
) -> None:
    in_window = dt.date(2027, 5, 10)  # SALES runs 2026-06-01..2027-05-31
    async with WebhookReceiver() as receiver:
        async with world(webhook_settings(database_url, smtp, in_window)) as w:
            _, secret = await w.create(receiver.url())
            await w.call(BUY, c=JOBS, k="DAILY", q=1)
            change = await w.call(SCHEDULE, c=SALES, n=3)
            assert change["userErrors"] == [], change
            token = await _emailed_token(smtp, "Sales renewal")
            signed = await w.call(SIGN_RENEWAL, as_=token, t=token)
            assert signed["renewalChange"]["status"] == "SCHEDULED"
            await receiver.wait_for(2)
        later = dt.date(2027, 6, 12)  # renewed on 06-01; the purchase's link lapsed on 06-09
        async with world(webhook_settings(database_url, smtp, later), load=False):
            received = await receiver.wait_for(5)
            await asyncio.sleep(0.3)
        bodies = [verified(each, secret) for each in receiver.received]
        assert sorted(b["type"] for b in bodies) == sorted(
            [
                "license_purchase.created",
                "renewal_change.scheduled",
                "contract.renewed",
                "license_pool.changed",
                "license_purchase.expired",
            ]
        )
        by_type = {body["type"]: body["data"] for body in bodies}
        assert by_type["renewal_change.scheduled"] | {"version": 0} == {
            "renewalChangeId": encode_id("RenewalChange", 1),
            "contractId": SALES,
            "contractedLicenses": 3,
            "renewsOn": "2027-06-01",
            "status": "SCHEDULED",
            "version": 0,
        }
        assert by_type["contract.renewed"] | {"version": 0} == {
            "contractId": SALES,
            "term": 2,
            "startsOn": "2027-06-01",
            "expiresOn": "2028-05-31",
            "contractedLicenses": 3,
            "version": 0,
        }
        assert by_type["license_pool.changed"]["pools"][0]["total"] == 3
        assert by_type["license_purchase.expired"]["status"] == "EXPIRED"
        assert len(received) == 5


def _pk(global_id: str) -> int:
    return int(base64.b64decode(global_id).decode().split(":")[1])


async def _until_row(check: Any, within: float = 15.0) -> Any:
    """Wait for a positive signal from the sender; the value that gave it."""
    deadline = asyncio.get_running_loop().time() + within
    while not (found := await check()):
        assert asyncio.get_running_loop().time() < deadline, "the sender did not get there"
        await asyncio.sleep(0.02)
    return found


async def test_failed_attempts_are_retried_with_the_same_id_and_body(
    database_url: str, smtp: SmtpServer
) -> None:
    async with WebhookReceiver() as receiver, world(webhook_settings(database_url, smtp)) as w:
        endpoint, secret = await w.create(receiver.url())
        # No answer within the time limit (1 s here), then a 500, then a 200.
        receiver.plan("/hooks", Reply(hang=True), Reply(500), Reply(200))
        ping = (await w.call(PING, id=endpoint))["delivery"]
        assert ping["status"] == "PENDING"
        attempts = await receiver.wait_for(3, within=30)
        assert len({each.event_id for each in attempts}) == 1
        assert attempts[0].event_id == ping["eventId"]
        assert len({each.body for each in attempts}) == 1
        assert [verified(each, secret)["type"] for each in attempts] == ["ping"] * 3
        row = await _until_row(
            lambda: WebhookDelivery.filter(id=_pk(ping["id"]), status="SUCCEEDED").first()
        )
        assert row.attempts == 3
        assert row.last_response_status == 200
        assert row.next_attempt_at is None
        await asyncio.sleep(0.3)
        assert len(receiver.received) == 3


async def test_retry_after_is_honoured(database_url: str, smtp: SmtpServer) -> None:
    async with WebhookReceiver() as receiver, world(webhook_settings(database_url, smtp)) as w:
        endpoint, _ = await w.create(receiver.url())
        receiver.plan("/hooks", Reply(503, {"Retry-After": "4"}), Reply(200))
        ping = (await w.call(PING, id=endpoint))["delivery"]
        await receiver.wait_for(1)
        waiting = await _until_row(
            lambda: WebhookDelivery.filter(id=_pk(ping["id"]), status="RETRYING").first()
        )
        assert waiting.last_response_status == 503
        assert waiting.last_attempt_at is not None
        assert waiting.next_attempt_at >= waiting.last_attempt_at + dt.timedelta(seconds=4)
        first, second = await receiver.wait_for(2, within=20)
        assert second.at - first.at >= 4  # not the schedule's second (scaled down here)
        assert first.event_id == second.event_id


async def test_a_redirect_is_a_failed_attempt_and_never_followed(
    database_url: str, smtp: SmtpServer
) -> None:
    """A 302 to another path of the same receiver: had it been followed, that path would have
    been asked."""
    async with WebhookReceiver() as receiver, world(webhook_settings(database_url, smtp)) as w:
        endpoint, _ = await w.create(receiver.url())
        receiver.plan("/hooks", Reply(302, {"Location": receiver.url("/elsewhere")}))
        ping = (await w.call(PING, id=endpoint))["delivery"]
        waiting = await _until_row(
            lambda: WebhookDelivery.filter(id=_pk(ping["id"]), status="RETRYING").first()
        )
        assert waiting.last_response_status == 302
        retried = await receiver.wait_for(2)
        assert retried[0].event_id == retried[1].event_id
        assert receiver.at("/elsewhere") == []


async def test_a_410_disables_the_endpoint_and_tells_the_company(
    database_url: str, smtp: SmtpServer
) -> None:
    async with WebhookReceiver() as receiver, world(webhook_settings(database_url, smtp)) as w:
        endpoint, _ = await w.create(receiver.url())
        receiver.plan("/hooks", Reply(410))
        ping = (await w.call(PING, id=endpoint))["delivery"]
        row = await _until_row(
            lambda: WebhookEndpoint.filter(id=_pk(endpoint), enabled=False).first()
        )
        assert "410" in row.disabled_reason
        failed = await WebhookDelivery.get(id=_pk(ping["id"]))
        assert failed.status == DeliveryStatus.FAILED
        assert failed.last_response_status == 410
        email = await _email_about(smtp, "Webhooks stopped")
        assert "410" in text_of(email)
        assert str(email["To"]) == "accounts@acme-heating.example"
        assert await AuditEvent.filter(action="webhook_endpoint.disabled").count() == 1
        # Disabled: changes queue nothing for it.
        await w.call(DELETE_LICENSES, c=JOBS, k="MONTHLY", q=1)
        assert await WebhookDelivery.all().count() == 1
        enabled = await w.call(UPDATE, input={"endpointId": endpoint, "enabled": True})
        assert enabled["endpoint"]["enabled"] is True
        assert enabled["endpoint"]["disabledReason"] is None
        await w.call(PING, id=endpoint)
        await receiver.wait_for(2)


async def _email_about(smtp: SmtpServer, subject: str) -> Any:
    deadline = asyncio.get_running_loop().time() + 10
    while not (found := [m for m in smtp.inbox if subject in str(m["Subject"])]):
        assert asyncio.get_running_loop().time() < deadline, f"no email about {subject}"
        await asyncio.sleep(0.02)
    return found[0]


async def test_an_endpoint_failing_for_five_days_is_disabled(
    database_url: str, smtp: SmtpServer
) -> None:
    async with WebhookReceiver() as receiver:
        receiver.plan("/hooks", *[Reply(503)] * 5)
        async with world(webhook_settings(database_url, smtp)) as w:
            endpoint, _ = await w.create(receiver.url())
            ping = (await w.call(PING, id=endpoint))["delivery"]
            await receiver.wait_for(1)
            await _until_row(
                lambda: WebhookDelivery.filter(id=_pk(ping["id"]), status="RETRYING").first()
            )
        six_days_on = TODAY + dt.timedelta(days=6)
        async with world(webhook_settings(database_url, smtp, six_days_on), load=False):
            row = await _until_row(
                lambda: WebhookEndpoint.filter(id=_pk(endpoint), enabled=False).first()
            )
            email = await _email_about(smtp, "Webhooks stopped")
            delivery = await WebhookDelivery.get(id=_pk(ping["id"]))
            audited = await AuditEvent.filter(action="webhook_endpoint.disabled").count()
        assert audited == 1
        assert row.disabled_reason.startswith("Every delivery failed for 5 days")
        assert "HTTP 503" in row.disabled_reason
        assert "failed for 5 days" in text_of(email)
        assert delivery.status == DeliveryStatus.FAILED
        assert delivery.attempts == 2


async def test_redelivery_sends_the_same_event_again(database_url: str, smtp: SmtpServer) -> None:
    async with WebhookReceiver() as receiver, world(webhook_settings(database_url, smtp)) as w:
        endpoint, secret = await w.create(receiver.url())
        first = (await w.call(PING, id=endpoint))["delivery"]
        await _until_row(
            lambda: WebhookDelivery.filter(id=_pk(first["id"]), status="SUCCEEDED").first()
        )
        again = await w.call(REDELIVER, id=first["id"])
        assert again["userErrors"] == []
        assert again["delivery"]["id"] != first["id"]
        assert again["delivery"]["eventId"] == first["eventId"]
        both = await receiver.wait_for(2)
        assert both[0].event_id == both[1].event_id == first["eventId"]
        assert both[0].body == both[1].body
        verified(both[1], secret)
        bad = await w.call(REDELIVER, id="nope")
        assert [e["code"] for e in bad["userErrors"]] == ["NOT_FOUND"]


async def test_a_rotated_secret_signs_beside_the_new_one_for_a_day(
    database_url: str, smtp: SmtpServer
) -> None:
    async with WebhookReceiver() as receiver:
        async with world(webhook_settings(database_url, smtp)) as w:
            endpoint, old = await w.create(receiver.url())
            new = (await w.call(ROTATE, id=endpoint))["secret"]
            await w.call(PING, id=endpoint)
            (during,) = await receiver.wait_for(1)
        assert len(during.headers["webhook-signature"].split(" ")) == 2
        assert verified(during, old) == verified(during, new)
        two_days_on = TODAY + dt.timedelta(days=2)
        async with world(webhook_settings(database_url, smtp, two_days_on), load=False) as w:
            w.tokens["owner"] = await create_token(email=ACME["owner"], now=w.settings.clock.now())
            await w.call(PING, id=endpoint)
            after = (await receiver.wait_for(2))[1]
        assert len(after.headers["webhook-signature"].split(" ")) == 1
        verified(after, new)
        with pytest.raises(WebhookVerificationError):
            verified(after, old)


async def test_a_dead_endpoint_holds_up_no_other_delivery_nor_email(
    database_url: str, smtp: SmtpServer
) -> None:
    settings = dataclasses.replace(
        webhook_settings(database_url, smtp), webhook_timeout_seconds=5.0
    )
    async with WebhookReceiver() as receiver, world(settings, other=True) as w:
        dead, _ = await w.create(receiver.url("/dead"))
        await w.create(receiver.url("/live"))
        receiver.plan("/dead", *[Reply(hang=True)] * 20)
        payload = await w.call(
            CREATE, as_="bolt", input={"url": receiver.url("/bolt"), "eventTypes": ALL_TYPES}
        )
        assert payload["userErrors"] == []
        for _ in range(3):
            await w.call(BUY, c=JOBS, k="DAILY", q=1)
        await w.call(ASSIGN, as_="bolt", u=encode_id("User", 5), k="MONTHLY")
        await receiver.wait_for(3, "/live")
        await receiver.wait_for(2, "/bolt")  # Barry's license moved, and its two pools
        await smtp.wait_for(3)
        # All of that while the dead endpoint's first attempts still wait for an answer.
        assert receiver.at("/dead")
        assert not await WebhookDelivery.filter(endpoint_id=_pk(dead), attempts__gt=0).exists()


async def test_urls_that_reach_inside_the_network_are_refused(
    database_url: str, smtp: SmtpServer
) -> None:
    """As in production: no networks allowed, https only. No URL here is ever sent to."""
    settings = dataclasses.replace(
        webhook_settings(database_url, smtp), webhook_allowed_networks=(), webhook_allow_http=False
    )
    async with world(settings) as w:
        for url in [
            "http://93.184.216.34/hooks",
            "https://localhost/hooks",
            "https://127.0.0.1/hooks",
            "https://10.0.0.1/hooks",
            "https://192.168.1.10/hooks",
            "https://169.254.169.254/latest/meta-data",
            "https://100.64.0.1/hooks",
            "https://0.0.0.0/hooks",
            "https://[::1]/hooks",
            "https://[::ffff:127.0.0.1]/hooks",
            "https://[fd00::1]/hooks",
            "https://user:secret@93.184.216.34/hooks",
        ]:
            payload = await w.call(CREATE, input={"url": url, "eventTypes": ["PING"]})
            assert [e["code"] for e in payload["userErrors"]] == ["WEBHOOK_URL_NOT_ALLOWED"], url
            assert payload["userErrors"][0]["field"] == ["input", "url"]
        # A public address is accepted (and never sent to: nothing is subscribed or pinged).
        endpoint, _ = await w.create("https://93.184.216.34/hooks", ["CONTRACT_RENEWED"])
        moved = await w.call(
            UPDATE, input={"endpointId": endpoint, "url": "https://[::ffff:10.0.0.1]/x"}
        )
        assert [e["code"] for e in moved["userErrors"]] == ["WEBHOOK_URL_NOT_ALLOWED"]
        assert (await WebhookEndpoint.get(id=_pk(endpoint))).url == "https://93.184.216.34/hooks"
        await w.call(DELETE_ENDPOINT, id=endpoint)
        assert await WebhookEndpoint.all().count() == 0


async def test_only_the_start_of_an_answer_is_read_and_kept(
    database_url: str, smtp: SmtpServer
) -> None:
    async with WebhookReceiver() as receiver, world(webhook_settings(database_url, smtp)) as w:
        endpoint, _ = await w.create(receiver.url())
        receiver.plan("/hooks", Reply(200, body="ok\x00" + "x" * 200_000))
        ping = (await w.call(PING, id=endpoint))["delivery"]
        row = await _until_row(
            lambda: WebhookDelivery.filter(id=_pk(ping["id"]), status="SUCCEEDED").first()
        )
        assert row.last_response_body == "ok\ufffd" + "x" * 2045
