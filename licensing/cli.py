"""The `licensing` command."""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import logging
import os
import signal
import sys
from collections.abc import Awaitable, Callable, Sequence
from importlib import resources
from pathlib import Path
from types import FrameType
from typing import Any

import uvicorn

from licensing import db, logs, metrics_directory, tracing
from licensing.settings import Settings, SettingsError
from schema.api import build_schema, export_sdl
from services.errors import DomainError, FixtureError
from services.fixtures import load_fixture_text
from services.protection import persisted_queries, tokens

# uvicorn pings every live-updates WebSocket this often and drops it without a pong in time.
WS_PING_SECONDS = 20.0
DEMO_OWNER_EMAIL = "olivia@acme-heating.example"


async def _with_orm(settings: Settings, work: Callable[[], Awaitable[None]]) -> None:
    """Run `work` on a database whose tables are current, else say what to do in one line."""
    async with db.orm(settings.database_url):
        await db.check_ready()
        await work()


async def _load(settings: Settings, source: str, text: str, *, adjust: bool = False) -> None:
    async def work() -> None:
        report = await load_fixture_text(
            source=source, text=text, now=settings.clock.now(), adjust=adjust
        )
        print("\n".join(report.lines()))

    await _with_orm(settings, work)


async def _create_token(settings: Settings, email: str, scopes: list[str], name: str) -> str:
    created: list[str] = []

    async def work() -> None:
        created.append(
            await tokens.create_token(
                email=email, scopes=scopes, name=name, now=settings.clock.now()
            )
        )

    await _with_orm(settings, work)
    return created[0]


def _serve(settings: Settings, args: argparse.Namespace) -> None:
    # Logging is ours (one JSON line per request, secrets redacted): uvicorn's is off.
    options: dict[str, Any] = {
        "host": args.host,
        "port": args.port,
        "log_config": None,
        "access_log": False,
        # WebSockets (live updates): pings find dead peers, and a client's message is small.
        "ws_ping_interval": WS_PING_SECONDS,
        "ws_ping_timeout": WS_PING_SECONDS,
        "ws_max_size": settings.live_max_message_bytes,
        # After a SIGTERM, requests under way have this long to finish; then they are cancelled.
        "timeout_graceful_shutdown": args.timeout_graceful_shutdown,
    }
    # Before anything imports prometheus_client: its mode is chosen on import.
    directory, made_here = metrics_directory.prepare()
    # uvicorn stops gracefully on SIGTERM and then raises it again for the handler it found:
    # this one, so that a stop asked for ends with status 0.
    signal.signal(signal.SIGTERM, _stopped)
    try:
        if args.workers > 1:
            # Workers read their settings from the environment: without a SECRET_KEY each would
            # make its own, and a download link signed by one would fail on the others.
            os.environ.setdefault("SECRET_KEY", settings.secret_key)
            uvicorn.run("licensing.app:app_from_env", factory=True, workers=args.workers, **options)
            return
        from licensing.app import create_app

        uvicorn.run(create_app(settings), **options)
    finally:
        if made_here:
            metrics_directory.remove(directory)
        logging.getLogger("licensing").info("stopped")


def _stopped(signum: int, frame: FrameType | None) -> None:
    """SIGTERM while uvicorn does not listen for it: before it starts (the process stops at
    once), or raised again by uvicorn after its graceful shutdown (nothing is left to do)."""
    raise SystemExit(0)


