"""What a live update carries: the company's version and its subscription as of it."""

from __future__ import annotations

import strawberry

from schema.scalars import Int64
from schema.subscription.types import Subscription


@strawberry.type(description="The company's licensing data changed (or, first, is as it is now).")
class LicensesChangedEvent:
    version: Int64 = strawberry.field(
        description="Grows with every change of the company's data; a version already seen "
        "can be ignored."
    )

    @strawberry.field(
        description="The subscription as it is at this version, for the client to select from."
    )
    async def subscription(self, info: strawberry.Info) -> Subscription:
        viewer = info.context.license_manager()
        return await Subscription.read(info, viewer.company)
