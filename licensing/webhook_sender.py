"""Delivers webhooks: a loop in every service process, safe to run several at once.

Each attempt resolves the endpoint's host once, checks every address (services/webhooks/
addresses.py) and connects to the checked address itself, sending the original Host header and
TLS server name. No proxy from the environment, no redirect followed, at most 64 KiB of the
answer read, one time limit for the whole exchange.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import time
from collections import Counter

import httpx

from licensing.settings import Settings
from models.webhook import WebhookDelivery, WebhookEndpoint, WebhookEvent
from services.webhooks import addresses, deliveries, endpoints
from services.webhooks.deliveries import Attempt
from services.webhooks.signing import signature_header

logger = logging.getLogger(__name__)
USER_AGENT = "licensing-webhooks/1"
MAX_RESPONSE_BYTES = 64 * 1024


async def _read_capped(response: httpx.Response) -> str:
    """The start of the answer: at most 64 KiB read off the wire, undecoded (no gzip bombs)."""
    read = bytearray()
    async for chunk in response.aiter_raw():
        read += chunk
        if len(read) >= MAX_RESPONSE_BYTES:
            break
    return bytes(read[: deliveries.KEPT_RESPONSE_CHARS]).decode("utf-8", errors="replace")


class WebhookSender:
    def __init__(
        self, settings: Settings, resolver: addresses.Resolver = addresses.system_resolver
    ) -> None:
        self.settings = settings
        self.policy = settings.webhook_policy
        self.resolver = resolver
        # Made once: building it (loading the CA bundle) takes tens of milliseconds.
        self.tls = httpx.create_ssl_context()
        self.inflight: dict[asyncio.Task[None], WebhookDelivery] = {}
        self._wake = asyncio.Event()

    async def run(self, stop: asyncio.Event) -> None:
        """Claim due deliveries until `stop`; then let the attempts under way finish."""
        waker = asyncio.create_task(self._wake_on(stop))
        try:
            while not stop.is_set():
                self._wake.clear()
                try:
                    await self.claim_more()
                except Exception:
                    logger.exception("webhook pass failed; trying again shortly")
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self.settings.webhook_poll_seconds)
        finally:
            waker.cancel()
            await self._finish()

    async def _wake_on(self, stop: asyncio.Event) -> None:
        await stop.wait()
        self._wake.set()

    async def _finish(self) -> None:
        if self.inflight:
            _, unfinished = await asyncio.wait(
                list(self.inflight), timeout=self.settings.webhook_timeout_seconds + 2
            )
            for task in unfinished:  # their leases run out; another process sends them
                task.cancel()

    def _fairness(self) -> deliveries.Fairness:
        held = list(self.inflight.values())
        slots = self.settings.webhook_concurrency
        return deliveries.Fairness(
            busy_endpoints=Counter(delivery.endpoint_id for delivery in held),
            busy_companies=Counter(delivery.company_id for delivery in held),
            per_endpoint=max(1, slots // 4),
            per_company=max(1, slots // 2),
        )

    async def claim_more(self) -> int:
        """Start attempts for due deliveries, up to the free slots; how many it started."""
        free = self.settings.webhook_concurrency - len(self.inflight)
        if free <= 0:
            return 0
        claimed = await deliveries.claim(
            now=self.settings.clock.now(),
            lease=dt.timedelta(seconds=self.settings.webhook_lease_seconds),
            limit=free,
            fairness=self._fairness(),
        )
        for delivery in claimed:
            task = asyncio.create_task(self._attempt(delivery), name="webhook-attempt")
            self.inflight[task] = delivery
            task.add_done_callback(self._done)
        return len(claimed)

    def _done(self, task: asyncio.Task[None]) -> None:
        self.inflight.pop(task, None)
        self._wake.set()  # a slot is free: another endpoint's delivery may be waiting

    async def _attempt(self, claimed: WebhookDelivery) -> None:
        try:
            delivery = await deliveries.for_attempt(claimed.id)
            if delivery is None:
                return
            delivery.claim_token = claimed.claim_token
            if not delivery.endpoint.enabled:
                await deliveries.release(delivery)
                return
            attempt = await self.post(delivery.endpoint, delivery.event)
            now = self.settings.clock.now()
            if await deliveries.record(delivery, attempt, now, self.settings.webhook_retry_scale):
                self._log(delivery, attempt)
        except Exception:
            # The lease runs out and the delivery is attempted again.
            logger.exception("webhook delivery %s: the attempt failed unexpectedly", claimed.id)

    def _log(self, delivery: WebhookDelivery, attempt: Attempt) -> None:
        outcome = attempt.status if attempt.status is not None else attempt.error
        level = logging.INFO if attempt.succeeded else logging.WARNING
        logger.log(
            level,
            "webhook delivery %s (%s) to endpoint %s, attempt %s: %s",
            delivery.id,
            delivery.event.event_id,
            delivery.endpoint_id,
            delivery.attempts + 1,
            outcome,
        )

    async def post(self, endpoint: WebhookEndpoint, event: WebhookEvent) -> Attempt:
        """One attempt: checked address, signed body, the answer's status and its start."""
        try:
            target = await addresses.check(endpoint.url, self.policy, self.resolver)
        except addresses.WebhookUrlNotAllowed as refused:
            return Attempt(status=None, error=f"Not sent: {refused.message}")
        body = event.body.encode()
        timestamp = int(time.time())  # real time: receivers check it against their clocks
        headers = {
            "host": target.host_header,
            "content-type": "application/json",
            "user-agent": USER_AGENT,
            "accept-encoding": "identity",
            "webhook-id": event.event_id,
            "webhook-timestamp": str(timestamp),
            "webhook-signature": signature_header(
                endpoints.signing_secrets(endpoint, self.settings.clock.now()),
                event_id=event.event_id,
                timestamp=timestamp,
                body=body,
            ),
        }
        limit = self.settings.webhook_timeout_seconds
        try:
            async with asyncio.timeout(limit):
                return await self._exchange(target, body, headers, limit)
        except TimeoutError:
            return Attempt(status=None, error=f"No answer within {limit:g} seconds")
        except Exception as failure:  # whatever fails, the attempt failed: recorded, retried
            if not isinstance(failure, (httpx.HTTPError, OSError)):
                logger.warning("webhook attempt failed unexpectedly", exc_info=True)
            return Attempt(status=None, error=f"{type(failure).__name__}: {failure}")

    async def _exchange(
        self, target: addresses.Target, body: bytes, headers: dict[str, str], limit: float
    ) -> Attempt:
        """The exchange with the first of the checked addresses that takes the connection."""
        # A client per attempt, without keep-alive: a pooled connection is keyed by address and
        # could carry one host's TLS session to another host on the same address.
        async with httpx.AsyncClient(
            verify=self.tls,
            trust_env=False,
            follow_redirects=False,
            timeout=limit,
            limits=httpx.Limits(max_keepalive_connections=0),
        ) as client:
            extensions = {"sni_hostname": target.host} if target.url.scheme == "https" else {}
            *others, last = target.addresses
            for address in others:
                try:
                    return await _send(
                        client, target.address_url(address), body, headers, extensions
                    )
                except httpx.ConnectError:
                    continue
            return await _send(client, target.address_url(last), body, headers, extensions)


async def _send(
    client: httpx.AsyncClient,
    url: str,
    body: bytes,
    headers: dict[str, str],
    extensions: dict[str, str],
) -> Attempt:
    request = client.build_request(
        "POST", url, content=body, headers=headers, extensions=extensions
    )
    response = await client.send(request, stream=True)
    try:
        kept = await _read_capped(response)
    finally:
        await response.aclose()
    return Attempt(
        status=response.status_code, body=kept, retry_after=response.headers.get("retry-after")
    )
