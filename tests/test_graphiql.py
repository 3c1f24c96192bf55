"""GraphiQL on GET /graphql: our page, the vendored assets, a strict CSP, nothing from elsewhere."""

from __future__ import annotations

import dataclasses
import hashlib
import re
from collections.abc import AsyncIterator
from html.parser import HTMLParser
from importlib import resources

import httpx
import pytest
from starlette.applications import Starlette

from licensing.app import create_app
from tests.conftest import BASE_URL, make_settings

ASSETS = resources.files("licensing") / "static" / "graphiql"
BROWSER = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
# The only sources the page's policy may name: its own origin, data: URLs, its nonce.
NONCE = re.compile(r"^'nonce-[A-Za-z0-9_-]{16,}'$")
ALLOWED_SOURCES = {"'self'", "'none'", "data:"}
# The page and its files need no database: these apps are spoken to without their lifespan (a
# served app takes about a second to stop), so this database is never opened.
NO_DATABASE = "sqlite://:memory:"


def _app(*, graphiql: bool) -> Starlette:
    settings = make_settings(NO_DATABASE, smtp_port=1)
    return create_app(dataclasses.replace(settings, graphiql=graphiql))


@pytest.fixture(scope="module")
def app() -> Starlette:
    return _app(graphiql=True)


def _client(app: Starlette) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE_URL)


@pytest.fixture
async def page(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    """The app with GraphiQL on, over HTTP, without its lifespan."""
    async with _client(app) as http:
        yield http


class _Tags(HTMLParser):
    """The page's tags with their attributes, and what each <script> holds between its tags."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.script_texts: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        self._in_script = tag == "script"
        if self._in_script:
            self.script_texts.append("")

    def handle_endtag(self, tag: str) -> None:
        self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script:
            self.script_texts[-1] += data


def _tags(html: str) -> _Tags:
    parser = _Tags()
    parser.feed(html)
    return parser


def _policy(header: str) -> dict[str, list[str]]:
    directives = [part.split() for part in header.split(";") if part.strip()]
    return {name: sources for name, *sources in directives}


def _recorded_sha256() -> dict[str, str]:
    """VERSIONS.txt: file name -> sha256, for every file taken from an npm tarball."""
    lines = (ASSETS / "VERSIONS.txt").read_text().splitlines()
    return {line.split()[0]: line.split()[1] for line in lines if line and not line.startswith("#")}


def _asset_urls(html: str) -> list[str]:
    urls = []
    for tag, attrs in _tags(html).tags:
        if tag == "script" and attrs.get("src"):
            urls.append(str(attrs["src"]))
        if tag == "link" and attrs.get("href"):
            urls.append(str(attrs["href"]))
    return urls


async def test_the_page_has_a_strict_policy(page: httpx.AsyncClient) -> None:
    response = await page.get("/graphql", headers=BROWSER)
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["referrer-policy"] == "no-referrer"
    policy = _policy(response.headers["content-security-policy"])
    assert policy["default-src"] == ["'none'"]
    assert policy["script-src"] == ["'self'"]  # no 'unsafe-inline', no 'unsafe-eval', no host
    assert policy["connect-src"] == ["'self'"]
    assert policy["frame-ancestors"] == policy["base-uri"] == policy["form-action"] == ["'none'"]
    for sources in policy.values():
        assert all(source in ALLOWED_SOURCES or NONCE.match(source) for source in sources)
    # The nonce is only for the <style> GraphiQL adds itself (start.js hands it over), and new
    # for every page.
    style_nonce = next(s for s in policy["style-src"] if NONCE.match(s))[len("'nonce-") : -1]
    assert policy["style-src"] == ["'self'", f"'nonce-{style_nonce}'"]
    root = next(attrs for tag, attrs in _tags(response.text).tags if attrs.get("id") == "graphiql")
    assert root["data-style-nonce"] == style_nonce
    again = await page.get("/graphql", headers=BROWSER)
    assert style_nonce not in again.headers["content-security-policy"]


async def test_the_page_loads_nothing_from_elsewhere_and_runs_nothing_inline(
    page: httpx.AsyncClient,
) -> None:
    html = (await page.get("/graphql", headers=BROWSER)).text
    assert "http://" not in html
    assert "https://" not in html
    tags = _tags(html)
    assert [tag for tag, _ in tags.tags].count("script") == len(tags.script_texts) == 5
    assert all(not text.strip() for text in tags.script_texts)
    for tag, attrs in tags.tags:
        assert tag != "style"
        assert not any(name == "style" or name.startswith("on") for name in attrs)
    assert all(url.startswith("/graphiql/") for url in _asset_urls(html))


async def test_every_asset_is_served_as_vendored(page: httpx.AsyncClient) -> None:
    recorded = _recorded_sha256()
    urls = _asset_urls((await page.get("/graphql", headers=BROWSER)).text)
    assert len(urls) == 8
    for url in urls:
        response = await page.get(url)
        assert response.status_code == 200, url
        kind = response.headers["content-type"]
        if url.endswith(".js"):
            assert kind.startswith(("text/javascript", "application/javascript")), url
        else:
            assert kind.startswith("text/css"), url
        name = url.removeprefix("/graphiql/")
        if name in ("start.js", "page.css"):  # ours, not from npm
            assert response.content == (ASSETS / name).read_bytes()
        else:
            assert hashlib.sha256(response.content).hexdigest() == recorded[name], url


def test_versions_txt_matches_the_files_in_the_package() -> None:
    recorded = _recorded_sha256()
    assert {"graphiql.min.js", "react.production.min.js", "LICENSE.graphiql"} <= recorded.keys()
    for name, digest in recorded.items():
        assert hashlib.sha256((ASSETS / name).read_bytes()).hexdigest() == digest, name


async def test_a_get_with_a_query_is_still_an_api_call(client: httpx.AsyncClient) -> None:
    response = await client.get("/graphql", params={"query": "{ __typename }"}, headers=BROWSER)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json()["data"] == {"__typename": "Query"}


async def test_no_page_and_no_assets_when_graphiql_is_off() -> None:
    async with _client(_app(graphiql=False)) as off:
        assert (await off.get("/graphql", headers=BROWSER)).status_code == 404
        assert (await off.get("/graphiql/start.js")).status_code == 404
        assert (await off.get("/graphiql/graphiql.min.js")).status_code == 404
