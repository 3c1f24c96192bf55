"""Quotes, purchases and signatures: the GraphQL glue over services.purchases and signing."""

from __future__ import annotations

import datetime as dt
from typing import Any

from models.audit import AuditEvent
from models.enums import LicenseKind
from models.outbox import OutboxEmail
from models.purchase import LicensePurchase
from resolvers.context import RequestContext
from resolvers.outcome import Outcome, actor_of, decode_pk, outcome
from resolvers.pagination import cursor_id, page_size
from services.access import sees_signer_addresses
from services.licenses.users import UserView
from services.purchases import lifecycle as purchases
from services.purchases import outbox, quotes, signing
from services.purchases import reads as purchase_reads
from services.purchases.pricing import Quote
from services.purchases.reads import Page


def link_ttl(ctx: RequestContext) -> dt.timedelta:
    return dt.timedelta(hours=ctx.settings.signature_link_ttl_hours)


async def quote(
    ctx: RequestContext, contract_id: str, kind: LicenseKind, quantity: int
) -> Outcome[Quote]:
    viewer = ctx.license_manager()

    async def work() -> Quote:
        return await quotes.quote_licenses(
            company=viewer.company,
            contract_id=decode_pk(contract_id, "Contract", "contractId"),
            kind=kind,
            quantity=quantity,
            now=ctx.settings.clock.now(),
        )

    return await outcome(work())


async def purchase(
    ctx: RequestContext, contract_id: str, kind: LicenseKind, quantity: int, key: str | None
) -> Outcome[LicensePurchase]:
    viewer = ctx.license_writer()

    async def work() -> LicensePurchase:
        return await purchases.purchase_licenses(
            company=viewer.company,
            contract_id=decode_pk(contract_id, "Contract", "contractId"),
            kind=kind,
            quantity=quantity,
            idempotency_key=key,
            actor=actor_of(viewer),
            now=ctx.settings.clock.now(),
            link_ttl=link_ttl(ctx),
        )

    return await outcome(work())


async def cancel(ctx: RequestContext, purchase_id: str) -> Outcome[LicensePurchase]:
    viewer = ctx.license_writer()

    async def work() -> LicensePurchase:
        return await purchases.cancel_purchase(
            company_id=viewer.company_id,
            purchase_id=decode_pk(purchase_id, "LicensePurchase", "purchaseId"),
            actor=actor_of(viewer),
            now=ctx.settings.clock.now(),
        )

    return await outcome(work())


async def resend(ctx: RequestContext, purchase_id: str) -> Outcome[LicensePurchase]:
    viewer = ctx.license_writer()

    async def work() -> LicensePurchase:
        return await purchases.resend_confirmation(
            company_id=viewer.company_id,
            purchase_id=decode_pk(purchase_id, "LicensePurchase", "purchaseId"),
            company_email=viewer.company.email,
            actor=actor_of(viewer),
            now=ctx.settings.clock.now(),
        )

    return await outcome(work())


async def sign(ctx: RequestContext, token: str, signer_name: str) -> Outcome[LicensePurchase]:
    """No bearer token: the signature token is the credential."""
    return await outcome(
        signing.sign_purchase(
            token=token,
            signer_name=signer_name,
            ip=ctx.client_ip,
            user_agent=ctx.user_agent,
            now=ctx.settings.clock.now(),
        )
    )


def purchase_status(ctx: RequestContext, row: LicensePurchase) -> str:
    return purchases.effective_status(row, ctx.settings.clock.now())


async def contract_purchases(
    ctx: RequestContext,
    contract_id: int,
    first: int | None,
    after: str | None,
    status: str | None,
) -> Page[LicensePurchase]:
    ctx.license_manager()
    return await purchase_reads.purchases_page(
        contract_id=contract_id,
        first=page_size(first),
        before_id=cursor_id(after),
        status=status,
        now=ctx.settings.clock.now(),
    )


async def contract_events(
    ctx: RequestContext, contract_id: int, first: int | None, after: str | None
) -> Page[AuditEvent]:
    ctx.license_manager()
    return await purchase_reads.events_page(
        contract_id=contract_id, first=page_size(first), before_id=cursor_id(after)
    )


# Audit details that only the finance roles' own tokens see (never a partner's read-only one).
SIGNER_ADDRESS_KEYS = frozenset({"ip"})


def event_details(ctx: RequestContext, row: AuditEvent) -> dict[str, Any]:
    details: dict[str, Any] = dict(row.details)
    if not sees_signer_addresses(ctx.viewer):
        for key in SIGNER_ADDRESS_KEYS & details.keys():
            del details[key]
    return details


async def user(ctx: RequestContext, user_id: int | None) -> UserView | None:
    return None if user_id is None else await ctx.loaders.users_by_id.load(user_id)


async def latest_email(ctx: RequestContext, purchase_id: int) -> OutboxEmail | None:
    return await ctx.loaders.latest_email_by_purchase.load(purchase_id)


async def email_status(ctx: RequestContext, purchase_id: int) -> str:
    return outbox.delivery_status(await latest_email(ctx, purchase_id))
