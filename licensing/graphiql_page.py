"""GraphiQL with no internet: our page, the assets vendored in the package, a strict CSP.

The page (templates/graphiql.html) loads only files of static/graphiql/: React, GraphiQL and its
explorer plugin as published on npm (VERSIONS.txt; scripts/vendor_graphiql.py fetches them),
and start.js, which starts GraphiQL. No inline script or style: the policy allows none, but for a
<style> GraphiQL adds itself with the page's nonce.
"""

from __future__ import annotations

import secrets

from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import BaseRoute, Mount
from starlette.staticfiles import StaticFiles

from licensing.settings import Settings
from licensing.views import templates

ASSETS_PATH = "/graphiql"


def content_security_policy(style_nonce: str) -> str:
    return "; ".join(
        (
            "default-src 'none'",
            "script-src 'self'",
            # GraphiQL's dialogs (settings, short keys) lock the page's scroll with a <style>
            # element they add (react-remove-scroll), which takes its nonce from the global
            # __webpack_nonce__: start.js sets it from the page, so no 'unsafe-inline' is needed.
            f"style-src 'self' 'nonce-{style_nonce}'",
            # graphiql.min.css draws a few icons as data: PNGs and carries its fonts as data: URLs.
            "img-src 'self' data:",
            "font-src 'self' data:",
            # The fetcher's requests to /graphql, and the graphql-transport-ws socket of
            # subscriptions: 'self' covers ws: and wss: to the page's own host (CSP level 3).
            "connect-src 'self'",
            "base-uri 'none'",
            "form-action 'none'",
            "frame-ancestors 'none'",
        )
    )


def graphiql_page(request: Request) -> HTMLResponse:
    """The page a browser gets on GET /graphql (when settings.graphiql is on)."""
    style_nonce = secrets.token_urlsafe(16)  # a new one for every page
    html = templates.get_template("graphiql.html").render(
        static=request.scope.get("root_path", "") + ASSETS_PATH, style_nonce=style_nonce
    )
    headers = {
        "Content-Security-Policy": content_security_policy(style_nonce),
        "X-Frame-Options": "DENY",
        "Referrer-Policy": "no-referrer",
    }
    return HTMLResponse(html, headers=headers)


def graphiql_routes(settings: Settings) -> list[BaseRoute]:
    """The page's scripts and styles, served from the package (none when GraphiQL is off).

    Their URLs carry no version, so they get StaticFiles' ETag and Last-Modified, not a long
    cache lifetime: a browser revalidates them after an update.
    """
    if not settings.graphiql:
        return []
    assets = StaticFiles(packages=[("licensing", "static/graphiql")])
    return [Mount(ASSETS_PATH, assets, name="graphiql")]
