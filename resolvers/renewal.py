"""Renewal quotes, changes and their signatures: the GraphQL glue over services.renewal."""

from __future__ import annotations

from models.renewal import RenewalChange, RenewalChangeStatus
from resolvers.context import RequestContext
from resolvers.outcome import Outcome, actor_of, decode_pk, outcome
from resolvers.purchases import link_ttl
from services.renewal import changes, signing
from services.renewal.pricing import RenewalQuote
from services.renewal.terms import RenewalWindow
from services.subscription.reads import ContractView


async def quote(ctx: RequestContext, contract_id: str, contracted: int) -> Outcome[RenewalQuote]:
    viewer = ctx.license_manager()

    async def work() -> RenewalQuote:
        return await changes.quote_renewal(
            company=viewer.company,
            contract_id=decode_pk(contract_id, "Contract", "contractId"),
            contracted=contracted,
        )

    return await outcome(work())


async def schedule(
    ctx: RequestContext, contract_id: str, contracted: int, key: str | None
) -> Outcome[RenewalChange]:
    viewer = ctx.license_writer()

    async def work() -> RenewalChange:
        return await changes.schedule_renewal(
            company=viewer.company,
            contract_id=decode_pk(contract_id, "Contract", "contractId"),
            contracted=contracted,
            idempotency_key=key,
            actor=actor_of(viewer),
            now=ctx.settings.clock.now(),
            link_ttl=link_ttl(ctx),
            window_days=ctx.settings.renewal_window_days,
        )

    return await outcome(work())


async def cancel(ctx: RequestContext, change_id: str) -> Outcome[RenewalChange]:
    viewer = ctx.license_writer()

    async def work() -> RenewalChange:
        return await changes.cancel_renewal_change(
            company_id=viewer.company_id,
            change_id=decode_pk(change_id, "RenewalChange", "renewalChangeId"),
            actor=actor_of(viewer),
            now=ctx.settings.clock.now(),
        )

    return await outcome(work())


async def sign(ctx: RequestContext, token: str, signer_name: str) -> Outcome[RenewalChange]:
    """No bearer token: the signature token is the credential."""
    return await outcome(
        signing.sign_renewal_change(
            token=token,
            signer_name=signer_name,
            signer_ip=ctx.client_ip,
            signer_user_agent=ctx.user_agent,
            now=ctx.settings.clock.now(),
        )
    )


def change_status(ctx: RequestContext, row: RenewalChange) -> RenewalChangeStatus:
    return changes.effective_status(row, ctx.settings.clock.now())


def window(ctx: RequestContext, contract: ContractView) -> RenewalWindow:
    return changes.window_of(contract, ctx.settings.renewal_window_days)


async def open_change(
    ctx: RequestContext, contract: ContractView, status: RenewalChangeStatus
) -> RenewalChange | None:
    """The contract's change of its current term in this (effective) status, if any."""
    for row in await ctx.loaders.company.open_renewal_changes.get():
        same_term = row.contract_id == contract.id and row.term_expires_on == contract.expires_on
        if same_term and change_status(ctx, row) == status:
            return row
    return None
