"""The pure parts of webhooks: the SSRF rules, the retry schedule, the signature."""

from __future__ import annotations

import datetime as dt
import ipaddress
import random

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
        "64:ff9b::a00:1",  # NAT64 of 10.0.0.1
        "64:ff9b:1::1",  # local-use NAT64
        "::7f00:1",  # IPv4-compatible
        "::ffff:0:a00:1",  # IPv4-translated
        "fec0::1",  # site-local
    ],
)
def test_inside_addresses_are_not_public(address: str) -> None:
    assert not addresses.is_public(ipaddress.ip_address(address))


@pytest.mark.parametrize(
    "address", ["93.184.216.34", "8.8.8.8", "2606:4700::1111", "64:ff9b::808:808"]
)
def test_public_addresses_are(address: str) -> None:
    assert addresses.is_public(ipaddress.ip_address(address))


async def test_a_name_is_judged_by_every_address_it_resolves_to() -> None:
    with pytest.raises(WebhookUrlNotAllowed, match="private, loopback") as refused:
        await addresses.check("https://partner.example/h", STRICT, resolving("127.0.0.1"))
    assert "127.0.0.1" not in refused.value.message  # no map of the network for the asking
    with pytest.raises(WebhookUrlNotAllowed, match="private, loopback"):
        await addresses.check(
            "https://partner.example/h", STRICT, resolving("93.184.216.34", "10.9.8.7")
        )
    with pytest.raises(WebhookUrlNotAllowed, match="does not resolve"):
        await addresses.check("https://partner.example/h", STRICT, resolving())
    target = await addresses.check(
        "https://partner.example:8443/h?k=1", STRICT, resolving("2606:4700::1111")
    )
    assert target.address_url(target.addresses[0]) == "https://[2606:4700::1111]:8443/h?k=1"
    assert target.host_header == "partner.example:8443"
    assert target.host == "partner.example"


async def test_allowed_networks_relax_the_rules_for_tests_only() -> None:
    relaxed = AddressPolicy(
        allowed_networks=(ipaddress.ip_network("127.0.0.0/8"),), allow_http=True
    )
    target = await addresses.check("http://partner.example/h", relaxed, resolving("127.0.0.1"))
    assert target.address_url(target.addresses[0]) == "http://127.0.0.1:80/h"
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
    assert attempt.error.startswith("Not sent: partner.example is, or resolves to, a private")


def test_retries_back_off_from_seconds_to_hours_with_jitter() -> None:
    rng = random.Random(7)
    expected = [5, 30, 120, 600, 3600, 14400, 14400]
    for attempt, base in enumerate(expected, start=1):
        delay = schedule.retry_delay(attempt, rng).total_seconds()
        assert 0.8 * base <= delay <= 1.2 * base, (attempt, delay)


def test_retry_after_is_read_within_bounds() -> None:
    assert schedule.retry_after("120", NOW) == dt.timedelta(seconds=120)
    assert schedule.retry_after("0", NOW) == dt.timedelta(0)
    assert schedule.retry_after("\u00b2", NOW) is None  # a digit to isdigit(), not to int()
    assert schedule.retry_after("99999999", NOW) == dt.timedelta(days=1)
    http_date = "Thu, 26 Nov 2026 12:10:00 GMT"
    assert schedule.retry_after(http_date, NOW) == dt.timedelta(minutes=10)
    assert schedule.retry_after("soon", NOW) is None
    assert schedule.retry_after(None, NOW) is None


def _failure(**changes: object) -> schedule.Failure:
    fields: dict[str, object] = {
        "status": 503,
        "described": "HTTP 503",
        "retry_after": None,
        "failed_attempts": 1,
        "created_at": NOW,
        "failing_since": NOW,
    }
    return schedule.Failure(**(fields | changes))  # type: ignore[arg-type]


def test_a_failure_is_retried_never_sooner_than_retry_after_asks() -> None:
    soon = schedule.after_failure(_failure(), NOW)
    assert soon.disable_because is None
    assert soon.next_attempt_at is not None
    assert NOW + dt.timedelta(seconds=4) <= soon.next_attempt_at <= NOW + dt.timedelta(seconds=6)
    asked = schedule.after_failure(_failure(retry_after="600"), NOW)
    assert asked.next_attempt_at == NOW + dt.timedelta(seconds=600)
    # Asking for less than the schedule does not make it hammer the endpoint.
    sooner = schedule.after_failure(_failure(retry_after="0", failed_attempts=3), NOW)
    assert sooner.next_attempt_at is not None
    assert sooner.next_attempt_at >= NOW + dt.timedelta(seconds=96)


def test_a_410_gives_up_and_disables_at_once() -> None:
    verdict = schedule.after_failure(_failure(status=410), NOW)
    assert verdict.next_attempt_at is None
    assert verdict.disable_because is not None
    assert "410" in verdict.disable_because


def test_five_days_of_failures_give_up_and_disable() -> None:
    made = NOW - dt.timedelta(days=4, hours=23)
    # Failing since the delivery was made, with no later retry inside its 5 days: the
    # endpoint failed throughout, even with no newer event to try it again.
    quiet = schedule.after_failure(
        _failure(failed_attempts=34, created_at=made, failing_since=made), NOW
    )
    assert quiet.next_attempt_at is None
    assert quiet.disable_because is not None
    assert quiet.disable_because.startswith("Every delivery failed for 5 days")
    # The same delivery, while the endpoint answered something else meanwhile: given up only.
    recovered = schedule.after_failure(
        _failure(failed_attempts=34, created_at=made, failing_since=NOW), NOW
    )
    assert recovered == schedule.Verdict(None, None)
    # A young delivery of an endpoint failing for 5 days: disabled.
    old = NOW - dt.timedelta(days=5)
    assert schedule.after_failure(_failure(failing_since=old), NOW).disable_because is not None


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


async def test_international_names_are_sent_as_idna_and_bad_ones_refused() -> None:
    target = await addresses.check("https://exämple.com/h", STRICT, resolving("93.184.216.34"))
    assert target.host_header == "xn--exmple-cua.com"
    with pytest.raises(WebhookUrlNotAllowed, match="not valid"):
        await addresses.check("https://a..b/h", STRICT, resolving("93.184.216.34"))
