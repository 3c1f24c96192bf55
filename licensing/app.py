"""The Starlette application: GraphQL, health check and document downloads."""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import Route, WebSocketRoute

from licensing import db, housekeeping, logs, metrics, probes, renewals, tracing
from licensing.cached_answers import CachedAnswers
from licensing.downloads import download_route
from licensing.edge import Edge
from licensing.email_sender import sender_for
from licensing.graphiql_page import graphiql_routes
from licensing.graphql_view import LicensingGraphQL
from licensing.mailer import Mailer
from licensing.settings import Settings
from licensing.sign_page import sign_routes
from licensing.webhook_sender import WebhookSender
from schema.protection.response_cache import ResponseStore
from services.live.hub import Hub
from services.live.local import LocalFeed
from services.live.postgres import PostgresFeed
from services.protection import persisted_queries

if TYPE_CHECKING:
    from opentelemetry.sdk.trace.export import SpanExporter

logger = logging.getLogger(__name__)


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
        asyncio.create_task(probes.sample_every_few_seconds(stop), name="metrics-sampler"),
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


async def _name_the_registered_operations(names: metrics.OperationNames) -> None:
    """The operations of the persisted queries an operator registered keep their names in the
    metrics (`licensing queries register`, then a restart)."""
    documents = await persisted_queries.registered_by_operators()
    names.include(name for document in documents for name in metrics.operation_names(document))


def create_app(settings: Settings, *, span_exporter: SpanExporter | None = None) -> Starlette:
    """Traced when `tracing.configured()`, or into `span_exporter` (tests): licensing/tracing.py."""
    traced = span_exporter is not None or tracing.configured()
    # Before the schema is built: tracing adds its extension there.
    outermost = tracing.install(span_exporter) if traced else []

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await db.init_orm(settings.database_url, **settings.database_options)
        lifecycle.watch_signals()
        try:
            await db.check_ready()
            await _name_the_registered_operations(names)
            metrics.worker_started()
            _settle_the_heap()
            async with _background(settings, hub):
                yield
        finally:
            lifecycle.begin_shutdown()
            lifecycle.stop_watching()
            readiness.close()
            metrics.worker_stopped()
            gc.unfreeze()
            await db.close_orm()
            if traced:
                await tracing.shutdown()

    answers = (
        ResponseStore(settings.response_cache_bytes) if settings.response_cache_bytes else None
    )
    hub = Hub()
    lifecycle = probes.Lifecycle()
    readiness = probes.Readiness()
    names = metrics.OperationNames(settings.metrics_operation_names)
    recorder = metrics.Recorder(names)
    graphql = LicensingGraphQL(settings, answers, hub, recorder)
    app = Starlette(
        middleware=[
            *outermost,  # the request's span covers everything below
            Middleware(Edge, max_bytes=settings.max_request_bytes),
            # In front of the router: a repeated query costs a token lookup, not a route.
            Middleware(
                CachedAnswers, settings=settings, store=answers, path="/graphql", recorder=recorder
            ),
        ],
        routes=[
            Route("/graphql", graphql, methods=["GET", "POST"]),
            WebSocketRoute("/graphql", graphql),
            *probes.probe_routes(settings, lifecycle, readiness),
            download_route(settings),
            *sign_routes(settings),
            *graphiql_routes(settings),
        ],
        lifespan=lifespan,
    )
    app.state.lifecycle = lifecycle
    return app


def app_from_env() -> Starlette:
    """Factory for uvicorn: `uvicorn --factory licensing.app:app_from_env` (each worker)."""
    logs.configure(logs.level_from_env())
    return create_app(Settings.from_env())
