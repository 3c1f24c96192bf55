"""The WebSocket side of /graphql: graphql-transport-ws, through Strawberry's own handler.

What this adds to it: the bearer token of connection_init checked before the acknowledgement
(a missing, bad or revoked one, or one over the connection caps, is closed with 4403), the
connection's LiveSession for its subscriptions, and JSON sent as text frames, which browsers'
graphql-ws clients parse (the HTTP side's encoder gives bytes, which would go out as binary).
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Mapping
from typing import Any

import orjson
from starlette.websockets import WebSocketDisconnect, WebSocketState
from strawberry.asgi import ASGIWebSocketAdapter
from strawberry.http.exceptions import WebSocketDisconnected
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
)
from strawberry.subscriptions.protocols.graphql_transport_ws.types import ConnectionInitMessage

from licensing.cached_answers import authenticate
from licensing.settings import Settings
from resolvers.context import LiveSession, RequestContext
from resolvers.live import FORBIDDEN
from services.access import Viewer

logger = logging.getLogger(__name__)
# Close reasons (at most 123 bytes, as a WebSocket close frame allows).
ASK_FOR_TOKEN = 'Send {"authorization": "Bearer TOKEN"} as the connection_init payload.'  # noqa: S105
UNKNOWN_TOKEN = "The bearer token is unknown or revoked. Ask for a new token."  # noqa: S105


class LiveConnections:
    """This process's open live connections, counted per token and per company."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.per_token: Counter[int] = Counter()
        self.per_company: Counter[int] = Counter()

    def refusal(self, viewer: Viewer) -> str | None:
        """Why one more connection of this viewer is refused, if it is."""
        per_token = self.settings.live_connections_per_token
        if self.per_token[viewer.token_id] >= per_token:
            return f"This token has {per_token} live connections open already; close one first."
        per_company = self.settings.live_connections_per_company
        if self.per_company[viewer.company_id] >= per_company:
            return f"The company has {per_company} live connections open already."
        return None

    def open(self, viewer: Viewer) -> None:
        self.per_token[viewer.token_id] += 1
        self.per_company[viewer.company_id] += 1

    def close(self, viewer: Viewer) -> None:
        self.per_token[viewer.token_id] -= 1
        self.per_company[viewer.company_id] -= 1
        self.per_token += Counter()  # drops the zeros
        self.per_company += Counter()


class LiveSocketHandler(BaseGraphQLTransportWSHandler[RequestContext, None]):
    """One WebSocket connection. The view (licensing/graphql_view.py) gives the hub and caps."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._opened: Viewer | None = None

    @property
    def _connections(self) -> LiveConnections:
        return self.view.live_connections  # type: ignore[attr-defined, no-any-return]

    async def handle_connection_init(self, message: ConnectionInitMessage) -> None:
        payload = message.get("payload", {})
        if (
            self.connection_timed_out
            or self.connection_init_received
            or not isinstance(payload, dict)
        ):
            await super().handle_connection_init(message)  # Strawberry's 4429, 4400, or nothing
            return
        refusal = await self._admit(payload)
        if refusal is not None:
            self.connection_init_received = True
            if self.connection_init_timeout_task:
                self.connection_init_timeout_task.cancel()
            await self.websocket.close(code=FORBIDDEN, reason=refusal)
            return
        await super().handle_connection_init(message)

    async def _admit(self, payload: Mapping[str, object]) -> str | None:
        """Looks the token up and counts the connection in; the refusal's reason if not."""
        header = payload.get("authorization")
        if not isinstance(header, str) or not header:
            return ASK_FOR_TOKEN
        auth = await authenticate(header, self.context.settings)
        viewer = auth.viewer
        if viewer is None:
            return UNKNOWN_TOKEN if header.lower().startswith("bearer ") else ASK_FOR_TOKEN
        refusal = self._connections.refusal(viewer)
        if refusal is not None:
            return refusal
        self._connections.open(viewer)
        self._opened = viewer
        self.context.renew(viewer)
        self.context.live = LiveSession(
            hub=self.view.hub,  # type: ignore[attr-defined]
            token=header.partition(" ")[2].strip(),
            close=self._close,
        )
        return None

    async def _close(self, code: int, reason: str) -> None:
        await self.websocket.close(code=code, reason=reason)

    async def shutdown(self) -> None:
        try:
            await super().shutdown()
        finally:
            if self._opened is not None:
                self._connections.close(self._opened)
                self._opened = None


class TextFrameAdapter(ASGIWebSocketAdapter):
    """JSON as text frames; a close after the socket closed is a no-op."""

    async def send_json(self, message: Mapping[str, object]) -> None:
        try:
            await self.ws.send_text(orjson.dumps(message).decode())
        except (WebSocketDisconnect, RuntimeError) as exc:  # RuntimeError: sent after close
            raise WebSocketDisconnected from exc

    async def close(self, code: int, reason: str) -> None:
        if self.ws.application_state is WebSocketState.DISCONNECTED:
            return
        if self.ws.client_state is WebSocketState.DISCONNECTED:
            return
        await self.ws.close(code=code, reason=reason)
