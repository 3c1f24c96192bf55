"""The root Query."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import strawberry

from resolvers import node as node_resolvers
from schema.common import Node
from schema.licenses.types import Company, User
from schema.purchases.mutations import PurchaseQueries
from schema.purchases.types import LicensePurchase
from schema.renewal.mutations import RenewalQueries
from schema.renewal.types import RenewalChange
from schema.subscription.types import Contract, ContractDocument, LicensePool, Subscription
from schema.webhooks.mutations import WebhookQueries
from schema.webhooks.types import WebhookDelivery, WebhookEndpoint


async def _built(info: strawberry.Info, found: tuple[str, Any] | None) -> Node | None:
    if found is None:
        return None
    type_name, row = found
    if type_name == "LicensePool":
        return await LicensePool.of_view(info, row)
    if type_name == "Contract":
        return await Contract.of_view(info, row)
    if type_name == "Subscription":
        return await Subscription.read(info, row)
    builders: dict[str, Callable[[Any], Node]] = {
        "User": lambda row: User.of(row, info.context),
        "Company": Company.of,
        "ContractDocument": ContractDocument.of,
        "LicensePurchase": lambda row: LicensePurchase.of(info, row),
        "RenewalChange": lambda row: RenewalChange.of(info, row),
        "WebhookEndpoint": WebhookEndpoint.of,
        "WebhookDelivery": WebhookDelivery.of,
    }
    return builders[type_name](row)


@strawberry.type
class Query(PurchaseQueries, RenewalQueries, WebhookQueries):
    @strawberry.field(description="Fetch any object by its global id; null when not visible.")
    async def node(self, info: strawberry.Info, id: strawberry.ID) -> Node | None:
        return await _built(info, await node_resolvers.fetch_node(info.context, id))

    @strawberry.field(description="Fetch objects by global id, in the order given.")
    async def nodes(self, info: strawberry.Info, ids: list[strawberry.ID]) -> list[Node | None]:
        found = await node_resolvers.fetch_nodes(info.context, list(ids))
        return list(await asyncio.gather(*(_built(info, each) for each in found)))

    @strawberry.field(
        description="The authenticated user. Errors with extensions.code UNAUTHENTICATED when "
        "no valid token is sent."
    )
    def viewer(self, info: strawberry.Info) -> User:
        return User.of(info.context.viewer.user, info.context)

    @strawberry.field(
        description="The viewer's company subscription. Only OWNER_MANAGER and "
        "FINANCIAL_OFFICE_STAFF may read it: any other role gets a GraphQL error with "
        "extensions.code FORBIDDEN."
    )
    async def subscription(self, info: strawberry.Info) -> Subscription:
        viewer = info.context.license_manager()
        return await Subscription.read(info, viewer.company)