def cmd_serve(settings: Settings, args: argparse.Namespace) -> None:
    if args.workers > 1 and not db.is_postgres(settings.database_url):
        raise SettingsError(
            "--workers above 1 needs PostgreSQL: the embedded SQLite database serves one "
            "process. Set DATABASE_URL=postgres://... or run one worker."
        )
    # Refused here in one line, rather than by each worker's start-up with a traceback.
    asyncio.run(_with_orm(settings, _nothing))
    logger = logging.getLogger("licensing")
    if not settings.smtp_host:
        logger.warning(
            "SMTP_HOST is not set: confirmation emails are written to this log instead of sent."
        )
    if settings.secret_key_generated:
        logger.warning(
            "SECRET_KEY is not set: a random key was generated, so download links stop working "
            "when the service restarts. Set SECRET_KEY in production."
        )
    _warn_about_webhook_relaxations(settings, logger)
    if tracing.extra_missing():
        logger.warning(
            "OTEL_EXPORTER_OTLP_ENDPOINT is set but OpenTelemetry is not installed: no traces "
            'are sent. Install the extra: pip install -e ".[otel]".'
        )
    _serve(settings, args)


def _warn_about_webhook_relaxations(settings: Settings, logger: logging.Logger) -> None:
    if settings.webhook_allowed_networks:
        networks = ", ".join(str(network) for network in settings.webhook_allowed_networks)
        logger.warning(
            "WEBHOOK_ALLOWED_CIDRS is set: webhooks may reach %s although these addresses are "
            "private. Meant for tests; unset it in production.",
            networks,
        )
    if settings.webhook_allow_http:
        logger.warning(
            "WEBHOOK_ALLOW_HTTP is set: webhook URLs may use http://, unencrypted. Meant for "
            "tests; unset it in production."
        )


async def _nothing() -> None:
    return None


def cmd_migrate(settings: Settings, args: argparse.Namespace) -> None:
    async def migrate() -> None:
        async with db.orm(settings.database_url):
            try:
                await db.ping()
            except Exception as error:
                raise db.DatabaseUnavailable(
                    f"cannot reach the database ({type(error).__name__}: {error}). Check "
                    "DATABASE_URL and that the database server is up."
                ) from None
        await db.apply_migrations(settings.database_url)

    asyncio.run(migrate())
    print("The database schema is up to date.")


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise FixtureError(f"{path}: cannot read the file: {exc.strerror}") from None


def cmd_load(settings: Settings, args: argparse.Namespace) -> None:
    path = Path(args.file)
    text = _read(path)
    asyncio.run(_load(settings, str(path), text, adjust=args.adjust))


def cmd_token_create(settings: Settings, args: argparse.Namespace) -> None:
    print(asyncio.run(_create_token(settings, args.email, args.scope or [], args.name)))


