"""Inputs, payloads and root fields for webhook endpoints and deliveries."""

from __future__ import annotations

import strawberry

from models import webhook as webhook_models
from models.webhook import WebhookEventType
from resolvers import webhooks as resolve
from resolvers.ids import encode_id
from resolvers.outcome import Outcome
from schema.errors import UserError, user_errors
from schema.webhooks.types import (
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEndpointConnection,
    endpoint_connection,
)
from services.webhooks.endpoints import EndpointChanges


@strawberry.input(description="The endpoint to register.")
class CreateWebhookEndpointInput:
    url: str = strawberry.field(
        description="https:// URL on a public address, with no user name or password."
    )
    event_types: list[WebhookEventType] = strawberry.field(
        description="At least one; PING is always sent."
    )
    description: str | None = strawberry.field(default=None, description="At most 500 chars.")


@strawberry.type(description="The endpoint and its secret, or why none was made.")
class CreateWebhookEndpointPayload:
    endpoint: WebhookEndpoint | None
    secret: str | None = strawberry.field(
        description="whsec_ followed by base64: the signing key (Standard Webhooks). Shown "
        "only here and by rotateWebhookSecret."
    )
    user_errors: list[UserError]


@strawberry.input(description="What to change; fields left out stay as they are.")
class UpdateWebhookEndpointInput:
    endpoint_id: strawberry.ID
    url: str | None = None
    event_types: list[WebhookEventType] | None = None
    description: str | None = strawberry.field(
        default=None, description="An empty string removes it."
    )
    enabled: bool | None = strawberry.field(
        default=None,
        description="false stops deliveries (queued ones wait; new events are not queued for "
        "it); true resumes them and clears disabledReason.",
    )


@strawberry.type(description="The endpoint as changed, or why it was not.")
class UpdateWebhookEndpointPayload:
    endpoint: WebhookEndpoint | None
    user_errors: list[UserError]


@strawberry.input(description="The endpoint to delete, with its deliveries.")
class DeleteWebhookEndpointInput:
    endpoint_id: strawberry.ID


@strawberry.type(description="The deleted endpoint's id, or why it was not deleted.")
class DeleteWebhookEndpointPayload:
    deleted_endpoint_id: strawberry.ID | None
    user_errors: list[UserError]


@strawberry.input(description="The endpoint whose secret to replace.")
class RotateWebhookSecretInput:
    endpoint_id: strawberry.ID


@strawberry.type(description="The new secret, or why there is none.")
class RotateWebhookSecretPayload:
    endpoint: WebhookEndpoint | None
    secret: str | None = strawberry.field(description="The new signing key, shown only here.")
    user_errors: list[UserError]


@strawberry.input(description="The endpoint to send a PING to.")
class SendTestWebhookInput:
    endpoint_id: strawberry.ID


@strawberry.type(description="The queued PING, or why none was queued.")
class SendTestWebhookPayload:
    delivery: WebhookDelivery | None
    user_errors: list[UserError]


@strawberry.input(description="The delivery whose event to send again.")
class RedeliverWebhookInput:
    delivery_id: strawberry.ID


@strawberry.type(description="The new delivery of the same event, or why none was queued.")
class RedeliverWebhookPayload:
    delivery: WebhookDelivery | None
    user_errors: list[UserError]


def _delivery(outcome: Outcome[webhook_models.WebhookDelivery]) -> WebhookDelivery | None:
    return None if outcome.value is None else WebhookDelivery.of(outcome.value)


@strawberry.type
class WebhookQueries:
    @strawberry.field(
        description="The company's webhook endpoints, oldest first. Finance roles with the "
        "licenses:write scope only (FORBIDDEN otherwise)."
    )
    async def webhook_endpoints(
        self, info: strawberry.Info, first: int | None = None, after: str | None = None
    ) -> WebhookEndpointConnection:
        return endpoint_connection(await resolve.endpoints_page(info.context, first, after), after)


@strawberry.type
class WebhookMutations:
    @strawberry.mutation(
        description="Register an HTTPS endpoint for webhooks. The secret is shown in this "
        "payload only."
    )
    async def create_webhook_endpoint(
        self, info: strawberry.Info, input: CreateWebhookEndpointInput
    ) -> CreateWebhookEndpointPayload:
        outcome = await resolve.create(
            info.context, input.url, list(input.event_types), input.description
        )
        endpoint, secret = outcome.value if outcome.value else (None, None)
        return CreateWebhookEndpointPayload(
            endpoint=None if endpoint is None else WebhookEndpoint.of(endpoint),
            secret=secret,
            user_errors=user_errors(outcome.errors),
        )

    @strawberry.mutation(
        description="Change an endpoint's URL, events or description, or disable and enable it."
    )
    async def update_webhook_endpoint(
        self, info: strawberry.Info, input: UpdateWebhookEndpointInput
    ) -> UpdateWebhookEndpointPayload:
        changes = EndpointChanges(
            url=input.url,
            event_types=None if input.event_types is None else list(input.event_types),
            description=input.description,
            enabled=input.enabled,
        )
        outcome = await resolve.update(info.context, input.endpoint_id, changes)
        return UpdateWebhookEndpointPayload(
            endpoint=None if outcome.value is None else WebhookEndpoint.of(outcome.value),
            user_errors=user_errors(outcome.errors),
        )

    @strawberry.mutation(description="Delete an endpoint; its pending deliveries are not sent.")
    async def delete_webhook_endpoint(
        self, info: strawberry.Info, input: DeleteWebhookEndpointInput
    ) -> DeleteWebhookEndpointPayload:
        outcome = await resolve.delete(info.context, input.endpoint_id)
        deleted = None if outcome.value is None else encode_id("WebhookEndpoint", outcome.value)
        return DeleteWebhookEndpointPayload(
            deleted_endpoint_id=None if deleted is None else strawberry.ID(deleted),
            user_errors=user_errors(outcome.errors),
        )

    @strawberry.mutation(
        description="A new secret; the old one keeps signing alongside it for 24 hours."
    )
    async def rotate_webhook_secret(
        self, info: strawberry.Info, input: RotateWebhookSecretInput
    ) -> RotateWebhookSecretPayload:
        outcome = await resolve.rotate(info.context, input.endpoint_id)
        endpoint, secret = outcome.value if outcome.value else (None, None)
        return RotateWebhookSecretPayload(
            endpoint=None if endpoint is None else WebhookEndpoint.of(endpoint),
            secret=secret,
            user_errors=user_errors(outcome.errors),
        )

    @strawberry.mutation(
        description="Queue a PING event to one endpoint (a disabled one gets it once enabled)."
    )
    async def send_test_webhook(
        self, info: strawberry.Info, input: SendTestWebhookInput
    ) -> SendTestWebhookPayload:
        outcome = await resolve.send_test(info.context, input.endpoint_id)
        return SendTestWebhookPayload(
            delivery=_delivery(outcome), user_errors=user_errors(outcome.errors)
        )

    @strawberry.mutation(
        description="Queue a delivery's event again to its endpoint, with the same webhook-id."
    )
    async def redeliver_webhook(
        self, info: strawberry.Info, input: RedeliverWebhookInput
    ) -> RedeliverWebhookPayload:
        outcome = await resolve.redeliver(info.context, input.delivery_id)
        return RedeliverWebhookPayload(
            delivery=_delivery(outcome), user_errors=user_errors(outcome.errors)
        )
