"""A graphql-transport-ws client over the `websockets` package, as a browser's graphql-ws is."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import websockets
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

PROTOCOL = "graphql-transport-ws"
CHANGES = """subscription { licensesChanged { version subscription { contracts {
  product licensePools { kind total assigned available pending } } } } }"""


class LiveClient:
    """One socket; `events` are the `next` payloads of the subscriptions, in arrival order."""

    def __init__(self, socket: ClientConnection) -> None:
        self.socket = socket

    @classmethod
    @asynccontextmanager
    async def opened(cls, base_url: str) -> AsyncIterator[LiveClient]:
        """Connected, nothing sent yet."""
        url = base_url.replace("http://", "ws://", 1) + "/graphql"
        async with websockets.connect(url, subprotocols=[PROTOCOL]) as socket:  # type: ignore[list-item]
            yield cls(socket)

    @classmethod
    @asynccontextmanager
    async def connected(cls, base_url: str, token: str) -> AsyncIterator[LiveClient]:
        """Connected and acknowledged."""
        async with cls.opened(base_url) as client:
            await client.send(
                {"type": "connection_init", "payload": {"authorization": f"Bearer {token}"}}
            )
            acknowledged = await client.receive(within=10)
            assert acknowledged == {"type": "connection_ack"}, acknowledged
            yield client

    async def send(self, message: dict[str, Any]) -> None:
        await self.socket.send(json.dumps(message))

    async def receive(self, within: float = 10.0) -> dict[str, Any]:
        """The next message, which must be text (graphql-ws parses text frames only)."""
        frame = await asyncio.wait_for(self.socket.recv(), timeout=within)
        assert isinstance(frame, str), f"a binary frame: {frame!r}"
        message: dict[str, Any] = json.loads(frame)
        return message

    async def subscribe(self, query: str = CHANGES, operation_id: str = "1") -> None:
        await self.send({"id": operation_id, "type": "subscribe", "payload": {"query": query}})

    async def event(self, within: float = 10.0) -> dict[str, Any]:
        """The next `next` message's payload (a pong or anything else is an error here)."""
        message = await self.receive(within)
        assert message["type"] == "next", message
        payload: dict[str, Any] = message["payload"]
        return payload

    async def change(self, within: float = 10.0) -> dict[str, Any]:
        """The next licensesChanged event, with no errors."""
        payload = await self.event(within)
        assert "errors" not in payload, payload
        changed: dict[str, Any] = payload["data"]["licensesChanged"]
        return changed

    async def closed(self, within: float = 10.0) -> tuple[int | None, str | None]:
        """Reads until the server closes: its close code and reason."""
        try:
            while True:
                await asyncio.wait_for(self.socket.recv(), timeout=within)
        except ConnectionClosed as closed:
            received = closed.rcvd
            return (received.code, received.reason) if received else (None, None)


def pools(change: dict[str, Any], product: str = "JOBS") -> dict[str, dict[str, int]]:
    """The event's pools of a product, by kind."""
    contract = next(c for c in change["subscription"]["contracts"] if c["product"] == product)
    return {pool["kind"]: pool for pool in contract["licensePools"]}
