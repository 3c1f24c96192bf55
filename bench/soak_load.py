"""The soak's clients: a realistic mix of reads and changes, each outcome recorded."""

from __future__ import annotations

import asyncio
import datetime as dt
import random
import re
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

import httpx

from bench.dataset import SOAK_TODAY
from bench.smtp import signature_token
from resolvers.ids import decode_id, encode_id
from services.billing.activity import reportable_days

DASHBOARD = """{ subscription {
  usage { usedBytes allowanceBytes percentUsed }
  contracts { id product startsOn expiresOn
    plan { name prices { kind period unitAmount { formatted } } }
    licensePools { kind total assigned available pending deletable }
    usage { percentUsed } } } }"""
USERS_PAGE = """{ subscription { company { users(first: 50) { totalCount
  edges { node { id name role licenses { product kind } } } } } } }"""
QUOTE = """query($c: ID!, $k: LicenseKind!, $q: Int!) {
  licensePurchaseQuote(input: {contractId: $c, kind: $k, quantity: $q}) {
    quote { contractBreakdown { currentTotal newTotal }
      costBreakdown { subtotal { formatted } tax { formatted } total { formatted } } }
    userErrors { code } } }"""
PURCHASE = """mutation($c: ID!, $k: LicenseKind!, $q: Int!, $key: String!) {
  purchaseLicenses(input: {contractId: $c, kind: $k, quantity: $q, idempotencyKey: $key}) {
    purchase { id } userErrors { code } } }"""
CANCEL = """mutation($p: ID!) { cancelLicensePurchase(input: {purchaseId: $p}) {
  userErrors { code } } }"""
RESEND = """mutation($p: ID!) { resendLicensePurchaseConfirmation(input: {purchaseId: $p}) {
  userErrors { code } } }"""
DELETE = """mutation($c: ID!, $k: LicenseKind!, $q: Int!) {
  deleteLicenses(input: {contractId: $c, kind: $k, quantity: $q}) { userErrors { code } } }"""
ASSIGN = """mutation($u: ID!, $p: Product!, $k: LicenseKind!) {
  assignLicense(input: {userId: $u, product: $p, kind: $k}) { userErrors { code } } }"""
UNASSIGN = """mutation($u: ID!, $p: Product!) {
  unassignLicense(input: {userId: $u, product: $p}) { userErrors { code } } }"""
DELETE_USER = """mutation($u: ID!) { deleteUser(input: {userId: $u}) { userErrors { code } } }"""
SIGN = """mutation($t: String!, $n: String!) {
  signLicensePurchase(input: {token: $t, signerName: $n}) { userErrors { code } } }"""

RENEWAL_QUOTE = """query($c: ID!, $n: Int!) {
  renewalQuote(input: {contractId: $c, contractedLicenses: $n}) {
    quote { total { formatted } } userErrors { code } } }"""
SCHEDULE_RENEWAL = """mutation($c: ID!, $n: Int!, $key: String!) {
  scheduleContractRenewal(input: {contractId: $c, contractedLicenses: $n, idempotencyKey: $key}) {
    renewalChange { id } userErrors { code } } }"""
CANCEL_RENEWAL = """mutation($r: ID!) { cancelRenewalChange(input: {renewalChangeId: $r}) {
  userErrors { code } } }"""
SIGN_RENEWAL = """mutation($t: String!, $n: String!) {
  signRenewalChange(input: {token: $t, signerName: $n}) { userErrors { code } } }"""

RECORD_ACTIVITY = """mutation($events: [LicenseActivityInput!]!) {
  recordLicenseActivity(input: {events: $events}) {
    accepted newBillableDays userErrors { code } } }"""
_REPORTABLE = reportable_days(dt.date.fromisoformat(SOAK_TODAY))
REPORTABLE_DAYS = [
    (_REPORTABLE.first + dt.timedelta(days=n)).isoformat()
    for n in range((_REPORTABLE.last - _REPORTABLE.first).days + 1)
]
ACTIVITY_KINDS = ("LOGIN", "APPOINTMENT_BOOKED", "APPOINTMENT_ACTIONED")

BUYABLE = ("MONTHLY", "DAILY")
KINDS = ("CONTRACTED", "MONTHLY", "DAILY")
PRODUCTS = ("JOBS", "SALES")