def _when(moment: dt.datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M") if moment else "-"


def cmd_token_list(settings: Settings, args: argparse.Namespace) -> None:
    async def work() -> None:
        print(f"{'id':>4}  {'user':<32} {'name':<20} {'scopes':<30} {'last used':<16} revoked")
        for token in await tokens.list_tokens():
            print(
                f"{token.id:>4}  {token.email:<32} {token.name or '-':<20} {token.scopes:<30} "
                f"{_when(token.last_used_at):<16} {_when(token.revoked_at)}"
            )

    asyncio.run(_with_orm(settings, work))


def cmd_token_revoke(settings: Settings, args: argparse.Namespace) -> None:
    async def work() -> None:
        await tokens.revoke_token(token_id=args.id, now=settings.clock.now())
        print(f"Token {args.id} is revoked.")

    asyncio.run(_with_orm(settings, work))


def cmd_queries_register(settings: Settings, args: argparse.Namespace) -> None:
    documents = {file: _read(Path(file)) for file in args.files}

    async def work() -> None:
        for file, query in documents.items():
            digest = await persisted_queries.register(query=query, now=settings.clock.now())
            print(f"{digest}  {file}")

    asyncio.run(_with_orm(settings, work))


def cmd_export_schema(settings: Settings, args: argparse.Namespace) -> None:
    sys.stdout.write(export_sdl(build_schema()))


def cmd_demo(settings: Settings, args: argparse.Namespace) -> None:
    demo_text = resources.files("licensing").joinpath("demo_fixture.json").read_text("utf-8")
    asyncio.run(db.apply_migrations(settings.database_url))
    asyncio.run(_load(settings, "built-in demo fixture", demo_text))
    token = asyncio.run(_create_token(settings, DEMO_OWNER_EMAIL, [], "demo"))
    url = f"http://{args.host}:{args.port}/graphql"
    print(
        f"\nDemo company loaded into {settings.database_url}.\n"
        f"GraphiQL:     {url}\n"
        f"Owner token:  {token}\n"
        "Try it:\n"
        f"  curl -s {url} -H 'Authorization: Bearer {token}' "
        "-H 'Content-Type: application/json' "
        """-d '{"query":"{ subscription { contracts { product plan { name } expiresOn """
        """licensePools { kind total assigned available } usage { percentUsed } } } }"}'\n"""
        'In GraphiQL, add the header {"Authorization": "Bearer <token>"}.\n',
        flush=True,
    )
    cmd_serve(settings, args)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="licensing", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    def add_serve_options(command: argparse.ArgumentParser) -> None:
        command.add_argument("--host", default="127.0.0.1")
        command.add_argument("--port", type=int, default=8000)
        command.add_argument("--workers", type=int, default=1)
        command.add_argument(
            "--timeout-graceful-shutdown",
            type=float,
            default=30.0,
            metavar="SECONDS",
            help="after SIGTERM, how long requests under way may take to finish (default 30)",
        )

    serve = commands.add_parser("serve", help="run the HTTP service")
    add_serve_options(serve)
    serve.set_defaults(func=cmd_serve)
    commands.add_parser("migrate", help="apply database migrations").set_defaults(func=cmd_migrate)
    load = commands.add_parser("load", help="create or update data from a fixture file")
    load.add_argument("file")
    load.add_argument(
        "--adjust",
        action="store_true",
        help="apply the file's pool sizes, dates and terms to existing contracts too, as "
        "audited operator changes (without it they are reported and left as they are)",
    )
    load.set_defaults(func=cmd_load)
    token = commands.add_parser("token", help="bearer tokens").add_subparsers(
        dest="token_command", required=True
    )
    create = token.add_parser("create", help="print a new bearer token for a user")
    create.add_argument("--email", required=True)
    create.add_argument(
        "--scope",
        action="append",
        help="licenses:read, licenses:write (both by default) or activity:write (the core "
        "product reporting activity; only when named); repeat for several",
    )
    create.add_argument("--name", default="", help="who the token is for, e.g. 'Acme CRM'")
    create.set_defaults(func=cmd_token_create)
    token.add_parser("list", help="list tokens (never the tokens themselves)").set_defaults(
        func=cmd_token_list
    )
    revoke = token.add_parser("revoke", help="revoke a token: it fails at once")
    revoke.add_argument("id", type=int)
    revoke.set_defaults(func=cmd_token_revoke)
    queries = commands.add_parser("queries", help="persisted queries").add_subparsers(
        dest="queries_command", required=True
    )
    register = queries.add_parser(
        "register", help="register GraphQL documents (for PERSISTED_QUERIES_ONLY=true)"
    )
    register.add_argument("files", nargs="+")
    register.set_defaults(func=cmd_queries_register)
    demo = commands.add_parser("demo", help="load a demo company, print a token and serve")
    add_serve_options(demo)
    demo.set_defaults(func=cmd_demo)
    commands.add_parser("export-schema", help="print the served GraphQL SDL").set_defaults(
        func=cmd_export_schema
    )
    return parser


def main(argv: Sequence[str] | None = None) -> None:
    logs.configure(logs.level_from_env())
    args = _parser().parse_args(argv)
    try:
        settings = Settings.from_env()
        args.func(settings, args)
    except (
        FixtureError,
        DomainError,
        SettingsError,
        metrics_directory.MetricsDirectoryError,
        db.DatabaseUnavailable,
        db.MigrationsBehind,
    ) as exc:
        print(f"licensing {args.command}: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
