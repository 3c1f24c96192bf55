"""The `licensing` command, run as a newcomer would run it."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import IO

import httpx
from graphql import build_schema as parse_sdl

from schema.api import build_schema, export_sdl
from tests.conftest import EXAMPLE_FIXTURE

LICENSING = [sys.executable, "-m", "licensing"]


def run(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*LICENSING, *args], env=env, capture_output=True, text=True, timeout=120, check=False
    )


def environment(tmp_path: Path) -> dict[str, str]:
    return {**os.environ, "DATABASE_URL": f"sqlite://{tmp_path / 'cli.db'}", "SECRET_KEY": "s"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def test_export_schema_prints_the_contract_schema_block() -> None:
    result = run("export-schema", env=dict(os.environ))
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(
        "schema {\n  query: Query\n  mutation: Mutation\n  subscription: LiveUpdates\n}\n"
    )
    schema = parse_sdl(result.stdout)
    assert schema.subscription_type is not None
    assert schema.subscription_type.name == "LiveUpdates"
    assert schema.get_type("Subscription") is not None  # the domain type keeps its name


def test_migrate_load_twice_and_token(tmp_path: Path) -> None:
    env = environment(tmp_path)
    assert run("migrate", env=env).returncode == 0
    first = run("load", str(EXAMPLE_FIXTURE), env=env)
    assert first.returncode == 0, first.stderr
    assert "created 1 companies" in first.stdout
    second = run("load", str(EXAMPLE_FIXTURE), env=env)
    assert "nothing to change" in second.stdout
    token = run("token", "create", "--email", "frank@acme-heating.example", env=env)
    assert token.returncode == 0, token.stderr
    assert re.fullmatch(r"lic_[\w-]{40,}\n", token.stdout)


def test_token_list_and_revoke(tmp_path: Path) -> None:
    env = environment(tmp_path)
    run("migrate", env=env)
    run("load", str(EXAMPLE_FIXTURE), env=env)
    created = run(
        "token",
        "create",
        "--email",
        "frank@acme-heating.example",
        "--scope",
        "licenses:read",
        "--name",
        "Acme CRM",
        env=env,
    )
    assert created.returncode == 0, created.stderr
    token = created.stdout.strip()
    listed = run("token", "list", env=env).stdout
    assert "Acme CRM" in listed
    assert "licenses:read" in listed
    assert "licenses:write" not in listed
    assert token not in listed
    plain = run(
        "token", "create", "--email", "olivia@acme-heating.example", "--name", "own", env=env
    )
    assert plain.returncode == 0, plain.stderr
    [own] = [line for line in run("token", "list", env=env).stdout.splitlines() if " own " in line]
    # Without --scope: read and write, and no scope added later (activity:write...).
    assert own.split()[3:5] == ["licenses:read", "licenses:write"]
    assert run("token", "revoke", "1", env=env).stdout.strip() == "Token 1 is revoked."
    [row] = [
        line for line in run("token", "list", env=env).stdout.splitlines() if "Acme CRM" in line
    ]
    assert not row.rstrip().endswith("-")  # the revoked column shows when
    unknown = run("token", "revoke", "99", env=env)
    assert unknown.returncode == 2
    assert "No token has the id 99" in unknown.stderr
    bad_scope = run(
        "token", "create", "--email", "frank@acme-heating.example", "--scope", "everything", env=env
    )
    assert bad_scope.returncode == 2
    assert "Unknown scope(s): everything" in bad_scope.stderr


def test_load_refuses_a_malformed_file_with_its_path(tmp_path: Path) -> None:
    env = environment(tmp_path)
    run("migrate", env=env)
    bad = tmp_path / "bad.json"
    data = json.loads(EXAMPLE_FIXTURE.read_text())
    data["companies"][0]["contracts"][0]["startsOn"] = "first of May"
    bad.write_text(json.dumps(data))
    result = run("load", str(bad), env=env)
    assert result.returncode == 2
    assert f"{bad}: $.companies[0].contracts[0].startsOn:" in result.stderr
    unknown = run("token", "create", "--email", "frank@acme-heating.example", env=env)
    assert unknown.returncode == 2
    assert "No user has the email" in unknown.stderr


def test_commands_on_a_database_never_migrated_say_to_migrate(tmp_path: Path) -> None:
    env = environment(tmp_path)
    for command in (
        ["load", str(EXAMPLE_FIXTURE)],
        ["token", "create", "--email", "frank@acme-heating.example"],
        ["token", "list"],
    ):
        result = run(*command, env=env)
        assert result.returncode == 2, result
        assert result.stderr.count("\n") == 1, result.stderr  # one line, no traceback
        assert "Run `licensing migrate` first" in result.stderr


def test_load_reports_differences_and_adjust_applies_them(tmp_path: Path) -> None:
    env = environment(tmp_path)
    run("migrate", env=env)
    run("load", str(EXAMPLE_FIXTURE), env=env)
    changed = tmp_path / "changed.json"
    data = json.loads(EXAMPLE_FIXTURE.read_text())
    data["companies"][0]["contracts"][1]["pools"]["MONTHLY"] = 5
    changed.write_text(json.dumps(data))
    reported = run("load", str(changed), env=env)
    assert reported.returncode == 0, reported.stderr
    assert reported.stdout.splitlines() == [
        f"Loaded {changed}: nothing to change.",
        f"{changed}: $.companies[0].contracts[1].pools.MONTHLY: Acme Heating Ltd's SALES "
        "MONTHLY licenses is 0 here, the file says 5: left as it is",
        "1 difference(s) left as the service has them; "
        f"`licensing load --adjust {changed}` applies them as operator changes.",
    ]
    adjusted = run("load", "--adjust", str(changed), env=env)
    assert adjusted.stdout.splitlines()[1:] == [
        f"{changed}: $.companies[0].contracts[1].pools.MONTHLY: Acme Heating Ltd's SALES "
        "MONTHLY licenses: 0 -> 5 (adjusted)",
        "1 operator change(s) applied and audited.",
    ]
    assert (
        run("load", str(changed), env=env).stdout.strip() == f"Loaded {changed}: nothing to change."
    )


def test_serve_refuses_a_database_behind_its_migrations_in_one_line(tmp_path: Path) -> None:
    result = run("serve", "--port", str(free_port()), env=environment(tmp_path))
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1, result.stderr  # no traceback
    assert "Run `licensing migrate` first" in result.stderr


def test_a_database_that_cannot_be_reached_says_so(tmp_path: Path) -> None:
    """Not "behind its migrations", which would send an operator to the wrong fix."""
    nobody = f"postgres://licensing@127.0.0.1:{free_port()}/licensing"
    missing_folder = f"sqlite://{tmp_path / 'no-such-folder' / 'x.db'}"
    for url, expected in (
        (nobody, "cannot reach the database"),
        (missing_folder, "does not exist"),
    ):
        env = {**environment(tmp_path), "DATABASE_URL": url}
        for command in (["migrate"], ["load", str(EXAMPLE_FIXTURE)], ["token", "list"]):
            result = run(*command, env=env)
            assert result.returncode == 2, result
            assert result.stderr.count("\n") == 1, result.stderr
            assert expected in result.stderr
            assert "behind" not in result.stderr


def test_registering_a_missing_query_file_says_so(tmp_path: Path) -> None:
    env = environment(tmp_path)
    run("migrate", env=env)
    result = run("queries", "register", str(tmp_path / "missing.graphql"), env=env)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1, result.stderr
    assert "cannot read the file" in result.stderr


def test_several_workers_need_postgresql(tmp_path: Path) -> None:
    result = run("serve", "--workers", "2", env=environment(tmp_path))
    assert result.returncode == 2
    assert "--workers above 1 needs PostgreSQL" in result.stderr


def test_demo_serves_the_demo_company(tmp_path: Path) -> None:
    port = free_port()
    with subprocess.Popen(
        [*LICENSING, "demo", "--port", str(port)],
        env=environment(tmp_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    ) as process:
        assert process.stdout is not None
        try:
            _check_demo(process.stdout, port)
        finally:
            process.terminate()
            process.wait(timeout=30)


def _check_demo(stdout: IO[str], port: int) -> None:
    output = ""
    deadline = time.monotonic() + 60
    while "Application startup complete" not in output and time.monotonic() < deadline:
        output += stdout.readline()
    token = re.search(r"Owner token:\s+(\S+)", output)
    assert token, output
    assert f"http://127.0.0.1:{port}/graphql" in output
    response = httpx.post(
        f"http://127.0.0.1:{port}/graphql",
        json={"query": "{ subscription { contracts { product } } }"},
        headers={"Authorization": f"Bearer {token.group(1)}"},
    )
    assert response.json()["data"] == {
        "subscription": {"contracts": [{"product": "JOBS"}, {"product": "SALES"}]}
    }


def test_the_committed_schema_is_the_served_one() -> None:
    """`schema.graphql` is what clients review in diffs: it must never drift from the code.

    After a schema change: `licensing export-schema > schema.graphql`.
    """
    committed = (Path(__file__).resolve().parent.parent / "schema.graphql").read_text()
    assert export_sdl(build_schema()) == committed


def test_webhook_relaxations_are_warned_about_and_a_short_lease_refused(tmp_path: Path) -> None:
    env = environment(tmp_path)
    run("migrate", env=env)
    short = run("serve", "--port", str(free_port()), env={**env, "WEBHOOK_LEASE_SECONDS": "5"})
    assert short.returncode == 2
    assert short.stderr.count("\n") == 1, short.stderr
    assert "WEBHOOK_LEASE_SECONDS must be at least 16" in short.stderr
    relaxed = {**env, "WEBHOOK_ALLOWED_CIDRS": "127.0.0.0/8", "WEBHOOK_ALLOW_HTTP": "true"}
    port = free_port()
    with subprocess.Popen(
        [*LICENSING, "serve", "--port", str(port)],
        env=relaxed,
        stderr=subprocess.PIPE,
        text=True,
    ) as server:
        try:
            assert server.stderr is not None
            warnings = [_line_with(server.stderr, "WEBHOOK_ALLOWED_CIDRS")]
            warnings.append(_line_with(server.stderr, "WEBHOOK_ALLOW_HTTP"))
        finally:
            server.terminate()
    assert "may reach 127.0.0.0/8" in warnings[0]
    assert '"level": "WARNING"' in warnings[1]


def _line_with(stream: IO[str], text: str) -> str:
    """The first line of `stream` that holds `text` (the server is still starting)."""
    for line in stream:
        if text in line:
            return line
    raise AssertionError(f"no line holds {text}")
