"""Schema fuzzing: schemathesis generates operations against a live `licensing serve`."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx

from bench.smtp import free_port

FUZZ_EXAMPLES = os.environ.get("FUZZ_EXAMPLES", "25")
SCHEMATHESIS = Path(sys.executable).with_name("schemathesis")


def test_no_generated_operation_gets_a_server_error(database_url: str, tmp_path: Path) -> None:
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "SECRET_KEY": "s",
        "RATE_LIMIT_ENABLED": "false",
        "LOG_LEVEL": "WARNING",
    }
    licensing = [sys.executable, "-m", "licensing"]
    fixture = Path(__file__).resolve().parent.parent / "licensing" / "demo_fixture.json"
    subprocess.run(
        [*licensing, "load", str(fixture)],
        env=env,
        check=True,
        capture_output=True,
    )
    # Every scope, so every operation runs (the core product's activity reports included).
    scopes = ["--scope", "licenses:read", "--scope", "licenses:write", "--scope", "activity:write"]
    token = subprocess.run(
        [*licensing, "token", "create", "--email", "olivia@acme-heating.example", *scopes],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    port = free_port()
    log = tmp_path / "server.log"
    with (
        log.open("w") as output,
        subprocess.Popen(
            [*licensing, "serve", "--port", str(port)], env=env, stdout=output, stderr=output
        ) as server,
    ):
        try:
            url = f"http://127.0.0.1:{port}"
            _until_healthy(url)
            fuzz = subprocess.run(
                [
                    str(SCHEMATHESIS),
                    "run",
                    f"{url}/graphql",
                    "-H",
                    f"Authorization: Bearer {token}",
                    "-n",
                    FUZZ_EXAMPLES,
                    "--checks",
                    "not_a_server_error",
                    "--seed",
                    "42",
                ],
                capture_output=True,
                text=True,
                timeout=170,
                check=False,
                env={**os.environ, "NO_COLOR": "1"},
            )
        finally:
            server.terminate()
            server.wait(timeout=30)
    assert fuzz.returncode == 0, fuzz.stdout[-3000:] + "\nserver log:\n" + log.read_text()[-3000:]
    assert "No issues found" in fuzz.stdout


def _until_healthy(url: str, within: float = 60.0) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/healthz").status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    raise AssertionError(f"licensing serve was not healthy within {within:.0f} s")
