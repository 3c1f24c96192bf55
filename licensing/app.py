"""The Starlette application: GraphQL, health check and document downloads."""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, WebSocketRoute

from licensing import db, housekeeping, logs, renewals
from licensing.cached_answers import CachedAnswers
from licensing.downloads import download_route
from licensing.edge import Edge
from licensing.email_sender import sender_for
from licensing.graphql_view import LicensingGraphQL
from licensing.mailer import Mailer
from licensing.settings import Settings
from licensing.sign_page import sign_routes
from licensing.webhook_sender import WebhookSender
from schema.protection.response_cache import ResponseStore
from services.live.hub import Hub
from services.live.local import LocalFeed
from services.live.postgres import PostgresFeed

logger = logging.getLogger(__name__)


async def healthz(request: Request) -> Response:
    try:
        await db.ping()
    except Exception:
        logger.exception("health check: the database did not answer")
        return JSONResponse({"status": "unavailable", "database": "unreachable"}, status_code=503)
    return JSONResponse({"status": "ok", "database": "ok"})


def _change_feed(settings: Settings, hub: Hub) -> LocalFeed | PostgresFeed:
    if db.is_postgres(settings.database_url):
        return PostgresFeed(hub, db.listener_options(settings.database_url))
    return LocalFeed(hub)


@asynccontextmanager
async def _background(settings: Settings, hub: Hub) -> AsyncIterator[None]:
    """The email and webhook senders, the renewals, the housekeeping and the change feed of
    live updates run beside every service process."""
    mailer = Mailer(settings, sender_for(settings))
    stop = asyncio.Event()
    tasks = [
        asyncio.create_task(mailer.run(stop), name="outbox-mailer"),
        asyncio.create_task(WebhookSender(settings).run(stop), name="webhook-sender"),
        asyncio.create_task(renewals.run(settings, stop), name="renewals"),
        asyncio.create_task(housekeeping.run(settings, stop), name="housekeeping"),
        asyncio.create_task(_change_feed(settings, hub).run(stop), name="live-updates"),
    ]
    try:
        yield
    finally:
        stop.set()
        await asyncio.gather(*tasks)


def _settle_the_heap() -> None:
    """Keep what every request shares (modules, the schema, the ORM) out of the cycle
    collector's way: a full collection walks every tracked object, and with them each one
    held the event loop for over 100 ms under an activity intake (bench/RESULTS.md)."""
    gc.collect()
    gc.freeze()


def create_app(settings: Settings) -> Starlette:
    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await db.init_orm(settings.database_url, **settings.database_options)
        try:
            await db.check_ready()
            _settle_the_heap()
            async with _background(settings, hub):
                yield
        finally:
            gc.unfreeze()
            await db.close_orm()

    answers = (
        ResponseStore(settings.response_cache_bytes) if settings.response_cache_bytes else None
    )
    hub = Hub()
    graphql = LicensingGraphQL(settings, answers, hub)
    return Starlette(
        middleware=[
            Middleware(Edge, max_bytes=settings.max_request_bytes),
            # In front of the router: a repeated query costs a token lookup, not a route.
            Middleware(CachedAnswers, settings=settings, store=answers, path="/graphql"),
        ],
        routes=[
            Route("/graphql", graphql, methods=["GET", "POST"]),
            WebSocketRoute("/graphql", graphql),
            Route("/healthz", healthz, methods=["GET"]),
            download_route(settings),
            *sign_routes(settings),
        ],
        lifespan=lifespan,
    )


def app_from_env() -> Starlette:
    """Factory for uvicorn: `uvicorn --factory licensing.app:app_from_env` (each worker)."""
    logs.configure(logs.level_from_env())
    return create_app(Settings.from_env())