@dataclass(frozen=True)
class Outcome:
    """One request as the client saw it. `result`: ok, refused, cut, 5xx or error."""

    operation: str
    started: float
    finished: float
    result: str
    code: str = ""
    # What the change asked for, so the checker can compare with the database.
    subject: dict[str, Any] = field(default_factory=dict)
    # Sent to POST /graphql (the rest are the signature page's forms).
    graphql: bool = False


@dataclass
class World:
    """What the clients know: ids to act on and what they have done so far."""

    contract_ids: list[int]
    user_ids: list[int]
    token: str
    # The core product's token (activity:write only).
    activity_token: str
    base_url: str
    public_base_url: str
    outcomes: list[Outcome] = field(default_factory=list)
    purchase_ids: list[int] = field(default_factory=list)
    # Idempotency key of every purchase asked for -> the purchase id the server answered.
    purchase_keys: dict[str, int | None] = field(default_factory=dict)
    deleted_user_ids: set[int] = field(default_factory=set)
    renewal_change_ids: list[int] = field(default_factory=list)

    def tally(self) -> Counter[str]:
        return Counter(f"{o.operation}:{o.result}" for o in self.outcomes)


class Client:
    """One connection's worth of requests; every request ends in exactly one Outcome."""

    def __init__(self, world: World, http: httpx.AsyncClient, rng: random.Random) -> None:
        self.world = world
        self.http = http
        self.rng = rng

    async def graphql(
        self,
        operation: str,
        document: str,
        variables: dict[str, Any],
        subject: dict[str, Any] | None = None,
        authenticated: bool = True,
        token: str | None = None,
    ) -> dict[str, Any] | None:
        """The payload of the one root field, or None when the request did not succeed."""
        bearer = token or self.world.token
        headers = {"Authorization": f"Bearer {bearer}"} if authenticated else {}
        started = time.monotonic()
        try:
            response = await self.http.post(
                f"{self.world.base_url}/graphql",
                json={"query": document, "variables": variables},
                headers=headers,
            )
        except httpx.TransportError as error:
            self._record(operation, started, "cut", type(error).__name__, subject, graphql=True)
            return None
        if response.status_code >= 500:
            self._record(
                operation, started, "5xx", str(response.status_code), subject, graphql=True
            )
            return None
        body = response.json()
        if body.get("errors"):
            code = body["errors"][0].get("extensions", {}).get("code", "GRAPHQL_ERROR")
            self._record(operation, started, "error", code, subject, graphql=True)
            return None
        payload: dict[str, Any] = next(iter(body["data"].values()))
        refusals = payload.get("userErrors") or []
        if refusals:
            self._record(operation, started, "refused", refusals[0]["code"], subject, graphql=True)
            return None
        self._record(operation, started, "ok", "", subject, graphql=True)
        return payload

    async def open_page(self, url: str) -> str | None:
        """The signature page, as a person opens it: the breakdown it shows, if it is usable."""
        try:
            response = await self.http.get(url)
        except httpx.TransportError:
            return None
        found = re.search(r'name="shown" value="([0-9a-f]{64})"', response.text)
        return found.group(1) if response.status_code == 200 and found else None

    async def page_opens(self, url: str) -> bool:
        """Whether a signature page (a renewal's shows no digest) can be signed."""
        try:
            return (await self.http.get(url)).status_code == 200
        except httpx.TransportError:
            return False

    async def page(self, operation: str, url: str, form: dict[str, str]) -> int | None:
        started = time.monotonic()
        try:
            response = await self.http.post(url, data=form)
        except httpx.TransportError as error:
            self._record(operation, started, "cut", type(error).__name__, {})
            return None
        status = response.status_code
        result = "ok" if status == 200 else "5xx" if status >= 500 else "refused"
        self._record(operation, started, result, "" if status == 200 else str(status), {})
        return status

    def _record(
        self,
        operation: str,
        started: float,
        result: str,
        code: str,
        subject: dict[str, Any] | None,
        *,
        graphql: bool = False,
    ) -> None:
        self.world.outcomes.append(
            Outcome(operation, started, time.monotonic(), result, code, subject or {}, graphql)
        )

    # The mix: each method is one realistic thing a client of the Licenses page does.

    def _contract(self) -> str:
        return encode_id("Contract", self.rng.choice(self.world.contract_ids))

    def _user(self) -> int:
        return self.rng.choice(self.world.user_ids)

    async def dashboard(self) -> None:
        await self.graphql("dashboard", DASHBOARD, {})

    async def users_page(self) -> None:
        await self.graphql("users", USERS_PAGE, {})

    async def quote(self) -> None:
        variables = {
            "c": self._contract(),
            "k": self.rng.choice(BUYABLE),
            "q": self.rng.randint(1, 20),
        }
        await self.graphql("quote", QUOTE, variables)

    async def purchase(self) -> None:
        key = str(uuid.UUID(int=self.rng.getrandbits(128)))
        self.world.purchase_keys[key] = None
        variables = {
            "c": self._contract(),
            "k": self.rng.choice(BUYABLE),
            "q": self.rng.randint(1, 3),
            "key": key,
        }
        # A client whose request was cut sends it again with the same key: never a second buy.
        for _ in range(5):
            payload = await self.graphql("purchase", PURCHASE, variables)
            if payload is not None:
                purchase_id = decode_id(payload["purchase"]["id"], "LicensePurchase")
                assert purchase_id is not None
                self.world.purchase_keys[key] = purchase_id
                self.world.purchase_ids.append(purchase_id)
                return
            if self.world.outcomes[-1].result != "cut":
                return
            await asyncio.sleep(0.5)

    async def cancel(self) -> None:
        if self.world.purchase_ids:
            purchase = encode_id("LicensePurchase", self.rng.choice(self.world.purchase_ids))
            await self.graphql("cancel", CANCEL, {"p": purchase})

    async def resend(self) -> None:
        if self.world.purchase_ids:
            purchase = encode_id("LicensePurchase", self.rng.choice(self.world.purchase_ids))
            await self.graphql("resend", RESEND, {"p": purchase})

    async def delete_licenses(self) -> None:
        contract_id = self.rng.choice(self.world.contract_ids)
        kind = self.rng.choice(BUYABLE)
        quantity = self.rng.randint(1, 2)
        variables = {"c": encode_id("Contract", contract_id), "k": kind, "q": quantity}
        subject = {"contractId": contract_id, "kind": kind, "quantity": quantity}
        await self.graphql("delete", DELETE, variables, subject)

    async def assign(self) -> None:
        variables = {
            "u": encode_id("User", self._user()),
            "p": self.rng.choice(PRODUCTS),
            "k": self.rng.choice(KINDS),
        }
        await self.graphql("assign", ASSIGN, variables)

    async def unassign(self) -> None:
        variables = {"u": encode_id("User", self._user()), "p": self.rng.choice(PRODUCTS)}
        await self.graphql("unassign", UNASSIGN, variables)

    async def delete_user(self) -> None:
        if len(self.world.user_ids) <= 10:
            return
        user_id = self._user()
        self.world.user_ids.remove(user_id)
        payload = await self.graphql("delete_user", DELETE_USER, {"u": encode_id("User", user_id)})
        if payload is not None:
            self.world.deleted_user_ids.add(user_id)

    async def renewal_quote(self) -> None:
        variables = {"c": self._contract(), "n": self.rng.randint(0, 14)}
        await self.graphql("renewal_quote", RENEWAL_QUOTE, variables)

    async def schedule_renewal(self) -> None:
        """Only the contract in its renewal window takes it; the other refuses, with its dates."""
        key = str(uuid.UUID(int=self.rng.getrandbits(128)))
        variables = {"c": self._contract(), "n": self.rng.randint(2, 14), "key": key}
        for _ in range(5):  # cut requests are sent again with the same key
            payload = await self.graphql("schedule_renewal", SCHEDULE_RENEWAL, variables)
            if payload is not None:
                change_id = decode_id(payload["renewalChange"]["id"], "RenewalChange")
                assert change_id is not None
                if change_id not in self.world.renewal_change_ids:
                    self.world.renewal_change_ids.append(change_id)
                return
            if self.world.outcomes[-1].result != "cut":
                return
            await asyncio.sleep(0.5)

    async def cancel_renewal(self) -> None:
        if self.world.renewal_change_ids:
            change = encode_id("RenewalChange", self.rng.choice(self.world.renewal_change_ids))
            await self.graphql("cancel_renewal", CANCEL_RENEWAL, {"r": change})

    async def report_activity(self) -> None:
        """The core product reporting logins and appointments, some of them twice; a report
        cut by a fault is sent again, as it must be to bill those days."""
        events = [
            {
                "userId": encode_id("User", self._user()),
                "product": self.rng.choice(PRODUCTS),
                "kind": self.rng.choice(ACTIVITY_KINDS),
                "on": self.rng.choice(REPORTABLE_DAYS),
            }
            for _ in range(self.rng.randint(1, 40))
        ]
        pairs = sorted({(decode_id(e["userId"], "User"), e["on"]) for e in events})
        for _ in range(5):
            subject: dict[str, Any] = {"pairs": pairs}
            payload = await self.graphql(
                "activity",
                RECORD_ACTIVITY,
                {"events": events},
                subject,
                token=self.world.activity_token,
            )
            if payload is not None:
                subject["added"] = payload["newBillableDays"]
                return
            if self.world.outcomes[-1].result != "cut":
                return
            await asyncio.sleep(0.5)

    def mix(self) -> list[tuple[Callable[[], Awaitable[None]], int]]:
        """Each operation with its weight: mostly reads, as on the real page."""
        return [
            (self.dashboard, 40),
            (self.users_page, 10),
            (self.quote, 12),
            (self.purchase, 8),
            (self.cancel, 1),
            (self.resend, 1),
            (self.delete_licenses, 8),
            (self.assign, 14),
            (self.unassign, 4),
            (self.delete_user, 2),
            (self.renewal_quote, 2),
            (self.schedule_renewal, 2),
            (self.cancel_renewal, 1),
            (self.report_activity, 8),
        ]

    async def run(self, until: float, budget: Budget) -> None:
        operations, weights = zip(*self.mix(), strict=True)
        while time.monotonic() < until and budget.take():
            await self.rng.choices(operations, weights)[0]()


