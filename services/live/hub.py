"""The subscribers of one process, by company, each holding only the newest version.

A subscriber never queues: a version offered while the last one is still unsent replaces
it, so a slow consumer or a burst of changes costs one integer per subscriber, and the
consumer gets the newest version when it asks for the next.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping


class Watch:
    """One subscriber's view of its company's data version."""

    def __init__(self, company_id: int, version: int) -> None:
        self.company_id = company_id
        self._newest = version
        self._sent = version
        self._resend = False
        self._ready = asyncio.Event()

    def offer(self, version: int, *, resend: bool = False) -> None:
        """A committed version; `resend` delivers it even if the subscriber has it (a resync)."""
        if version > self._newest:
            self._newest = version
        elif not resend:
            return
        self._resend = self._resend or resend
        self._ready.set()

    def pending(self) -> bool:
        return self._ready.is_set()

    async def next_version(self) -> int:
        """Waits for a version newer than the last returned (or a resync), and returns it."""
        while True:
            await self._ready.wait()
            self._ready.clear()
            if self._newest > self._sent or self._resend:
                self._resend = False
                self._sent = self._newest
                return self._newest

    def catch_up(self, version: int) -> int:
        """The newest version offered since `version` was returned (or it), taken as sent."""
        if self._newest > self._sent:
            self._sent = self._newest
            self._ready.clear()
        self._resend = False
        return max(version, self._sent)


class Hub:
    """Fan-out of committed versions to this process's subscribers."""

    def __init__(self) -> None:
        self._watches: dict[int, set[Watch]] = {}

    def watch(self, company_id: int, version: int) -> Watch:
        watch = Watch(company_id, version)
        self._watches.setdefault(company_id, set()).add(watch)
        return watch

    def unwatch(self, watch: Watch) -> None:
        watches = self._watches.get(watch.company_id)
        if watches is not None:
            watches.discard(watch)
            if not watches:
                del self._watches[watch.company_id]

    def companies(self) -> list[int]:
        """The companies someone in this process is subscribed to."""
        return list(self._watches)

    def publish(self, company_id: int, version: int) -> None:
        for watch in self._watches.get(company_id, ()):
            watch.offer(version)

    def publish_all(self, versions: Mapping[int, int], *, resend: bool = False) -> None:
        for company_id, version in versions.items():
            for watch in self._watches.get(company_id, ()):
                watch.offer(version, resend=resend)
