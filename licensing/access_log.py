"""One JSON log line per HTTP request, with every secret in the URL redacted.

uvicorn's own access log is off: it would write `GET /sign/<token>` and `?signature=...`,
and a signature token in a log is a signature anyone with the log can give.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from urllib.parse import parse_qsl, urlencode

from starlette.types import ASGIApp, Message, Receive, Scope, Send

logger = logging.getLogger("licensing.access")

REDACTED = "[redacted]"
# Query parameters that never carry a secret; any other value is redacted.
SAFE_QUERY_KEYS = frozenset({"expires", "operationName", "extensions"})
_SIGN_PATH = re.compile(r"^/sign/[^/]+")


def redacted_path(path: str) -> str:
    return _SIGN_PATH.sub(f"/sign/{REDACTED}", path)


def redacted_query(query: str) -> str:
    pairs = parse_qsl(query, keep_blank_values=True)
    return urlencode(
        [(key, value if key in SAFE_QUERY_KEYS else REDACTED) for key, value in pairs], safe="[]"
    )


def new_request_id() -> str:
    return uuid.uuid4().hex[:16]


class AccessLog:
    """Gives every request an id (`scope["state"]["request_id"]`) and logs it when done."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        request_id = new_request_id()
        scope.setdefault("state", {})["request_id"] = request_id
        started = time.perf_counter()
        status: int | None = None

        async def send_with_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_with_status)
        finally:
            self._log(scope, request_id, status, time.perf_counter() - started)

    @staticmethod
    def _log(scope: Scope, request_id: str, status: int | None, seconds: float) -> None:
        client = scope.get("client")
        query = scope.get("query_string", b"").decode("latin-1")
        fields = {
            "requestId": request_id,
            "method": scope.get("method", "WEBSOCKET"),
            "path": redacted_path(scope.get("path", "")),
            "query": redacted_query(query) if query else None,
            "status": status,
            "durationMs": round(seconds * 1000, 1),
            "client": client[0] if client else None,
        }
        logger.info("%s %s %s", fields["method"], fields["path"], status, extra={"fields": fields})
