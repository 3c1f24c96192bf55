"""A real HTTP receiver for webhooks on loopback: records what arrives, answers as told.

A Starlette app served by uvicorn in the caller's event loop, on a port of its own. Each path
answers with the replies planned for it, in order, then with 200.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from services.webhooks.addresses import AddressPolicy
from services.webhooks.endpoints import UrlCheck

# What lets a service register and send to this receiver (as WEBHOOK_ALLOWED_CIDRS=127.0.0.0/8
# and WEBHOOK_ALLOW_HTTP=true do).
LOOPBACK_CHECK = UrlCheck(
    policy=AddressPolicy(allowed_networks=(ipaddress.ip_network("127.0.0.0/8"),), allow_http=True)
)


@dataclass(frozen=True)
class Reply:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: str = "ok"
    hang: bool = False  # never answer (until the receiver stops)


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float  # time.monotonic()
    status: int  # what it was answered (if it was answered)

    @property
    def event_id(self) -> str:
        return self.headers["webhook-id"]


class WebhookReceiver:
    """`answer`, if given, chooses the reply for a path and webhook-id when none is planned;
    `tls` (a certificate file and its key file) makes it speak HTTPS."""

    def __init__(
        self,
        answer: Callable[[str, str], Reply] | None = None,
        tls: tuple[Path, Path] | None = None,
    ) -> None:
        self._answer = answer
        self._scheme = "https" if tls else "http"
        self.received: list[Received] = []
        self._plans: dict[str, deque[Reply]] = {}
        self._stopping = asyncio.Event()
        self._socket = socket.socket()
        self._socket.bind(("127.0.0.1", 0))
        self.port: int = self._socket.getsockname()[1]
        app = Starlette(routes=[Route("/{path:path}", self._receive, methods=["POST", "GET"])])
        certificate, key = tls if tls else (None, None)
        config = uvicorn.Config(
            app,
            log_level="warning",
            lifespan="off",
            timeout_graceful_shutdown=1,
            ssl_certfile=certificate,
            ssl_keyfile=key,
        )
        self._server = uvicorn.Server(config)
        self._task: asyncio.Task[None] | None = None

    def url(self, path: str = "/hooks", host: str = "127.0.0.1") -> str:
        return f"{self._scheme}://{host}:{self.port}{path}"

    def plan(self, path: str, *replies: Reply) -> None:
        """Answer the next requests to `path` with these, in order (then 200)."""
        self._plans.setdefault(path, deque()).extend(replies)

    async def _receive(self, request: Request) -> Response:
        path = request.url.path
        planned = self._plans.get(path)
        event_id = request.headers.get("webhook-id", "")
        if planned:
            reply = planned.popleft()
        else:
            reply = self._answer(path, event_id) if self._answer else Reply()
        body = await request.body()
        self.received.append(
            Received(path, dict(request.headers), body, time.monotonic(), reply.status)
        )
        if reply.hang:
            await self._stopping.wait()
        return Response(reply.body, status_code=reply.status, headers=reply.headers)

    def at(self, path: str) -> list[Received]:
        return [each for each in self.received if each.path == path]

    async def wait_for(
        self, count: int, path: str = "/hooks", within: float = 20.0
    ) -> list[Received]:
        """Wait until `count` requests have reached `path`; they are returned."""
        deadline = time.monotonic() + within
        while len(self.at(path)) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"{len(self.at(path))} of {count} requests reached {path}")
            await asyncio.sleep(0.02)
        return self.at(path)

    async def __aenter__(self) -> WebhookReceiver:
        self._task = asyncio.create_task(self._server.serve(sockets=[self._socket]))
        # uvicorn offers no event for this.
        while not self._server.started:  # noqa: ASYNC110
            await asyncio.sleep(0.01)
        return self

    async def __aexit__(self, *exc: Any) -> None:
        self._stopping.set()
        self._server.should_exit = True
        if self._task is not None:
            await self._task
        self._socket.close()
