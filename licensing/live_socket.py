"""The WebSocket side of /graphql: graphql-transport-ws, through Strawberry's own handler.

What this adds to it: the bearer token of connection_init checked before the acknowledgement
(a missing, bad or revoked one is closed with 4403; one over the connection caps with 1013,
try again later), the connection's LiveSession for its subscriptions, subscribe messages
checked (a malformed payload is closed with 4400) and limited per connection, a client that
leaves mid-event not logged as an error, and JSON sent as text frames, which browsers'
graphql-ws clients parse (the HTTP side's encoder gives bytes, which would go out as binary).
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import AsyncGenerator, Mapping
from dataclasses import dataclass
from typing import Any

import orjson
from graphql import GraphQLFormattedError
from starlette.websockets import WebSocketDisconnect, WebSocketState
from strawberry.asgi import ASGIWebSocketAdapter
from strawberry.http.exceptions import (
    NonJsonMessageReceived,
    NonTextMessageReceived,
    WebSocketDisconnected,
)
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
)
from strawberry.subscriptions.protocols.graphql_transport_ws.types import (
    ConnectionInitMessage,
    ErrorMessage,
    Message,
    SubscribeMessage,
)

from licensing.cached_answers import authenticate
from licensing.settings import Settings
from resolvers.context import LiveSession, OperationReport, RequestContext

# The connection caps are a "try again later", which graphql-ws clients retry; a bad token
# (Forbidden) is not worth retrying.
from resolvers.live import FORBIDDEN, TRY_AGAIN_LATER
from services.access import Viewer

# Close reasons (at most 123 bytes, as a WebSocket close frame allows).
ASK_FOR_TOKEN = 'Send {"authorization": "Bearer TOKEN"} as the connection_init payload.'  # noqa: S105
UNKNOWN_TOKEN = "The bearer token is unknown or revoked. Ask for a new token."  # noqa: S105
BAD_REQUEST = 4400
SUBSCRIBE_BURST = 20
SUBSCRIBE_EVERY_SECONDS = 3.0


@dataclass(frozen=True)
class Refusal:
    """Why a connection or a message is refused: the close code and its reason."""

    code: int
    reason: str


class LiveConnections:
    """This process's open live connections, counted per token and per company."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.per_token: Counter[int] = Counter()
        self.per_company: Counter[int] = Counter()

    def refusal(self, viewer: Viewer) -> Refusal | None:
        """Why one more connection of this viewer is refused, if it is: "try again later"."""
        per_token = self.settings.live_connections_per_token
        if self.per_token[viewer.token_id] >= per_token:
            return Refusal(
                TRY_AGAIN_LATER, f"This token has {per_token} live connections open; close one."
            )
        per_company = self.settings.live_connections_per_company
        if self.per_company[viewer.company_id] >= per_company:
            return Refusal(
                TRY_AGAIN_LATER, f"The company has {per_company} live connections open already."
            )
        return None

    def open(self, viewer: Viewer) -> None:
        self.per_token[viewer.token_id] += 1
        self.per_company[viewer.company_id] += 1

    def close(self, viewer: Viewer) -> None:
        self.per_token[viewer.token_id] -= 1
        self.per_company[viewer.company_id] -= 1
        self.per_token += Counter()  # drops the zeros
        self.per_company += Counter()


class SubscribeBucket:
    """Subscribe messages a connection may send: a burst, then one every few seconds.

    Each costs a parse and a validation, even one that fails (and is never charged to the
    token's rate limit, which counts only what runs).
    """

    def __init__(
        self, burst: int = SUBSCRIBE_BURST, every: float = SUBSCRIBE_EVERY_SECONDS
    ) -> None:
        self.burst = burst
        self.every = every
        self._left = float(burst)
        self._at = time.monotonic()

    def take(self) -> float | None:
        """None if one may be sent now, else the seconds until one may."""
        now = time.monotonic()
        self._left = min(self.burst, self._left + (now - self._at) / self.every)
        self._at = now
        if self._left >= 1:
            self._left -= 1
            return None
        return (1 - self._left) * self.every


