"""The change feed of PostgreSQL: one LISTEN connection per process, kept alive.

The connection is its own, never one of the pool's: a pooled connection is reset when it
goes back (`UNLISTEN *`), and would stop hearing. A heartbeat finds a connection that died
quietly; a lost one is replaced with growing pauses, and once listening again every
subscriber of this process is sent its company's current version: what happened meanwhile
is not lost, only merged into one event.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping
from typing import Any

import asyncpg

from services.live import signal, versions
from services.live.hub import Hub

logger = logging.getLogger(__name__)
HEARTBEAT_SECONDS = 10.0
HEARTBEAT_TIMEOUT_SECONDS = 5.0
CONNECT_TIMEOUT_SECONDS = 5.0
FIRST_PAUSE_SECONDS = 0.2
LONGEST_PAUSE_SECONDS = 30.0


class PostgresFeed:
    def __init__(
        self,
        hub: Hub,
        connect_options: Mapping[str, Any],
        *,
        heartbeat_seconds: float = HEARTBEAT_SECONDS,
    ) -> None:
        self.hub = hub
        self.connect_options = dict(connect_options)
        self.heartbeat_seconds = heartbeat_seconds
        # How many times the listener has listened and resynced.
        self.connections = 0

    async def run(self, stop: asyncio.Event) -> None:
        pause = FIRST_PAUSE_SECONDS
        while not stop.is_set():
            try:
                connection = await asyncpg.connect(
                    **self.connect_options, timeout=CONNECT_TIMEOUT_SECONDS
                )
            except (OSError, asyncpg.PostgresError, TimeoutError) as error:
                logger.warning("live updates: cannot listen (%s); retrying in %.1f s", error, pause)
                await _pause(stop, pause)
                pause = min(pause * 2, LONGEST_PAUSE_SECONDS)
                continue
            listened = self.connections
            try:
                await self._listen(connection, stop)
            except Exception as error:  # a lost connection, or a failed resync: listen again
                logger.warning("live updates: the listener stopped (%s); listening again", error)
            finally:
                connection.terminate()
            if self.connections > listened:  # it listened and resynced: start the pauses over
                pause = FIRST_PAUSE_SECONDS
            await _pause(stop, pause)
            pause = min(pause * 2, LONGEST_PAUSE_SECONDS)

    async def _listen(self, connection: asyncpg.Connection, stop: asyncio.Event) -> None:
        lost = asyncio.Event()
        connection.add_termination_listener(lambda _: lost.set())
        await connection.add_listener(signal.CHANNEL, self._heard)
        if self.connections > 0:
            logger.info("live updates: listening again; sending subscribers their versions")
        # After LISTEN: a change committed from here on is heard, one before is read.
        await self._resync()
        self.connections += 1
        while not (stop.is_set() or lost.is_set()):
            await _first_of(stop, lost, seconds=self.heartbeat_seconds)
            if not (stop.is_set() or lost.is_set()):
                await connection.fetchval("SELECT 1", timeout=HEARTBEAT_TIMEOUT_SECONDS)
        if lost.is_set() and not stop.is_set():
            raise ConnectionError("the listening connection was closed")

    def _heard(self, connection: object, pid: int, channel: str, payload: str) -> None:
        change = signal.parse(payload)
        if change is not None:
            self.hub.publish(*change)

    async def _resync(self) -> None:
        watched = self.hub.companies()
        if watched:
            self.hub.publish_all(await versions.committed(watched), resend=True)


async def _pause(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)


async def _first_of(*events: asyncio.Event, seconds: float) -> None:
    waits = [asyncio.create_task(event.wait()) for event in events]
    try:
        await asyncio.wait(waits, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for wait in waits:
            wait.cancel()
