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
CHECK_GIVE_UP_SECONDS = 10.0
BACKLOG_TIMEOUT_SECONDS = 1.0
# Headers a proxy adds: a request that carries one came through a proxy, whatever its address.
FORWARDING_HEADERS = ("x-forwarded-for", "forwarded", "x-real-ip")
POOL_SAMPLE_SECONDS = 5.0

SignalHandler = Callable[[int, FrameType | None], Any] | int | signal.Handlers | None


class Lifecycle:
    """Whether this process is stopping: from the SIGTERM (or SIGINT) on, `/readyz` answers 503
    so that a load balancer sends nothing new while the requests under way finish."""

    def __init__(self) -> None:
        self.shutting_down = False
        self._previous: dict[int, SignalHandler] = {}

    def begin_shutdown(self) -> None:
        if not self.shutting_down:
            self.shutting_down = True
            logger.info("shutting down: /readyz answers 503, requests under way finish")

    def watch_signals(self) -> None:
        """Hear SIGTERM and SIGINT before the handlers found (uvicorn's, which stop the server)."""
        if not _on_main_thread():
            return
        for stop_signal in STOP_SIGNALS:
            self._previous[stop_signal] = signal.getsignal(stop_signal)
            signal.signal(stop_signal, self._on_signal)

    def stop_watching(self) -> None:
        if not _on_main_thread():
            return
        for stop_signal, previous in self._previous.items():
            if signal.getsignal(stop_signal) == self._on_signal:
                signal.signal(stop_signal, previous if previous is not None else signal.SIG_DFL)
        self._previous.clear()

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        self.begin_shutdown()
        previous = self._previous.get(signum)
        if callable(previous):
            previous(signum, frame)
        elif previous != signal.SIG_IGN:  # the default action: let it happen
            signal.signal(signum, signal.SIG_DFL)
            signal.raise_signal(signum)


STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


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
    timed-out query is not cancelled in place: cancelling waits for the database too.) A check
    still under way after CHECK_GIVE_UP_SECONDS is cancelled and the next probe starts anew,
    so a connection lost without a word does not keep the service unready once the database
    is back.

    The reasons given are fixed sentences: the details (host, user, database names) go to the
    log, not to whoever asks.
    """

    def __init__(self) -> None:
        self._check: asyncio.Task[None] | None = None
        self._started = 0.0

    async def problem(self) -> str | None:
        """None when ready, else why not."""
        check = self._current_check()
        await asyncio.wait({check}, timeout=READY_TIMEOUT_SECONDS)
        if not check.done():
            return f"the database did not answer within {READY_TIMEOUT_SECONDS:g} s"
        error = None if check.cancelled() else check.exception()
        if error is None and not check.cancelled():
            return None
        if isinstance(error, db.MigrationsBehind):
            logger.warning("readiness: %s", error)
            return "the database is behind its migrations: run `licensing migrate`"
        logger.error("readiness: the database check failed", exc_info=error)
        return "the database cannot be reached"

    def _current_check(self) -> asyncio.Task[None]:
        """The check under way, or a new one (after CHECK_GIVE_UP_SECONDS, instead of it)."""
        now = asyncio.get_running_loop().time()
        check = self._check
        if check is not None and not check.done():
            if now - self._started <= CHECK_GIVE_UP_SECONDS:
                return check
            check.cancel()
        check = asyncio.create_task(db.check_ready(), name="readiness-check")
        check.add_done_callback(_seen)
        self._check, self._started = check, now
        return check

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
        backlogs = await _backlogs(settings)
        return Response(metrics.exposition(backlogs), media_type=metrics.CONTENT_TYPE)

    return metrics_page


async def _backlogs(settings: Settings) -> monitoring.Backlogs | None:
    """The backlogs, or None when the database does not tell them within a second: the rest of
    the metrics are what an outage is investigated with."""
    try:
        return await asyncio.wait_for(
            monitoring.backlogs(settings.clock.now()), BACKLOG_TIMEOUT_SECONDS
        )
    except Exception as error:
        logger.warning("metrics: the backlogs could not be read (%s)", type(error).__name__)
        return None


def _metrics_refusal(request: Request, token: str | None) -> Response | None:
    if token:
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() == "bearer" and hmac.compare_digest(
            given.strip().encode(), token.encode()
        ):
            return None
        return PlainTextResponse(
            "Send Authorization: Bearer METRICS_TOKEN (the token this service was started with).",
            status_code=401,
            headers={"WWW-Authenticate": 'Bearer realm="metrics"'},
        )
    client = request.client.host if request.client else ""
    proxied = any(name in request.headers for name in FORWARDING_HEADERS)
    if _is_loopback(client) and not proxied:
        return None
    return PlainTextResponse(
        "/metrics answers loopback clients only (not through a proxy); set METRICS_TOKEN to "
        "scrape it from elsewhere.",
        status_code=403,
    )


def _is_loopback(host: str) -> bool:
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    mapped = address.ipv4_mapped if isinstance(address, ipaddress.IPv6Address) else None
    return address.is_loopback or bool(mapped and mapped.is_loopback)


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
