"""Run `licensing serve` as a separate process, the way it runs in production."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path
from types import TracebackType
from typing import IO

import httpx

from bench.dataset import SOAK_TODAY
from bench.smtp import free_port


def service_env(database_url: str, smtp_port: int, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": database_url,
        "SECRET_KEY": "bench-secret",
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": str(smtp_port),
        "PUBLIC_BASE_URL": "http://licensing.test",
        "LICENSING_TODAY": SOAK_TODAY,
        "LOG_LEVEL": "WARNING",
        **extra,
    }


class Service:
    """`licensing serve` on a free loopback port; with `workers` above 1, uvicorn's supervisor.

    `module` runs another server instead (`python -m MODULE ARGS... PORT`); `cpu` pins it.
    """

    def __init__(
        self,
        env: dict[str, str],
        workers: int = 1,
        log: Path | None = None,
        module: list[str] | None = None,
        cpu: int | None = None,
    ) -> None:
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        if module:
            self._command = [sys.executable, "-m", *module, str(self.port)]
        else:
            self._command = [sys.executable, "-m", "licensing", "serve", "--port", str(self.port)]
        if workers > 1:
            self._command += ["--workers", str(workers)]
        if cpu is not None:
            self._command = ["taskset", "-c", str(cpu), *self._command]
        self._env = env
        self._log = log
        self._process: subprocess.Popen[bytes] | None = None
        self._output: IO[bytes] | None = None
        # How the process ended after the SIGTERM of leaving the `with` (None: killed).
        self.returncode: int | None = None

    def __enter__(self) -> Service:
        self._output = self._log.open("ab") if self._log else None
        self._process = subprocess.Popen(  # noqa: S603 - our own CLI, arguments built here
            self._command,
            env=self._env,
            stdout=self._output or subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
        )
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        assert self._process is not None
        self._process.send_signal(signal.SIGTERM)
        try:
            self.returncode = self._process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        finally:
            if self._output is not None:
                self._output.close()

    async def exited(self, within: float = 30.0) -> int:
        """The exit status, once the process has ended (after a signal sent by the caller)."""
        assert self._process is not None
        deadline = asyncio.get_running_loop().time() + within
        while (status := self._process.poll()) is None:
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"licensing serve still runs after {within:g} s")
            await asyncio.sleep(0.05)
        self.returncode = status
        return status

    @property
    def pid(self) -> int:
        assert self._process is not None
        return self._process.pid

    def worker_pids(self) -> list[int]:
        """The supervisor's worker processes (multiprocessing spawn children), oldest first."""
        return sorted(pid for pid in _children(self.pid) if b"spawn_main" in _command_line(pid))

    async def until_healthy(self, within: float = 30.0, path: str = "/healthz") -> None:
        """Until `path` answers 200 (any answer at all when `path` is not /healthz)."""
        async with httpx.AsyncClient(timeout=2) as http:
            deadline = asyncio.get_running_loop().time() + within
            while asyncio.get_running_loop().time() < deadline:
                assert self._process is not None
                if self._process.poll() is not None:
                    raise RuntimeError(f"licensing serve exited with {self._process.returncode}")
                try:
                    response = await http.get(f"{self.base_url}{path}")
                    if response.status_code == 200 or path != "/healthz":
                        return
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.1)
        raise RuntimeError(f"licensing serve was not healthy within {within:.0f} s")


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # Field 4 of /proc/PID/stat is the parent pid; the command name before it may hold spaces.
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        if parent == pid:
            found.append(int(entry.name))
    return found


def _command_line(pid: int) -> bytes:
    try:
        return (Path("/proc") / str(pid) / "cmdline").read_bytes()
    except OSError:
        return b""
