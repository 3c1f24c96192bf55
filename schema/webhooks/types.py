"""Webhook endpoints and deliveries as clients read them."""

from __future__ import annotations

import datetime as dt

import strawberry
from strawberry import Private

from models import webhook as webhook_models
from models.webhook import DeliveryStatus as WebhookDeliveryStatus
from models.webhook import WebhookEventType
from resolvers import webhooks as resolve
from resolvers.ids import encode_id
from resolvers.pagination import id_cursor
from schema.common import Node, PageInfo, id_page_info
from services.purchases.reads import Page

# Registered with their GraphQL names and descriptions; annotations use the model enums.
strawberry.enum(
    webhook_models.WebhookEventType,
    name="WebhookEventType",
    description="What a webhook reports; the body's `type` is its lower-case dotted form "
    "(LICENSE_POOL_CHANGED: license_pool.changed, PING: ping).",
)
strawberry.enum(
    webhook_models.DeliveryStatus,
    name="WebhookDeliveryStatus",
    description="PENDING: not attempted yet. RETRYING: an attempt failed, another is due at "
    "nextAttemptAt. SUCCEEDED: answered with a 2xx. FAILED: given up (5 days after it was "
    "queued, or its answer disabled the endpoint: a 410, 5 days of failures); redeliver it to "
    "try again.",
)


@strawberry.type(description="One event to one endpoint: its attempts so far.")
class WebhookDelivery(Node):
    row: Private[webhook_models.WebhookDelivery]
    event_id: str = strawberry.field(
        description="The webhook-id header: the same on every attempt and on a redelivery."
    )
    event_type: WebhookEventType
    created_at: dt.datetime
    status: WebhookDeliveryStatus
    attempts: int
    last_attempt_at: dt.datetime | None
    last_response_status: int | None = strawberry.field(
        description="HTTP status of the last attempt; null if it got no answer."
    )
    next_attempt_at: dt.datetime | None

    @classmethod
    def of(cls, row: webhook_models.WebhookDelivery) -> WebhookDelivery:
        return cls(
            row=row,
            id=strawberry.ID(encode_id("WebhookDelivery", row.id)),
            event_id=row.event.event_id,
            event_type=row.event.event_type,
            created_at=row.created_at,
            status=row.status,
            attempts=row.attempts,
            last_attempt_at=row.last_attempt_at,
            last_response_status=row.last_response_status,
            next_attempt_at=row.next_attempt_at,
        )

    @strawberry.field(
        description="Why the last attempt got no answer (timeout, refused address...); null "
        "when it got one."
    )
    def last_error(self) -> str | None:
        return self.row.last_error

    @strawberry.field(description="The start of the last answer's body (at most 2 KiB).")
    def last_response_body(self) -> str | None:
        return self.row.last_response_body


@strawberry.type
class WebhookDeliveryEdge:
    node: WebhookDelivery
    cursor: str


@strawberry.type(description="A page of deliveries, newest first.")
class WebhookDeliveryConnection:
    edges: list[WebhookDeliveryEdge]
    page_info: PageInfo
    total_count: int


@strawberry.type(description="A partner's HTTPS endpoint that receives the company's webhooks.")
class WebhookEndpoint(Node):
    row: Private[webhook_models.WebhookEndpoint]
    url: str
    description: str | None
    event_types: list[WebhookEventType] = strawberry.field(
        description="Events sent to it (PING always is)."
    )
    enabled: bool
    disabled_reason: str | None = strawberry.field(
        description="Why the service disabled it, e.g. failing for 5 days; null when enabled "
        "or disabled by a person."
    )
    created_at: dt.datetime

    @classmethod
    def of(cls, row: webhook_models.WebhookEndpoint) -> WebhookEndpoint:
        return cls(
            row=row,
            id=strawberry.ID(encode_id("WebhookEndpoint", row.id)),
            url=row.url,
            description=row.description,
            event_types=[webhook_models.WebhookEventType(each) for each in row.event_types],
            enabled=row.enabled,
            disabled_reason=row.disabled_reason,
            created_at=row.created_at,
        )

    @strawberry.field(description="Newest first. first defaults to 50, at most 100.")
    async def deliveries(
        self,
        info: strawberry.Info,
        first: int | None = None,
        after: str | None = None,
        status: WebhookDeliveryStatus | None = None,
    ) -> WebhookDeliveryConnection:
        page = await resolve.deliveries_page(info.context, self.row.id, first, after, status)
        edges = [
            WebhookDeliveryEdge(node=WebhookDelivery.of(row), cursor=id_cursor(row.id))
            for row in page.rows
        ]
        return WebhookDeliveryConnection(
            edges=edges, page_info=id_page_info(page, after), total_count=page.total_count
        )


@strawberry.type
class WebhookEndpointEdge:
    node: WebhookEndpoint
    cursor: str


@strawberry.type(description="A page of webhook endpoints, oldest first.")
class WebhookEndpointConnection:
    edges: list[WebhookEndpointEdge]
    page_info: PageInfo
    total_count: int


def endpoint_connection(
    page: Page[webhook_models.WebhookEndpoint], after: str | None
) -> WebhookEndpointConnection:
    edges = [
        WebhookEndpointEdge(node=WebhookEndpoint.of(row), cursor=id_cursor(row.id))
        for row in page.rows
    ]
    return WebhookEndpointConnection(
        edges=edges, page_info=id_page_info(page, after), total_count=page.total_count
    )
