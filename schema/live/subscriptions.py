"""The root of GraphQL subscriptions (the domain type is called Subscription, hence the name)."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from contextlib import aclosing

import strawberry

from resolvers import live as resolve
from schema.live.types import LicensesChangedEvent
from schema.protection.cost import running_cost
from schema.scalars import Int64


@strawberry.type(
    description="Pushed over a WebSocket at /graphql (graphql-transport-ws protocol); the "
    "bearer token goes in the connection_init payload."
)
class LiveUpdates:
    @strawberry.subscription(
        description="One event at once on subscribing, then one after each committed change "
        "to the viewer's company's licensing data (pools, purchases, renewals, users' "
        "licenses, daily usage), made through any server process. Same access rule as "
        "Query.subscription."
    )
    async def licenses_changed(
        self, info: strawberry.Info
    ) -> AsyncGenerator[LicensesChangedEvent, None]:
        # Closed with this generator: the resolver's lock and watch go when the client does.
        event_cost = running_cost(info._raw_info)
        async with aclosing(resolve.licenses_changed(info.context, event_cost)) as versions:
            async for version in versions:
                yield LicensesChangedEvent(version=Int64(version))