class Budget:
    """The most requests the run may start, shared by every client."""

    def __init__(self, requests: int) -> None:
        self.left = requests

    def take(self) -> bool:
        self.left -= 1
        return self.left >= 0


class Signer:
    """The person reading the company's mailbox: signs most emailed links, some twice."""

    def __init__(self, client: Client, inbox: list[EmailMessage]) -> None:
        self.client = client
        self.inbox = inbox
        self.read = 0

    async def run(self, until: float) -> None:
        while time.monotonic() < until:
            if self.read == len(self.inbox):
                await asyncio.sleep(0.05)
                continue
            message = self.inbox[self.read]
            self.read += 1
            await self._handle(message)

    async def _handle(self, message: EmailMessage) -> None:
        rng = self.client.rng
        if "Please sign" not in str(message["Subject"]):
            return  # a notice (the renewal window opened): nothing to sign
        if rng.random() < 0.15:
            return  # left unsigned: the purchase stays pending
        token = signature_token(message, self.client.world.public_base_url)
        renewal = "renewal with" in str(message["Subject"])
        signatures = [
            self._sign_renewal(token) if renewal else self._sign(token)
            for _ in range(2 if rng.random() < 0.2 else 1)
        ]
        await asyncio.gather(*signatures)

    async def _sign_renewal(self, token: str) -> None:
        if self.client.rng.random() < 0.5:
            url = f"{self.client.world.base_url}/sign/{token}"
            if await self.client.page_opens(url):
                form = {"signer_name": "Olivia", "agree": "yes"}
                await self.client.page("sign_renewal_page", url, form)
        else:
            variables = {"t": token, "n": "Olivia Owner"}
            await self.client.graphql("sign_renewal", SIGN_RENEWAL, variables, authenticated=False)

    async def _sign(self, token: str) -> None:
        if self.client.rng.random() < 0.5:
            url = f"{self.client.world.base_url}/sign/{token}"
            shown = await self.client.open_page(url)
            if shown is not None:
                form = {"signer_name": "Olivia", "agree": "yes", "shown": shown}
                await self.client.page("sign_page", url, form)
        else:
            variables = {"t": token, "n": "Olivia Owner"}
            await self.client.graphql("sign", SIGN, variables, authenticated=False)
