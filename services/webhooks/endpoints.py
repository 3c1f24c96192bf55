"""Webhook endpoints: registered, changed, rotated and deleted by the finance roles; disabled by
the sender when they stop answering. Every change is audited."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from tortoise.transactions import in_transaction

from models.company import Company
from models.outbox import EmailKind, OutboxEmail
from models.webhook import WebhookEndpoint, WebhookEventType
from services import audit, data_version
from services.audit import Actor
from services.errors import InvalidInput, NotFound
from services.purchases.reads import Page
from services.webhooks import addresses
from services.webhooks.signing import new_secret

MAX_ENDPOINTS = 20
MAX_DESCRIPTION = 500
# A rotated secret keeps signing beside the new one this long, while partners switch.
OLD_SECRET_OVERLAP = dt.timedelta(hours=24)
SERVICE = Actor(user_id=None, token_id=None)


@dataclass(frozen=True)
class UrlCheck:
    """How URLs are checked: the SSRF policy and the resolver (injectable for tests)."""

    policy: addresses.AddressPolicy
    resolver: addresses.Resolver = addresses.system_resolver


@dataclass(frozen=True)
class EndpointChanges:
    """What an update sets; None leaves a field as it is."""

    url: str | None = None
    event_types: list[WebhookEventType] | None = None
    description: str | None = None
    enabled: bool | None = None


def _event_types(chosen: list[WebhookEventType]) -> list[str]:
    if not chosen:
        raise InvalidInput(
            "Choose at least one event type (PING is always sent).", field="eventTypes"
        )
    return sorted({str(event_type) for event_type in chosen})


def _description(text: str | None) -> str | None:
    cleaned = (text or "").strip()
    if len(cleaned) > MAX_DESCRIPTION:
        raise InvalidInput(
            f"Shorten the description to {MAX_DESCRIPTION} characters.", field="description"
        )
    return cleaned or None


async def _checked_url(raw: str, check: UrlCheck) -> str:
    target = await addresses.check(raw, check.policy, check.resolver)
    return target.url.geturl()


def _shown(url: str) -> dict[str, Any]:
    """What the audit trail keeps of a URL: its host (a query string may hold a partner's key)."""
    return {"host": urlsplit(url).hostname}


async def _record(
    endpoint: WebhookEndpoint, action: str, actor: Actor, now: dt.datetime, **details: Any
) -> None:
    await audit.record(
        company_id=endpoint.company_id,
        actor=actor,
        action=action,
        subject_type="WebhookEndpoint",
        subject_id=endpoint.id,
        details={**_shown(endpoint.url), **details},
        now=now,
    )


async def create_endpoint(
    *,
    company_id: int,
    url: str,
    event_types: list[WebhookEventType],
    description: str | None,
    actor: Actor,
    now: dt.datetime,
    check: UrlCheck,
) -> tuple[WebhookEndpoint, str]:
    """The new endpoint, enabled, and its secret (shown to the person this once)."""
    types = _event_types(event_types)
    cleaned = _description(description)
    checked = await _checked_url(url, check)
    secret = new_secret()
    async with in_transaction():
        await data_version.changed(company_id)
        if await WebhookEndpoint.filter(company_id=company_id).count() >= MAX_ENDPOINTS:
            raise InvalidInput(
                f"A company may have at most {MAX_ENDPOINTS} webhook endpoints: delete one "
                "it no longer uses.",
                field="url",
            )
        endpoint = await WebhookEndpoint.create(
            company_id=company_id,
            url=checked,
            description=cleaned,
            event_types=types,
            secret=secret,
            created_at=now,
        )
        await _record(endpoint, "webhook_endpoint.created", actor, now, eventTypes=types)
    return endpoint, secret


async def endpoint_of_company(*, company_id: int, endpoint_id: int) -> WebhookEndpoint:
    endpoint = await WebhookEndpoint.filter(id=endpoint_id, company_id=company_id).first()
    if endpoint is None:
        raise NotFound("No webhook endpoint has this id.", field="endpointId")
    return endpoint


async def _update_values(changes: EndpointChanges, check: UrlCheck) -> dict[str, Any]:
    values: dict[str, Any] = {}
    if changes.url is not None:
        values["url"] = await _checked_url(changes.url, check)
    if changes.event_types is not None:
        values["event_types"] = _event_types(changes.event_types)
    if changes.description is not None:
        values["description"] = _description(changes.description)
    if changes.enabled is not None:
        # A person's choice either way: no reason of the service's stays behind.
        values.update(enabled=changes.enabled, disabled_reason=None)
        if changes.enabled:
            values["failing_since"] = None
    return values


async def update_endpoint(
    *,
    company_id: int,
    endpoint_id: int,
    changes: EndpointChanges,
    actor: Actor,
    now: dt.datetime,
    check: UrlCheck,
) -> WebhookEndpoint:
    await endpoint_of_company(company_id=company_id, endpoint_id=endpoint_id)
    values = await _update_values(changes, check)
    async with in_transaction():
        await data_version.changed(company_id)
        before = await endpoint_of_company(company_id=company_id, endpoint_id=endpoint_id)
        endpoint = before
        if values:
            await WebhookEndpoint.filter(id=endpoint.id).update(**values)
            endpoint = await WebhookEndpoint.get(id=endpoint.id)
        shown = {key: value for key, value in values.items() if key in ("enabled", "event_types")}
        if endpoint.url != before.url:
            shown["previousHost"] = urlsplit(before.url).hostname
        await _record(endpoint, "webhook_endpoint.updated", actor, now, **shown)
    return endpoint


async def delete_endpoint(
    *, company_id: int, endpoint_id: int, actor: Actor, now: dt.datetime
) -> int:
    """Delete it with its deliveries (pending ones are never sent)."""
    async with in_transaction():
        await data_version.changed(company_id)
        endpoint = await endpoint_of_company(company_id=company_id, endpoint_id=endpoint_id)
        await _record(endpoint, "webhook_endpoint.deleted", actor, now)
        await endpoint.delete()
    return endpoint_id


async def rotate_secret(
    *, company_id: int, endpoint_id: int, actor: Actor, now: dt.datetime
) -> tuple[WebhookEndpoint, str]:
    """A new secret; the current one signs beside it for 24 hours (one before is dropped)."""
    secret = new_secret()
    async with in_transaction():
        await data_version.changed(company_id)
        endpoint = await endpoint_of_company(company_id=company_id, endpoint_id=endpoint_id)
        await WebhookEndpoint.filter(id=endpoint.id).update(
            secret=secret,
            previous_secret=endpoint.secret,
            previous_secret_expires_at=now + OLD_SECRET_OVERLAP,
        )
        await _record(endpoint, "webhook_endpoint.secret_rotated", actor, now)
    return await WebhookEndpoint.get(id=endpoint_id), secret


def signing_secrets(endpoint: WebhookEndpoint, now: dt.datetime) -> list[str]:
    """The secrets that sign an attempt now: the current one, and a rotated one for 24 hours."""
    expires = endpoint.previous_secret_expires_at
    if endpoint.previous_secret and expires is not None and expires > now:
        return [endpoint.secret, endpoint.previous_secret]
    return [endpoint.secret]


async def endpoints_page(
    *, company_id: int, first: int, after_id: int | None
) -> Page[WebhookEndpoint]:
    """Oldest first; `after_id` is the last id of the previous page."""
    query = WebhookEndpoint.filter(company_id=company_id)
    total = await query.count()
    if after_id is not None:
        query = query.filter(id__gt=after_id)
    rows = await query.order_by("id").limit(first + 1)
    return Page(rows=rows[:first], has_next_page=len(rows) > first, total_count=total)


async def endpoints_by_ids(company_id: int, ids: list[int]) -> list[WebhookEndpoint]:
    return await WebhookEndpoint.filter(id__in=ids, company_id=company_id)


async def disable_by_service(endpoint_id: int, reason: str, now: dt.datetime) -> bool:
    """Disable it with the reason, audit it and email the company; inside the transaction of
    the attempt that decided it. False when it was disabled already."""
    won = await WebhookEndpoint.filter(id=endpoint_id, enabled=True).update(
        enabled=False, disabled_reason=reason[:500]
    )
    if won != 1:
        return False
    endpoint = await WebhookEndpoint.get(id=endpoint_id)
    company_email = await Company.filter(id=endpoint.company_id).values_list("email", flat=True)
    await _record(endpoint, "webhook_endpoint.disabled", SERVICE, now, reason=reason)
    await OutboxEmail.create(
        kind=EmailKind.WEBHOOK_ENDPOINT_DISABLED,
        company_id=endpoint.company_id,
        webhook_endpoint_id=endpoint.id,
        to_address=company_email[0],
        next_attempt_at=now,
        created_at=now,
    )
    return True
