"""What a load balancer and a monitoring system ask: `/healthz`, `/readyz` and `/metrics`."""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import ipaddress
import logging
import signal
import threading
from collections.abc import Callable
from types import FrameType
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from licensing import db, metrics
from licensing.settings import Settings
from services import monitoring

logger = logging.getLogger("licensing.probes")
READY_TIMEOUT_SECONDS = 1.0
POOL_SAMPLE_SECONDS = 5.0

SignalHandler = Callable[[int, FrameType | None], Any] | int | signal.Handlers | None


class Lifecycle:
    """Whether this process is stopping: from the SIGTERM on, `/readyz` answers 503 so that a
    load balancer sends nothing new while the requests under way finish."""

    def __init__(self) -> None:
        self.shutting_down = False
        self._previous: SignalHandler = None

    def begin_shutdown(self) -> None:
        if not self.shutting_down:
            self.shutting_down = True
            logger.info("shutting down: /readyz answers 503, requests under way finish")

    def watch_sigterm(self) -> None:
        """Hear SIGTERM before uvicorn's own handler, which stops the server."""
        if not _on_main_thread():
            return
        self._previous = signal.getsignal(signal.SIGTERM)
        signal.signal(signal.SIGTERM, self._on_sigterm)

    def stop_watching(self) -> None:
        if _on_main_thread() and signal.getsignal(signal.SIGTERM) == self._on_sigterm:
            signal.signal(signal.SIGTERM, self._previous or signal.SIG_DFL)

    def _on_sigterm(self, signum: int, frame: FrameType | None) -> None:
        self.begin_shutdown()
        if callable(self._previous):
            self._previous(signum, frame)


def _on_main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


async def healthz(request: Request) -> Response:
    """The process runs and answers: nothing else is asked (a restart would not mend the
    database)."""
    return JSONResponse({"status": "ok"})


class Readiness:
    """One database check at a time, answered within READY_TIMEOUT_SECONDS.

    A check that outlasts its probe goes on, and the next probes wait for that same check
    rather than start more: a database that hangs costs one connection, not one per probe. (A
    timed-out query is not cancelled in place: cancelling waits for the database too.)
    """

    def __init__(self) -> None:
        self._check: asyncio.Task[None] | None = None

    async def problem(self) -> str | None:
        """None when ready, else why not."""
        if self._check is None or self._check.done():
            self._check = asyncio.create_task(db.check_ready(), name="readiness-check")
            self._check.add_done_callback(_seen)
        check = self._check
        await asyncio.wait({check}, timeout=READY_TIMEOUT_SECONDS)
        if not check.done():
            return f"the database did not answer within {READY_TIMEOUT_SECONDS:g} s"
        error = check.exception()
        if error is None:
            return None
        if isinstance(error, db.MigrationsBehind | db.DatabaseUnavailable):
            return str(error)
        logger.error("readiness: the check failed", exc_info=error)
        return "the database check failed"

    def close(self) -> None:
        if self._check is not None:
            self._check.cancel()


def _seen(task: asyncio.Task[None]) -> None:
    """Mark a late check's outcome as retrieved: the next probe starts a new check anyway."""
    if not task.cancelled():
        task.exception()


def readyz_endpoint(lifecycle: Lifecycle, readiness: Readiness) -> Callable[[Request], Any]:
    async def readyz(request: Request) -> Response:
        problem = "shutting down" if lifecycle.shutting_down else await readiness.problem()
        if problem is not None:
            return _not_ready(problem)
        return JSONResponse({"status": "ready"})

    return readyz


def _not_ready(reason: str) -> Response:
    return JSONResponse({"status": "unavailable", "reason": reason}, status_code=503)


def metrics_endpoint(settings: Settings) -> Callable[[Request], Any]:
    async def metrics_page(request: Request) -> Response:
        refusal = _metrics_refusal(request, settings.metrics_token)
        if refusal is not None:
            return refusal
        sample_pool()
        backlogs = await monitoring.backlogs(settings.clock.now())
        return Response(metrics.exposition(backlogs), media_type=metrics.CONTENT_TYPE)

    return metrics_page


def _metrics_refusal(request: Request, token: str | None) -> Response | None:
    if token:
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() == "bearer" and hmac.compare_digest(given.strip(), token):
            return None
        return PlainTextResponse(
            "Send Authorization: Bearer METRICS_TOKEN (the token this service was started with).",
            status_code=401,
            headers={"WWW-Authenticate": 'Bearer realm="metrics"'},
        )
    client = request.client.host if request.client else ""
    if _is_loopback(client):
        return None
    return PlainTextResponse(
        "/metrics answers loopback clients only; set METRICS_TOKEN to scrape it from elsewhere.",
        status_code=403,
    )


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def sample_pool() -> None:
    use = db.pool_use()
    if use is not None:
        metrics.record_pool(use.in_use, use.idle, use.maximum)


async def sample_every_few_seconds(stop: asyncio.Event) -> None:
    """Keep this worker's pool and process figures fresh for scrapes answered by another."""
    while not stop.is_set():
        try:
            sample_pool()
            metrics.record_process()
        except Exception:
            logger.exception("metrics: sampling failed")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=POOL_SAMPLE_SECONDS)


def probe_routes(settings: Settings, lifecycle: Lifecycle, readiness: Readiness) -> list[Route]:
    return [
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", readyz_endpoint(lifecycle, readiness), methods=["GET"]),
        Route("/metrics", metrics_endpoint(settings), methods=["GET"]),
    ]
