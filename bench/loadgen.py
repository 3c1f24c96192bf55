"""Driving a server: wrk (Debian's package) with a generated Lua script, or a Python fallback.

Also what the benchmark reads off the server process: CPU time and resident memory.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0, "h": 3_600_000.0}


@dataclass(frozen=True)
class Run:
    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    failed: int  # non-2xx answers and socket errors
    cpu_ms_per_request: float = 0.0

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    @classmethod
    def of(cls, latencies_ms: list[float], seconds: float, failed: int) -> Run:
        ordered = sorted(latencies_ms)
        return cls(
            requests=len(ordered),
            seconds=seconds,
            p50_ms=ordered[len(ordered) // 2],
            p99_ms=ordered[min(len(ordered) - 1, len(ordered) * 99 // 100)],
            failed=failed,
        )


@dataclass(frozen=True)
class Load:
    """What to send: POST bodies taken in turn, with the same headers each time."""

    url: str
    bodies: list[str]
    headers: dict[str, str]


def has_wrk() -> bool:
    return shutil.which("wrk") is not None


def lua_script(load: Load) -> str:
    """A wrk script that sends the bodies in turn (long brackets: no escaping needed)."""
    headers = "".join(f'wrk.headers["{k}"] = [==[{v}]==]\n' for k, v in load.headers.items())
    bodies = ",\n".join(f"[==[{body}]==]" for body in load.bodies)
    return (
        'wrk.method = "POST"\n'
        f"{headers}"
        f"local bodies = {{\n{bodies}\n}}\n"
        "local next_body = 0\n"
        "request = function()\n"
        "  next_body = next_body % #bodies + 1\n"
        "  return wrk.format(nil, nil, nil, bodies[next_body])\n"
        "end\n"
    )


def run_wrk(load: Load, connections: int, seconds: float, cpu: int | None) -> Run:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(lua_script(load))
    duration = max(1, round(seconds))  # wrk takes whole seconds
    command = ["wrk", "-t1", f"-c{connections}", f"-d{duration}s", "--latency", "--timeout", "10s"]
    command += ["-s", script.name, load.url]
    if cpu is not None:
        command = ["taskset", "-c", str(cpu), *command]
    try:
        output = subprocess.run(  # noqa: S603 - wrk with arguments built here
            command, capture_output=True, text=True, check=True
        ).stdout
    finally:
        Path(script.name).unlink()
    return parse_wrk(output)


def _milliseconds(text: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m|h)", text).groups()  # type: ignore[union-attr]
    return float(number) * UNITS[unit]


def parse_wrk(output: str) -> Run:
    found = re.search(r"(\d+) requests in ([\d.]+(?:us|ms|s|m|h)),", output)
    if found is None:
        raise RuntimeError(f"wrk printed no summary:\n{output}")
    requests, seconds = int(found[1]), _milliseconds(found[2]) / 1000
    percentiles = dict(re.findall(r"^\s+(50|99)%\s+(\S+)\s*$", output, re.MULTILINE))
    if len(percentiles) != 2:
        raise RuntimeError(f"wrk printed no latency distribution:\n{output}")
    failed = sum(int(n) for n in re.findall(r"Non-2xx or 3xx responses: (\d+)", output))
    socket_errors = re.search(r"Socket errors: ([\w ,]+)", output)
    if socket_errors:
        failed += sum(int(n) for n in re.findall(r"\d+", socket_errors[1]))
    return Run(
        requests=requests,
        seconds=seconds,
        p50_ms=_milliseconds(percentiles["50"]),
        p99_ms=_milliseconds(percentiles["99"]),
        failed=failed,
    )


async def run_python(load: Load, connections: int, seconds: float) -> Run:
    """A closed-loop async client: fine for checking that things work, not for figures."""
    latencies: list[float] = []
    failed = 0
    deadline = time.monotonic() + seconds

    async def client(http: httpx.AsyncClient, offset: int) -> None:
        nonlocal failed
        turn = offset
        while time.monotonic() < deadline:
            body = load.bodies[turn % len(load.bodies)]
            turn += 1
            started = time.monotonic()
            response = await http.post(load.url, content=body, headers=load.headers)
            latencies.append((time.monotonic() - started) * 1000)
            failed += response.status_code >= 300

    started = time.monotonic()
    async with httpx.AsyncClient(timeout=30) as http:
        await asyncio.gather(*(client(http, n) for n in range(connections)))
    return Run.of(latencies, time.monotonic() - started, failed)


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time the process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def memory_kib(pid: int) -> tuple[int, int]:
    """(resident now, peak resident) of the process, in KiB."""
    status = Path(f"/proc/{pid}/status").read_text()
    values = dict(re.findall(r"^(VmRSS|VmHWM):\s+(\d+) kB$", status, re.MULTILINE))
    return int(values["VmRSS"]), int(values["VmHWM"])
