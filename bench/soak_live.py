"""The soak's live-update subscribers: pages left open through the load and its faults.

Each watcher keeps a WebSocket subscribed, as a browser tab would, and connects again when
the socket drops (a killed worker). It records every version it is sent; the checker
(bench/soak_check.py) proves that versions only grew on each connection and that every
watcher ends at the company's final version.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field

from websockets.exceptions import WebSocketException

from bench.live import LiveClient

VERSION_ONLY = "subscription { licensesChanged { version } }"
RECONNECT_PAUSE_SECONDS = 0.2


@dataclass
class Watcher:
    base_url: str
    token: str
    # The versions received, per connection, in order.
    connections: list[list[int]] = field(default_factory=list)
    refusals: list[str] = field(default_factory=list)
    _newest: int = 0
    _heard: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def newest(self) -> int:
        return self._newest

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            with contextlib.suppress(OSError, WebSocketException, TimeoutError):
                await self._connection(stop)
            await asyncio.sleep(RECONNECT_PAUSE_SECONDS)

    async def _connection(self, stop: asyncio.Event) -> None:
        async with LiveClient.connected(self.base_url, self.token) as client:
            await client.subscribe(VERSION_ONLY)
            received: list[int] = []
            self.connections.append(received)
            while not stop.is_set():
                payload = await client.event(within=3600)
                if "errors" in payload:
                    self.refusals.append(str(payload["errors"]))
                    return
                received.append(int(payload["data"]["licensesChanged"]["version"]))
                self._newest = max(self._newest, received[-1])
                self._heard.set()

    async def until_version(self, version: int, within: float) -> bool:
        """Whether this watcher is sent `version` (or a later one) within the time given."""
        deadline = asyncio.get_running_loop().time() + within
        while self._newest < version:
            left = deadline - asyncio.get_running_loop().time()
            if left <= 0:
                return False
            self._heard.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._heard.wait(), timeout=left)
        return True


@dataclass
class Watchers:
    """A few open pages of the soak's company."""

    members: list[Watcher]
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    def start(self) -> None:
        self.tasks = [asyncio.create_task(watcher.run(self.stop)) for watcher in self.members]

    async def close(self) -> None:
        self.stop.set()
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
