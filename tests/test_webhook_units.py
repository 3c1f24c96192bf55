"""The pure parts of webhooks: the SSRF rules, the retry schedule, the signature."""

from __future__ import annotations

import datetime as dt
import ipaddress
import random
import re

import pytest
from standardwebhooks import Webhook

from licensing.settings import Settings
from licensing.webhook_sender import WebhookSender
from models.webhook import WebhookEndpoint, WebhookEvent, WebhookEventType
from services.webhooks import addresses, schedule, signing
from services.webhooks.addresses import AddressPolicy, WebhookUrlNotAllowed

STRICT = AddressPolicy()
NOW = dt.datetime(2026, 11, 26, 12, 0, tzinfo=dt.UTC)


def resolving(*answers: str) -> addresses.Resolver:
    """A resolver that answers without DNS: no traffic leaves the machine."""

    async def resolve(host: str, port: int) -> list[str]:
        return list(answers)

    return resolve


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.0.1",
        "169.254.169.254",
        "100.64.0.1",
        "0.0.0.0",  # noqa: S104 (an address judged, not bound)
        "224.0.0.1",
        "255.255.255.255",
        "::1",
        "::",
        "fe80::1",
        "fd00::1",
        "::ffff:127.0.0.1",
        "::ffff:10.0.0.1",
        "2002:0a00:0001::",  # 6to4 around 10.0.0.1
        "ff02::1",
    ],
)
def test_inside_addresses_are_not_public(address: str) -> None:
    assert not addresses.is_public(ipaddress.ip_address(address))


@pytest.mark.parametrize("address", ["93.184.216.34", "8.8.8.8", "2606:4700::1111"])
def test_public_addresses_are(address: str) -> None:
    assert addresses.is_public(ipaddress.ip_address(address))


async def test_a_name_is_judged_by_every_address_it_resolves_to() -> None:
    with pytest.raises(WebhookUrlNotAllowed, match=re.escape("127.0.0.1")):
        await addresses.check("https://partner.example/h", STRICT, resolving("127.0.0.1"))
    with pytest.raises(WebhookUrlNotAllowed, match=re.escape("10.9.8.7")):
        await addresses.check(
            "https://partner.example/h", STRICT, resolving("93.184.216.34", "10.9.8.7")
        )
    with pytest.raises(WebhookUrlNotAllowed, match="does not resolve"):
        await addresses.check("https://partner.example/h", STRICT, resolving())
    target = await addresses.check(
        "https://partner.example:8443/h?k=1", STRICT, resolving("2606:4700::1111")
    )
    assert target.address_url == "https://[2606:4700::1111]:8443/h?k=1"
    assert target.host_header == "partner.example:8443"
    assert target.host == "partner.example"


async def test_allowed_networks_relax_the_rules_for_tests_only() -> None:
    relaxed = AddressPolicy(
        allowed_networks=(ipaddress.ip_network("127.0.0.0/8"),), allow_http=True
    )
    target = await addresses.check("http://partner.example/h", relaxed, resolving("127.0.0.1"))
    assert target.address_url == "http://127.0.0.1:80/h"
    assert target.host_header == "partner.example"
    with pytest.raises(WebhookUrlNotAllowed):
        await addresses.check("http://partner.example/h", STRICT, resolving("93.184.216.34"))
    with pytest.raises(WebhookUrlNotAllowed):
        await addresses.check("https://partner.example/h", relaxed, resolving("10.0.0.1"))


async def test_each_delivery_checks_the_address_again() -> None:
    """An endpoint registered on a public name that now resolves inside is not sent to."""
    sender = WebhookSender(Settings(), resolver=resolving("10.0.0.1"))
    endpoint = WebhookEndpoint(id=1, url="https://partner.example/h", secret=signing.new_secret())
    event = WebhookEvent(id=1, event_id="msg_1", event_type=WebhookEventType.PING, body="{}")
    attempt = await sender.post(endpoint, event)
    assert attempt.status is None
    assert attempt.error is not None
    assert attempt.error.startswith("Not sent: partner.example resolves to 10.0.0.1")


def test_retries_back_off_from_seconds_to_hours_with_jitter() -> None:
    rng = random.Random(7)
    expected = [5, 30, 120, 600, 3600, 14400, 14400]
    for attempt, base in enumerate(expected, start=1):
        delay = schedule.retry_delay(attempt, rng).total_seconds()
        assert 0.8 * base <= delay <= 1.2 * base, (attempt, delay)


def test_retry_after_is_honoured_within_bounds() -> None:
    assert schedule.retry_after("120", NOW) == dt.timedelta(seconds=120)
    assert schedule.retry_after("0", NOW) == dt.timedelta(seconds=1)
    assert schedule.retry_after("99999999", NOW) == dt.timedelta(days=1)
    http_date = "Thu, 26 Nov 2026 12:10:00 GMT"
    assert schedule.retry_after(http_date, NOW) == dt.timedelta(minutes=10)
    assert schedule.retry_after("soon", NOW) is None
    assert schedule.retry_after(None, NOW) is None


def test_a_delivery_is_given_up_five_days_after_it_was_made() -> None:
    made = NOW - dt.timedelta(days=4, hours=23)
    assert schedule.next_attempt(
        failed_attempts=1, retry_after_header="60", created_at=made, now=NOW
    ) == NOW + dt.timedelta(seconds=60)
    assert (
        schedule.next_attempt(failed_attempts=9, retry_after_header=None, created_at=made, now=NOW)
        is None
    )


def test_signatures_are_standard_webhooks_signatures() -> None:
    secret, rotated = signing.new_secret(), signing.new_secret()
    body = b'{"type":"ping","data":{}}'
    timestamp = int(NOW.timestamp())
    ours = signing.sign(secret, event_id="msg_1", timestamp=timestamp, body=body)
    assert ours == Webhook(secret).sign("msg_1", NOW, body.decode())
    header = signing.signature_header(
        [rotated, secret], event_id="msg_1", timestamp=timestamp, body=body
    )
    assert header.split(" ")[1] == ours


def test_event_types_have_their_dotted_names() -> None:
    assert [each.wire_name for each in WebhookEventType] == [
        "ping",
        "license_pool.changed",
        "license_purchase.created",
        "license_purchase.confirmed",
        "license_purchase.cancelled",
        "license_purchase.expired",
        "renewal_change.scheduled",
        "contract.renewed",
        "user_license.changed",
    ]
