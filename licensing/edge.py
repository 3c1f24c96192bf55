"""What every HTTP request goes through first: an id, a body limit, `nosniff`, and its log line.

One middleware, not three: each layer of ASGI wrappers costs every request its closures.

- The request gets an id (`scope["state"]["request_id"]`), shared by its log lines.
- Bodies over `max_bytes` are refused with 413 before anything parses them.
- Every response carries `X-Content-Type-Options: nosniff`.
- One JSON log line per request on `licensing.access`, every secret in the URL redacted:
  uvicorn's own access log is off, because it would write `GET /sign/<token>` and
  `?signature=...`, and a signature token in a log is a signature anyone with the log can give.
"""

from __future__ import annotations

import logging
import random
import re
import time
from urllib.parse import parse_qsl, urlencode

from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

logger = logging.getLogger("licensing.access")

DEFAULT_MAX_BODY_BYTES = 1024 * 1024
REDACTED = "[redacted]"
# Query parameters that never carry a secret; any other value is redacted.
SAFE_QUERY_KEYS = frozenset({"expires", "operationName", "extensions"})
_SIGN_PATH = re.compile(r"^/sign/[^/]+")
_NOSNIFF = (b"x-content-type-options", b"nosniff")
_ids = random.Random()  # noqa: S311 (an id for log lines to share, not a secret)


def redacted_path(path: str) -> str:
    return _SIGN_PATH.sub(f"/sign/{REDACTED}", path)


def redacted_query(query: str) -> str:
    pairs = parse_qsl(query, keep_blank_values=True)
    return urlencode(
        [(key, value if key in SAFE_QUERY_KEYS else REDACTED) for key, value in pairs], safe="[]"
    )


def new_request_id() -> str:
    """16 hex digits: enough that two requests of a day never share one (uuid4 costs more)."""
    return f"{_ids.getrandbits(64):016x}"


class _TooLarge(Exception):
    pass


class Edge:
    def __init__(self, app: ASGIApp, *, max_bytes: int = DEFAULT_MAX_BODY_BYTES) -> None:
        self.app = app
        self.max_bytes = max_bytes

    def _refusal(self) -> PlainTextResponse:
        return PlainTextResponse(
            f"The request body is larger than {self.max_bytes:,} bytes.", status_code=413
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = new_request_id()
        scope.setdefault("state", {})["request_id"] = request_id
        started = time.perf_counter()
        status: int | None = None
        received = 0
        max_bytes = self.max_bytes

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > max_bytes:  # a chunked body that did not declare its length
                raise _TooLarge
            return message

        async def send_marked(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), _NOSNIFF]
            await send(message)

        try:
            declared = next(
                (value for key, value in scope["headers"] if key == b"content-length"), b""
            )
            if declared.isdigit() and int(declared) > max_bytes:
                await self._refusal()(scope, receive, send_marked)
            else:
                await self.app(scope, limited_receive, send_marked)
        except _TooLarge:
            if status is None:
                await self._refusal()(scope, receive, send_marked)
        finally:
            if logger.isEnabledFor(logging.INFO):
                _log(scope, request_id, status, time.perf_counter() - started)


def _log(scope: Scope, request_id: str, status: int | None, seconds: float) -> None:
    client = scope.get("client")
    query = scope.get("query_string", b"").decode("latin-1")
    fields = {
        "requestId": request_id,
        "method": scope.get("method"),
        "path": redacted_path(scope.get("path", "")),
        "query": redacted_query(query) if query else None,
        "status": status,
        "durationMs": round(seconds * 1000, 1),
        "client": client[0] if client else None,
    }
    logger.info("%s %s %s", fields["method"], fields["path"], status, extra={"fields": fields})
