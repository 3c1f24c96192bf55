"""`node(id)`: fetch any object by global id, as the viewer may see it.

Another company's object, an unknown id and a malformed id all read as null, so ids leak
nothing. An object of the viewer's own company that their role may not read is FORBIDDEN.
"""

from __future__ import annotations

import asyncio
from typing import TypeVar

from models.purchase import LicensePurchase
from models.renewal import RenewalChange
from models.webhook import WebhookDelivery, WebhookEndpoint
from resolvers.context import RequestContext
from resolvers.errors import forbidden
from resolvers.ids import decode_any_id
from resolvers.webhooks import delivery_node, endpoint_node
from services.access import CompanyInfo, may_read_user
from services.licenses.users import UserView
from services.subscription.reads import ContractView, DocumentView, PoolView

T = TypeVar("T")
NodeRow = (
    CompanyInfo
    | UserView
    | ContractView
    | PoolView
    | DocumentView
    | LicensePurchase
    | RenewalChange
    | WebhookEndpoint
    | WebhookDelivery
)


async def _user(ctx: RequestContext, pk: int) -> UserView | None:
    row = await ctx.loaders.users_by_id.load(pk)
    if row is not None and not may_read_user(ctx.viewer, pk):
        raise forbidden(
            "Only an owner/manager or financial office staff, with a token that may read "
            "licenses, may read other users."
        )
    return row


async def _company(ctx: RequestContext, pk: int) -> CompanyInfo | None:
    return ctx.viewer.company if pk == ctx.viewer.company_id else None


async def _subscription(ctx: RequestContext, pk: int) -> CompanyInfo | None:
    if pk != ctx.viewer.company_id:
        return None
    ctx.license_manager()
    return ctx.viewer.company


def _finance_only(ctx: RequestContext, row: T | None) -> T | None:
    """A row of the viewer's company that only the finance roles may read."""
    if row is not None:
        ctx.license_manager()
    return row


async def _contract(ctx: RequestContext, pk: int) -> ContractView | None:
    return _finance_only(ctx, await ctx.loaders.contracts_by_id.load(pk))


async def _pool(ctx: RequestContext, pk: int) -> PoolView | None:
    return _finance_only(ctx, await ctx.loaders.pools_by_id.load(pk))


async def _document(ctx: RequestContext, pk: int) -> DocumentView | None:
    return _finance_only(ctx, await ctx.loaders.documents_by_id.load(pk))


async def _purchase(ctx: RequestContext, pk: int) -> LicensePurchase | None:
    return _finance_only(ctx, await ctx.loaders.purchases_by_id.load(pk))


async def _renewal_change(ctx: RequestContext, pk: int) -> RenewalChange | None:
    return _finance_only(ctx, await ctx.loaders.renewal_changes_by_id.load(pk))


_FETCHERS = {
    "LicensePurchase": _purchase,
    "RenewalChange": _renewal_change,
    "User": _user,
    "Company": _company,
    "Subscription": _subscription,
    "Contract": _contract,
    "LicensePool": _pool,
    "ContractDocument": _document,
    "WebhookEndpoint": endpoint_node,
    "WebhookDelivery": delivery_node,
}


async def fetch_node(ctx: RequestContext, global_id: str) -> tuple[str, NodeRow] | None:
    """(type name, row) of the object, or None when the viewer cannot see such an object."""
    ctx.viewer  # noqa: B018 (authenticates first: an anonymous caller learns nothing)
    decoded = decode_any_id(global_id)
    if decoded is None or decoded[0] not in _FETCHERS:
        return None
    type_name, pk = decoded
    row = await _FETCHERS[type_name](ctx, pk)
    return None if row is None else (type_name, row)


async def fetch_nodes(
    ctx: RequestContext, global_ids: list[str]
) -> list[tuple[str, NodeRow] | None]:
    """Side by side, so the loaders batch them: one query per type, whatever the number of ids."""
    return list(await asyncio.gather(*(fetch_node(ctx, global_id) for global_id in global_ids)))
