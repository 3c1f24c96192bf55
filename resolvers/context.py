"""The per-request context: settings, the authenticated viewer and the request's loaders."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from licensing.settings import Settings
from resolvers.errors import forbidden, unauthenticated
from resolvers.loaders import Loaders
from services.access import (
    Viewer,
    require_activity_reporter,
    require_license_manager,
    require_license_writer,
)
from services.errors import AccessDenied
from services.live.hub import Hub
from services.protection.persisted_queries import sha256_of
from services.protection.rate_limit import Decision


@dataclass
class LiveSession:
    """A WebSocket connection's part in its subscriptions (licensing/live_socket.py)."""

    hub: Hub
    # The bearer token of connection_init, looked up again before each event.
    token: str = field(repr=False)
    # Closes the socket with a code and a reason.
    close: Callable[[int, str], Awaitable[None]]
    # One event of the connection at a time: each is read with loaders of its own.
    turn: asyncio.Lock = field(default_factory=asyncio.Lock)
    # The token's bucket as its last event's payment left it (reported in extensions.cost).
    decision: Decision | None = None


@dataclass(frozen=True)
class OperationReport:
    """One GraphQL operation as the metrics see it (licensing/metrics.py)."""

    operation_type: str  # query, mutation, subscription, or unknown (did not parse)
    operation_name: str | None  # as the client named it; the metrics bound it
    outcome: str  # ok, error, or refused (a limit or the rate limit)
    error_codes: tuple[str, ...]
    seconds: float


class OperationObserver(Protocol):
    def operation_done(self, report: OperationReport) -> None: ...

    def cache_lookup(self, hit: bool) -> None: ...


@dataclass
class RequestContext:
    settings: Settings
    viewer_or_none: Viewer | None
    # Why there is no viewer: shown as the UNAUTHENTICATED message.
    auth_problem: str = "Send an Authorization: Bearer TOKEN header."
    client_ip: str | None = None
    user_agent: str | None = None
    # The HTTP response to come (headers, status), and the request's conditional header.
    response: Any = None
    conditional_get: bool = False
    if_none_match: str | None = None
    # Ties a masked error seen by the client to its log line.
    request_id: str = field(default_factory=lambda: uuid.uuid4().hex[:16])
    loaders: Loaders = field(init=False)
    # SHA-256 of each document this request runs, computed once (the caches key by it).
    _digests: dict[str, str] = field(default_factory=dict, repr=False)
    # Digests of the documents that parsed, validated and passed every limit and the rate limit.
    admitted: set[str] = field(default_factory=set, repr=False)
    # Set on a WebSocket connection once connection_init is accepted.
    live: LiveSession | None = None
    # Told of each operation once it is answered (the metrics).
    observer: OperationObserver | None = None

    def __post_init__(self) -> None:
        self.renew(self.viewer_or_none)

    def renew(self, viewer: Viewer | None) -> None:
        """Start over as a new request of this viewer: fresh loaders, a fresh clock."""
        self.viewer_or_none = viewer
        self.loaders = Loaders(
            now=self.settings.clock.now(), company_id=viewer.company_id if viewer else None
        )

    def forget_documents(self) -> None:
        """A connection's next operation starts as a request of its own (WebSockets)."""
        self._digests.clear()
        self.admitted.clear()

    def digest_of(self, query: str) -> str:
        found = self._digests.get(query)
        if found is None:
            found = self._digests[query] = sha256_of(query)
        return found

    @property
    def viewer(self) -> Viewer:
        if self.viewer_or_none is None:
            raise unauthenticated(self.auth_problem)
        return self.viewer_or_none

    def _allowed(self, rule: Callable[[Viewer], None]) -> Viewer:
        """The viewer, if the access rule lets them through, else a FORBIDDEN error."""
        viewer = self.viewer
        try:
            rule(viewer)
        except AccessDenied as exc:
            raise forbidden(str(exc)) from None
        return viewer

    def license_manager(self) -> Viewer:
        """The viewer, if they may read licenses."""
        return self._allowed(require_license_manager)

    def license_writer(self) -> Viewer:
        """The viewer, if they may change licenses (role and licenses:write scope)."""
        return self._allowed(require_license_writer)

    def activity_reporter(self) -> Viewer:
        """The viewer, if their token may report activity (the activity:write scope)."""
        return self._allowed(require_activity_reporter)
