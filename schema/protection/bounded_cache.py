"""In-process caches bounded by the memory their values take, not by how many there are.

A count bound lets one client's 1 MiB documents fill memory a thousandfold; a byte bound does
not. Keys are digests (never whole documents), values are weighed by `size_of` when stored.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

from cachetools import LRUCache

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

# What an entry costs beyond its value: the key tuple, the entry object, the LRU's links.
ENTRY_OVERHEAD_BYTES = 512


def digest(text: str) -> str:
    """The key a document is cached under: its SHA-256, hex (what persisted queries use too)."""
    return hashlib.sha256(text.encode()).hexdigest()


class ByteBoundedLru(Generic[K, V]):
    """Least recently used entries whose weights add up to at most `max_bytes`."""

    def __init__(self, max_bytes: int, size_of: Callable[[V], int]) -> None:
        self.max_bytes = max_bytes
        self._size_of = size_of
        self._entries: LRUCache[K, V] = LRUCache(maxsize=max(max_bytes, 1), getsizeof=self._weight)

    def _weight(self, value: V) -> int:
        return self._size_of(value) + ENTRY_OVERHEAD_BYTES

    def get(self, key: K) -> V | None:
        return self._entries.get(key)

    def put(self, key: K, value: V) -> None:
        """Store, evicting the least recently used; a value bigger than the cache is not kept."""
        if self._weight(value) > self.max_bytes:
            self._entries.pop(key, None)
            return
        self._entries[key] = value

    @property
    def bytes_used(self) -> int:
        return int(self._entries.currsize)

    def __len__(self) -> int:
        return len(self._entries)
