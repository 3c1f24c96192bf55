"""Reads under `subscription`: contracts, pools, usage and documents of the viewer's company."""

from __future__ import annotations

import asyncio
from dataclasses import replace

from models.contract import Contract, LicensePool
from models.document import ContractDocument
from models.enums import KIND_ORDER, LicenseKind, Product
from models.plan import Plan
from resolvers.context import RequestContext
from resolvers.errors import bad_request
from resolvers.ids import decode_id
from resolvers.pagination import page_size
from services.subscription.documents import DocumentPage
from services.subscription.download_links import download_url
from services.usage import Usage, allowance_bytes, combined


async def contracts(ctx: RequestContext) -> list[Contract]:
    viewer = ctx.license_manager()
    return await ctx.loaders.contracts_by_company.load(viewer.company_id)


async def contract_for_product(ctx: RequestContext, product: Product) -> Contract | None:
    rows = await contracts(ctx)
    return next((row for row in rows if row.product == product), None)


async def pools(ctx: RequestContext, contract_id: int) -> list[LicensePool]:
    rows = await ctx.loaders.pools_by_contract.load(contract_id)
    return sorted(rows, key=lambda pool: KIND_ORDER.index(pool.kind))


async def pool(ctx: RequestContext, contract_id: int, kind: LicenseKind) -> LicensePool:
    rows = await pools(ctx, contract_id)
    return next(row for row in rows if row.kind == kind)


async def plan_of_pool(ctx: RequestContext, pool: LicensePool) -> Plan:
    rows = await contracts(ctx)
    return next(row.plan for row in rows if row.id == pool.contract_id)


async def contract_usage(ctx: RequestContext, contract: Contract) -> Usage:
    used = await ctx.loaders.used_bytes_by_contract.load(contract.id)
    totals = {LicenseKind(row.kind): int(row.total) for row in await pools(ctx, contract.id)}
    per_license = int(contract.plan.storage_allowance_per_license_bytes)
    return Usage(used_bytes=used, allowance_bytes=allowance_bytes(per_license, totals))


async def company_usage(ctx: RequestContext) -> Usage:
    # gather, so the loaders batch every contract into one query each.
    rows = await contracts(ctx)
    return combined(await asyncio.gather(*(contract_usage(ctx, row) for row in rows)))


async def documents(
    ctx: RequestContext, contract_id: int, first: int | None, after: str | None
) -> list[ContractDocument]:
    page = DocumentPage(contract_id=contract_id, first=page_size(first))
    if after is not None:
        last = await _document(ctx, after)
        if last is None or last.contract_id != contract_id:
            raise bad_request("`after` is not the id of a document of this contract.")
        page = replace(page, after=(last.signed_at, last.id))
    return await ctx.loaders.document_pages.load(page)


async def _document(ctx: RequestContext, global_id: str) -> ContractDocument | None:
    pk = decode_id(global_id, "ContractDocument")
    return None if pk is None else await ctx.loaders.documents_by_id.load(pk)


def document_download_url(ctx: RequestContext, document_id: int) -> str:
    settings = ctx.settings
    return download_url(
        base_url=settings.public_base_url,
        secret_key=settings.secret_key,
        document_id=document_id,
        now_ts=int(settings.clock.now().timestamp()),
        ttl_seconds=settings.download_url_ttl_seconds,
    )
