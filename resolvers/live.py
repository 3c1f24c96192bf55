"""Live updates: the versions a subscriber is sent, each checked against its token first."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator

from resolvers.context import LiveSession, RequestContext
from resolvers.errors import bad_request
from services.access import require_license_manager
from services.errors import AccessDenied
from services.live import versions
from services.protection import tokens

# WebSocket close codes of graphql-transport-ws.
FORBIDDEN = 4403
TOKEN_GONE = "The token was revoked or its user removed: connect again with a valid token."  # noqa: S105
NO_LONGER_ALLOWED = "This user may no longer read licenses."
SUBSCRIBE_OVER_WEBSOCKET = (
    "Subscriptions are served over a WebSocket at /graphql (graphql-transport-ws protocol)."
)


async def licenses_changed(ctx: RequestContext) -> AsyncGenerator[int, None]:
    """The company's version now, then after each committed change: the newest only.

    Before each, the token is looked up again and the context renewed, so the event is read
    as a new request would read it (loaders, clock, the viewer's role).
    """
    viewer = ctx.license_manager()
    live = ctx.live
    if live is None:
        raise bad_request(SUBSCRIBE_OVER_WEBSOCKET)
    watch = live.hub.watch(viewer.company_id, viewer.company.data_version)
    try:
        # Watching first, then reading: a change committed in between is not missed.
        now = await versions.committed([viewer.company_id])
        watch.offer(now.get(viewer.company_id, 0), resend=True)
        while True:
            version = await watch.next_version()
            async with live.turn:  # held until the event is sent and the next one asked for
                await _renew_or_close(ctx, live)
                yield version
    finally:
        live.hub.unwatch(watch)


async def _renew_or_close(ctx: RequestContext, live: LiveSession) -> None:
    """Renews the context for the next event, or closes the socket and waits to be cancelled."""
    viewer = await tokens.authenticate(live.token, now=ctx.settings.clock.now())
    refusal = TOKEN_GONE if viewer is None else None
    if viewer is not None:
        try:
            require_license_manager(viewer)
        except AccessDenied:
            refusal = NO_LONGER_ALLOWED
    if refusal is None:
        ctx.renew(viewer)
        return
    await live.close(FORBIDDEN, refusal)
    # The closed socket ends the connection, which cancels its subscriptions (this one too).
    await asyncio.Event().wait()
