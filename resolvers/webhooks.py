"""Webhook endpoints and deliveries: the GraphQL glue over services.webhooks.

Everything here needs a finance role with the licenses:write scope: an endpoint's URL and its
delivery log are the company's integration settings, not for read-only partner tokens.
"""

from __future__ import annotations

from models.webhook import DeliveryStatus, WebhookDelivery, WebhookEndpoint, WebhookEventType
from resolvers.context import RequestContext
from resolvers.outcome import Outcome, actor_of, decode_pk, outcome
from resolvers.pagination import cursor_id, page_size
from services.purchases.reads import Page
from services.webhooks import deliveries, endpoints
from services.webhooks.endpoints import EndpointChanges, UrlCheck


def _url_check(ctx: RequestContext) -> UrlCheck:
    return UrlCheck(policy=ctx.settings.webhook_policy)


async def endpoints_page(
    ctx: RequestContext, first: int | None, after: str | None
) -> Page[WebhookEndpoint]:
    viewer = ctx.license_writer()
    return await endpoints.endpoints_page(
        company_id=viewer.company_id, first=page_size(first), after_id=cursor_id(after)
    )


async def deliveries_page(
    ctx: RequestContext,
    endpoint_id: int,
    first: int | None,
    after: str | None,
    status: DeliveryStatus | None,
) -> Page[WebhookDelivery]:
    ctx.license_writer()
    return await deliveries.deliveries_page(
        endpoint_id=endpoint_id, first=page_size(first), before_id=cursor_id(after), status=status
    )


async def create(
    ctx: RequestContext, url: str, event_types: list[WebhookEventType], description: str | None
) -> Outcome[tuple[WebhookEndpoint, str]]:
    viewer = ctx.license_writer()
    return await outcome(
        endpoints.create_endpoint(
            company_id=viewer.company_id,
            url=url,
            event_types=event_types,
            description=description,
            actor=actor_of(viewer),
            now=ctx.settings.clock.now(),
            check=_url_check(ctx),
        )
    )


async def update(
    ctx: RequestContext, endpoint_id: str, changes: EndpointChanges
) -> Outcome[WebhookEndpoint]:
    viewer = ctx.license_writer()

    async def work() -> WebhookEndpoint:
        return await endpoints.update_endpoint(
            company_id=viewer.company_id,
            endpoint_id=decode_pk(endpoint_id, "WebhookEndpoint", "endpointId"),
            changes=changes,
            actor=actor_of(viewer),
            now=ctx.settings.clock.now(),
            check=_url_check(ctx),
        )

    return await outcome(work())


async def delete(ctx: RequestContext, endpoint_id: str) -> Outcome[int]:
    viewer = ctx.license_writer()

    async def work() -> int:
        return await endpoints.delete_endpoint(
            company_id=viewer.company_id,
            endpoint_id=decode_pk(endpoint_id, "WebhookEndpoint", "endpointId"),
            actor=actor_of(viewer),
            now=ctx.settings.clock.now(),
        )

    return await outcome(work())


async def rotate(ctx: RequestContext, endpoint_id: str) -> Outcome[tuple[WebhookEndpoint, str]]:
    viewer = ctx.license_writer()

    async def work() -> tuple[WebhookEndpoint, str]:
        return await endpoints.rotate_secret(
            company_id=viewer.company_id,
            endpoint_id=decode_pk(endpoint_id, "WebhookEndpoint", "endpointId"),
            actor=actor_of(viewer),
            now=ctx.settings.clock.now(),
        )

    return await outcome(work())


async def send_test(ctx: RequestContext, endpoint_id: str) -> Outcome[WebhookDelivery]:
    viewer = ctx.license_writer()

    async def work() -> WebhookDelivery:
        return await deliveries.send_test(
            company_id=viewer.company_id,
            endpoint_id=decode_pk(endpoint_id, "WebhookEndpoint", "endpointId"),
            actor=actor_of(viewer),
            now=ctx.settings.clock.now(),
        )

    return await outcome(work())


async def redeliver(ctx: RequestContext, delivery_id: str) -> Outcome[WebhookDelivery]:
    viewer = ctx.license_writer()

    async def work() -> WebhookDelivery:
        return await deliveries.redeliver(
            company_id=viewer.company_id,
            delivery_id=decode_pk(delivery_id, "WebhookDelivery", "deliveryId"),
            actor=actor_of(viewer),
            now=ctx.settings.clock.now(),
        )

    return await outcome(work())


async def endpoint_node(ctx: RequestContext, pk: int) -> WebhookEndpoint | None:
    """Another company's endpoint reads as unknown; one of the viewer's needs the access."""
    found = await endpoints.endpoints_by_ids(ctx.viewer.company_id, [pk])
    if found:
        ctx.license_writer()
    return found[0] if found else None


async def delivery_node(ctx: RequestContext, pk: int) -> WebhookDelivery | None:
    found = await deliveries.deliveries_by_ids(ctx.viewer.company_id, [pk])
    if found:
        ctx.license_writer()
    return found[0] if found else None
