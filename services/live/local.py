"""The change feed of the embedded database: one process, told of each change as it is made.

A change tells this feed mid-transaction (services/live/signal.py); the feed reads the
version once that transaction has ended, so a rollback sends nothing. A poll of the
subscribed companies every POLL_SECONDS catches changes made by other processes on the same
file (the command line's fixture loads and renewals).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from services.live import signal, versions
from services.live.hub import Hub

logger = logging.getLogger(__name__)
POLL_SECONDS = 1.0


class LocalFeed:
    def __init__(self, hub: Hub, *, poll_seconds: float = POLL_SECONDS) -> None:
        self.hub = hub
        self.poll_seconds = poll_seconds
        self._told: set[int] = set()
        self._woken = asyncio.Event()
        self._polled_at = 0.0

    def _tell(self, company_id: int) -> None:
        # Kept even if nobody watches yet: a subscriber may start before this change commits.
        self._told.add(company_id)
        self._woken.set()

    async def run(self, stop: asyncio.Event) -> None:
        forget = signal.listen_locally(self._tell)
        waker = asyncio.create_task(self._wake_on(stop))
        try:
            loop = asyncio.get_running_loop()
            while not stop.is_set():
                until_poll = self._polled_at + self.poll_seconds - loop.time()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._woken.wait(), timeout=max(until_poll, 0.0))
                try:
                    await self._pass()
                except Exception:
                    logger.exception("live updates: reading changed versions failed; retrying")
        finally:
            waker.cancel()
            forget()

    async def _wake_on(self, stop: asyncio.Event) -> None:
        """A stop ends the wait at once (else a shutdown would wait out the poll)."""
        await stop.wait()
        self._woken.set()

    async def _pass(self) -> None:
        self._woken.clear()
        told, self._told = self._told, set()
        # Read even for companies nobody watched when told: one may have subscribed since, and
        # read the version from before this change. With no subscriber at all, nothing is read.
        if told and self.hub.companies():
            self.hub.publish_all(await versions.after_open_writes(sorted(told)))
        now = asyncio.get_running_loop().time()
        if now - self._polled_at >= self.poll_seconds:
            self._polled_at = now
            watched = self.hub.companies()
            if watched:
                self.hub.publish_all(await versions.committed(watched))