class LiveSocketHandler(BaseGraphQLTransportWSHandler[RequestContext, None]):
    """One WebSocket connection. The view (licensing/graphql_view.py) gives the hub and caps."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._opened: Viewer | None = None
        self._subscribes = SubscribeBucket()

    @property
    def _connections(self) -> LiveConnections:
        return self.view.live_connections  # type: ignore[attr-defined, no-any-return]

    async def handle_message(self, message: Message) -> None:
        """Strawberry reads the fields of a message as they should be; checked here first."""
        shaped = isinstance(message, dict) and isinstance(message.get("type"), str)
        if not shaped:
            await self.handle_invalid_message("Each message must be a JSON object with a `type`.")
            return
        if message["type"] in ("subscribe", "complete") and not isinstance(message.get("id"), str):
            await self.handle_invalid_message(
                "Subscribe and complete messages need an `id` string."
            )
            return
        await super().handle_message(message)

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
            await self.websocket.close(code=refusal.code, reason=refusal.reason)
            return
        await super().handle_connection_init(message)

    async def _admit(self, payload: Mapping[str, object]) -> Refusal | None:
        """Looks the token up and counts the connection in; the refusal if not."""
        header = next(
            (value for key, value in payload.items() if key.lower() == "authorization"), None
        )
        if not isinstance(header, str) or not header:
            return Refusal(FORBIDDEN, ASK_FOR_TOKEN)
        auth = await authenticate(header, self.context.settings)
        viewer = auth.viewer
        if viewer is None:
            bearer = header.lower().startswith("bearer ")
            return Refusal(FORBIDDEN, UNKNOWN_TOKEN if bearer else ASK_FOR_TOKEN)
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

    async def handle_subscribe(self, message: SubscribeMessage) -> None:
        if not self.connection_acknowledged or message.get("id") in self.operations:
            await super().handle_subscribe(message)  # Strawberry's 4401 and 4409
            return
        malformed = _malformed(message.get("payload"))
        if malformed is not None:
            await self.websocket.close(code=BAD_REQUEST, reason=malformed)
            return
        refusal = self._subscribe_refusal()
        if refusal is not None:
            self._report_refusal(refusal)
            await self.send_message(ErrorMessage(id=message["id"], type="error", payload=[refusal]))
            return
        # Each subscribe is a request of its own: nothing of an earlier one is kept for it.
        self.context.forget_documents()
        await super().handle_subscribe(message)

    def _subscribe_refusal(self) -> GraphQLFormattedError | None:
        """An error for a subscribe over the connection's limits, as GraphQL errors are."""
        limit = self.max_subscriptions_per_connection
        if limit is not None and len(self.operations) >= limit:
            return _error(
                f"A connection may run {limit} subscriptions at once. Complete one first.",
                "TOO_MANY_SUBSCRIPTIONS",
            )
        wait = self._subscribes.take()
        if wait is not None:
            error = _error(
                f"Too many subscribe messages on this connection. Retry in {wait:.1f} seconds.",
                "THROTTLED",
            )
            error["extensions"] = {"code": "THROTTLED", "retryAfterSeconds": round(wait, 1)}
            return error
        return None

    def _report_refusal(self, refusal: GraphQLFormattedError) -> None:
        """A subscribe refused before GraphQL saw it, for the metrics."""
        observer = self.context.observer
        if observer is not None:
            code = str((refusal.get("extensions") or {}).get("code", ""))
            observer.operation_done(OperationReport("subscription", None, "refused", (code,), 0.0))

    async def _close(self, code: int, reason: str) -> None:
        await self.websocket.close(code=code, reason=reason)

    async def handle_task_exception(self, error: Exception) -> None:
        if isinstance(error, WebSocketDisconnected):  # the client left while an event was sent
            return
        await super().handle_task_exception(error)

    async def shutdown(self) -> None:
        try:
            await super().shutdown()
        finally:
            if self._opened is not None:
                self._connections.close(self._opened)
                self._opened = None


def _error(message: str, code: str) -> GraphQLFormattedError:
    return {"message": message, "extensions": {"code": code}}


def _malformed(payload: object) -> str | None:
    """Why a subscribe message's payload cannot be run, if it cannot."""
    if not isinstance(payload, dict) or not isinstance(payload.get("query"), str):
        return "The subscribe payload needs a `query` string."
    for key, kind, name in (
        ("variables", dict, "an object"),
        ("extensions", dict, "an object"),
        ("operationName", str, "a string"),
    ):
        value = payload.get(key)
        if value is not None and not isinstance(value, kind):
            return f"The subscribe payload's `{key}` must be {name} or null."
    return None


class TextFrameAdapter(ASGIWebSocketAdapter):
    """JSON in text frames both ways; a close after the socket closed is a no-op.

    Frames are read with `json.loads`, not the view's HTTP body decoder, whose refusals are
    HTTP errors (the handler checks each message's shape: LiveSocketHandler.handle_message).
    """

    async def iter_json(
        self, *, ignore_parsing_errors: bool = False
    ) -> AsyncGenerator[object, None]:
        try:
            while self.ws.application_state != WebSocketState.DISCONNECTED:
                text = await self.ws.receive_text()
                try:
                    yield json.loads(text)
                except ValueError:
                    if not ignore_parsing_errors:
                        raise NonJsonMessageReceived from None
        except KeyError as binary:  # a binary frame has no "text"
            raise NonTextMessageReceived from binary
        except WebSocketDisconnect:
            return

    async def send_json(self, message: Mapping[str, object]) -> None:
        try:
            await self.ws.send_text(orjson.dumps(message).decode())
        except (WebSocketDisconnect, RuntimeError) as exc:  # RuntimeError: sent after close
            raise WebSocketDisconnected from exc

    async def close(self, code: int, reason: str) -> None:
        gone = WebSocketState.DISCONNECTED
        if gone not in (self.ws.application_state, self.ws.client_state):
            await self.ws.close(code=code, reason=reason)
