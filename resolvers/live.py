"""Live updates: the versions a subscriber is sent, each checked against its token first."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator
from typing import NoReturn

from resolvers import protection
from resolvers.context import LiveSession, RequestContext
from services.access import require_license_manager
from services.errors import AccessDenied
from services.live import versions
from services.protection import tokens

logger = logging.getLogger(__name__)
# WebSocket close codes: graphql-transport-ws's Forbidden, and RFC 6455's "try again later"
# (which graphql-ws clients retry).
FORBIDDEN = 4403
TRY_AGAIN_LATER = 1013
CANNOT_CHECK = "The service could not check the token just now: connect again."
TOKEN_GONE = "The token was revoked or its user removed: connect again with a valid token."  # noqa: S105
NO_LONGER_ALLOWED = "This user may no longer read licenses."


async def licenses_changed(ctx: RequestContext, event_cost: int) -> AsyncGenerator[int, None]:
    """The company's version now, then after each committed change: the newest only.

    The first event was paid for when subscribing; each later one is paid `event_cost` from
    the token's bucket before it is read (a token short of it gets it later, with the changes
    meanwhile merged into it). Before each, the token is looked up again and the context
    renewed, so the event is read as a new request would read it (loaders, clock, role).
    """
    viewer = ctx.license_manager()
    live = ctx.live
    assert live is not None, "subscriptions run only on a WebSocket (LicensingSchema.stream)"
    watch = live.hub.watch(viewer.company_id, viewer.company.data_version)
    try:
        # Watching first, then reading: a change committed in between is not missed (on
        # SQLite, one being written now is waited for: it may have told the feed before this
        # watch was there).
        now = await versions.after_open_writes([viewer.company_id])
        watch.offer(now.get(viewer.company_id, 0), resend=True)
        version = await watch.next_version()
        while True:
            async with live.turn:  # held until the event is sent and the next one asked for
                await _renew_or_close(ctx, live)
                yield version
            version = await watch.next_version()
            await _pay(ctx, live, event_cost)
            version = watch.catch_up(version)
    finally:
        live.hub.unwatch(watch)


async def _pay(ctx: RequestContext, live: LiveSession, cost: int) -> None:
    """Takes an event's cost from the token's bucket, waiting for it to refill if need be."""
    if not ctx.settings.rate_limit_enabled:
        return
    while True:
        try:
            live.decision = await protection.take_cost(ctx, cost)
        except Exception:  # the bucket's database: the event goes out unpaid rather than late
            logger.exception("live updates: an event's cost could not be taken")
            return
        if live.decision.allowed:
            return
        await asyncio.sleep(live.decision.retry_after_seconds)


async def _renew_or_close(ctx: RequestContext, live: LiveSession) -> None:
    """Renews the context for the next event, or closes the socket and waits to be cancelled."""
    try:
        viewer = await tokens.authenticate(live.token, now=ctx.settings.clock.now())
    except Exception:  # the database: the client should come back, not stop updating
        logger.exception("live updates: a subscriber's token could not be looked up")
        await _close(live, TRY_AGAIN_LATER, CANNOT_CHECK)
    refusal = TOKEN_GONE if viewer is None else None
    if viewer is not None:
        try:
            require_license_manager(viewer)
        except AccessDenied:
            refusal = NO_LONGER_ALLOWED
    if refusal is None:
        ctx.renew(viewer)
        return
    await _close(live, FORBIDDEN, refusal)


async def _close(live: LiveSession, code: int, reason: str) -> NoReturn:
    await live.close(code, reason)
    # The closed socket ends the connection, which cancels its subscriptions (this one too).
    await asyncio.Event().wait()
    raise AssertionError("unreachable: the subscription is cancelled")
