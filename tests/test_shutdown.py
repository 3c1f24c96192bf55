"""A SIGTERM to a live `licensing serve`: what is under way finishes, then it exits with 0."""

from __future__ import annotations

import asyncio
import json
import os
import signal
from pathlib import Path

import httpx

from bench.live import LiveClient
from bench.scrape import total
from bench.service import Service
from bench.smtp import SmtpServer
from bench.soak_metrics import scrape_service
from licensing.db import orm
from models.outbox import EmailStatus, OutboxEmail
from services.global_ids import encode_id
from tests.test_logs import logged_env, owner_token

BUY = """mutation($c: ID!) { purchaseLicenses(input: {contractId: $c, kind: MONTHLY,
  quantity: 1}) { purchase { id } userErrors { code } } }"""
VIEWER = json.dumps({"query": "query Viewer { viewer { name } }"}).encode()


async def _until_logged(log: Path, text: str, within: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + within
    while text not in await asyncio.to_thread(log.read_text):
        assert asyncio.get_running_loop().time() < deadline, f"never logged: {text}"
        await asyncio.sleep(0.05)


class SlowRequest:
    """A POST whose body comes in two halves, over a raw connection: in flight meanwhile."""

    def __init__(self, port: int, token: str) -> None:
        self.port = port
        self.token = token
        self.half = len(VIEWER) // 2

    async def start(self) -> None:
        self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        head = (
            f"POST /graphql HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            f"Authorization: Bearer {self.token}\r\nContent-Length: {len(VIEWER)}\r\n\r\n"
        )
        self.writer.write(head.encode() + VIEWER[: self.half])
        await self.writer.drain()

    async def finish(self) -> tuple[int, dict[str, object]]:
        self.writer.write(VIEWER[self.half :])
        await self.writer.drain()
        answer = await asyncio.wait_for(self.reader.read(), timeout=10)  # until the server closes
        self.writer.close()
        head, _, body = answer.partition(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        return status, json.loads(body)


async def test_sigterm_finishes_the_request_and_the_email_under_way_closes_sockets_1012(
    database_url: str, smtp: SmtpServer, tmp_path: Path
) -> None:
    token = await owner_token(database_url)
    log = tmp_path / "service.log"
    env = logged_env(database_url, smtp, OUTBOX_POLL_SECONDS="0.05")
    smtp.hold()
    with Service(env, log=log) as service:
        await service.until_healthy()
        async with LiveClient.connected(service.base_url, token) as live:
            await live.subscribe()
            await live.change()
            # Counted as it started, while it lasts.
            subscribed = await scrape_service(service.base_url)
            started = {"operation_type": "subscription", "outcome": "ok"}
            assert total(subscribed, "licensing_graphql_requests_total", **started) == 1
            await _buy(service, token)
            await smtp.until_a_message_is_held()
            slow = SlowRequest(service.port, token)
            await slow.start()
            # A later request answered: the server has read the slow one's headers by now.
            await service.until_healthy()

            os.kill(service.pid, signal.SIGTERM)
            await _until_logged(log, "shutting down")
            assert await live.closed() == (1012, "")
            status, body = await slow.finish()
            assert status == 200
            assert body["data"] == {"viewer": {"name": "Olivia Owner"}}
            smtp.release()
            assert await service.exited() == 0

    assert len(smtp.inbox) == 1
    async with orm(database_url):
        [sent] = await OutboxEmail.all()
        assert sent.status == EmailStatus.SENT
    lines = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
    assert lines[-1]["message"] == "stopped"
    assert not [line for line in lines if line["level"] == "ERROR"]


async def _buy(service: Service, token: str) -> None:
    async with httpx.AsyncClient(base_url=service.base_url, timeout=10) as http:
        answer = await http.post(
            "/graphql",
            json={"query": BUY, "variables": {"c": encode_id("Contract", 1)}},
            headers={"Authorization": f"Bearer {token}"},
        )
    assert answer.json()["data"]["purchaseLicenses"]["userErrors"] == []
