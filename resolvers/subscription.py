"""Reads under `subscription`: contracts, pools, usage and documents of the viewer's company."""

from __future__ import annotations

from dataclasses import dataclass, replace

from resolvers.context import RequestContext
from resolvers.errors import bad_request
from resolvers.ids import decode_id
from resolvers.pagination import page_size
from services.renewal.terms import ContractStatus, status
from services.subscription.download_links import download_url
from services.subscription.reads import ContractView, DocumentPage, DocumentView, PoolView
from services.usage import Usage, allowance_bytes, combined


@dataclass(frozen=True)
class Snapshot:
    """The company's contracts and pools, read once: everything the dashboard shows of them."""

    contracts: list[ContractView]
    pools: list[PoolView]

    def pools_of(self, contract_id: int) -> list[PoolView]:
        """CONTRACTED, MONTHLY, DAILY."""
        return [pool for pool in self.pools if pool.contract_id == contract_id]

    def usage_of(self, contract: ContractView) -> Usage:
        return usage_of(contract, self.pools_of(contract.id))

    def usage(self) -> Usage:
        """Company-wide: the allowance is one pool across contracts."""
        return combined(self.usage_of(row) for row in self.contracts)


NOTHING_READ = Snapshot([], [])


async def snapshot(ctx: RequestContext) -> Snapshot:
    """One statement, whatever is selected below: the contracts with their plans and storage,
    and their pools with their pending counts."""
    ctx.license_manager()
    contracts, pools = await ctx.loaders.company.contracts_and_pools.get()
    return Snapshot(contracts, pools)


async def pool_by_id(ctx: RequestContext, pool_id: int) -> PoolView | None:
    return await ctx.loaders.pools_by_id.load(pool_id)


async def contract_of_pool(ctx: RequestContext, pool: PoolView) -> ContractView:
    contract = await ctx.loaders.contracts_by_id.load(pool.contract_id)
    assert contract is not None, "a pool of the viewer's company has its contract"
    return contract


def contract_status(ctx: RequestContext, contract: ContractView) -> ContractStatus:
    return status(
        auto_renews=contract.auto_renews,
        expires_on=contract.expires_on,
        today=ctx.settings.clock.today(),
    )


def usage_of(contract: ContractView, contract_pools: list[PoolView]) -> Usage:
    totals = {row.kind: row.total for row in contract_pools}
    allowance = allowance_bytes(contract.plan.storage_per_license_bytes, totals)
    return Usage(used_bytes=contract.used_bytes, allowance_bytes=allowance)


async def documents(
    ctx: RequestContext, contract_id: int, first: int | None, after: str | None
) -> list[DocumentView]:
    page = DocumentPage(contract_id=contract_id, first=page_size(first))
    if after is not None:
        last = await document_by_global_id(ctx, after)
        if last is None or last.contract_id != contract_id:
            raise bad_request("`after` is not the id of a document of this contract.")
        page = replace(page, after=(last.signed_at, last.id))
    return await ctx.loaders.document_pages.load(page)


async def document_by_global_id(ctx: RequestContext, global_id: str) -> DocumentView | None:
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
