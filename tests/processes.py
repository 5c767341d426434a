"""The bot as a real process (`python -m bot`) between the loopback fakes: kill it, restart it."""

from __future__ import annotations

import asyncio
import signal
import sqlite3
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx

from tests.conftest import (
    AMP_TOKEN,
    API_TOKEN,
    BOT_TOKEN,
    CHANNEL,
    REVIEWER,
    SIGNING_SECRET,
    WEBHOOK_TOKEN,
    Amp,
    free_socket,
)
from tests.fakes.slack import FakeSlack, Message, SlackRequests
from tests.flows import review_id_of
from tests.test_cli import clean_env


class BotProcess:
    """One bot, run as a process again and again on the same database and port."""

    def __init__(self, workdir: Path, slack: FakeSlack, amp: Amp, **settings: str) -> None:
        sock = free_socket()
        self.port = int(sock.getsockname()[1])
        sock.close()
        self.url = f"http://127.0.0.1:{self.port}"
        self.workdir = workdir
        self.database = workdir / "bot.db"
        self.log_path = workdir / "bot.log"
        self.env = clean_env(
            SLACK_BOT_TOKEN=BOT_TOKEN,
            SLACK_SIGNING_SECRET=SIGNING_SECRET,
            SLACK_API_URL=slack.base_url,
            SLACK_REVIEW_CHANNEL=CHANNEL,
            CREWAI_URL=amp.url,
            CREWAI_TOKEN=AMP_TOKEN,
            CREWAI_TIMEOUT="2",
            BOT_PUBLIC_URL=self.url,
            BOT_API_TOKEN=API_TOKEN,
            BOT_WEBHOOK_TOKEN=WEBHOOK_TOKEN,
            BOT_DATABASE=str(self.database),
            BOT_HOST="127.0.0.1",
            BOT_PORT=str(self.port),
            BOT_RETRY_BASE="0.05",
            BOT_RETRY_CAP="0.2",
            **settings,
        )
        self.slack = SlackRequests(self.url + "/slack/events", SIGNING_SECRET, slack=slack)
        self.http = httpx.AsyncClient(timeout=10)
        self.process: asyncio.subprocess.Process | None = None
        self.exit_codes: list[int] = []

    async def start(self) -> None:
        """Start the process and wait until it answers /healthz."""
        with self.log_path.open("ab") as log:
            self.process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "bot",
                env=self.env,
                cwd=self.workdir,
                stdout=asyncio.subprocess.DEVNULL,
                stderr=log,
            )
        for _ in range(300):
            if self.process.returncode is not None:
                raise RuntimeError(f"the bot exited at start:\n{self.logs()}")
            try:
                if (await self.http.get(self.url + "/healthz")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.05)
        raise TimeoutError("the bot did not become healthy")

    async def kill(self) -> None:
        """`kill -9`: no cleanup of any kind runs."""
        await self._stop(signal.SIGKILL)

    async def terminate(self) -> int:
        """SIGTERM, and the exit status once the process is gone."""
        await self._stop(signal.SIGTERM)
        return self.exit_codes[-1]

    async def restart_after_kill(self) -> None:
        await self.kill()
        await self.start()

    async def _stop(self, signum: int) -> None:
        assert self.process is not None
        self.process.send_signal(signum)
        code = await asyncio.wait_for(self.process.wait(), 15)
        self.exit_codes.append(code)
        self.process = None

    async def close(self) -> None:
        if self.process is not None and self.process.returncode is None:
            await self.kill()
        await self.slack.aclose()
        await self.http.aclose()

    def logs(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def query(self, sql: str, *args: Any) -> list[sqlite3.Row]:
        """Read the bot's database as it is on disk, from outside the process."""
        with sqlite3.connect(self.database, timeout=5) as db:
            db.row_factory = sqlite3.Row
            return list(db.execute(sql, args))

    def delivery(self, review_id: str) -> str | None:
        rows = self.query("SELECT delivery FROM reviews WHERE id = ?", review_id)
        return str(rows[0]["delivery"]) if rows else None

    async def api(self, path: str, body: Any) -> httpx.Response:
        return await self.http.post(
            self.url + path, json=body, headers={"Authorization": f"Bearer {API_TOKEN}"}
        )

    async def click(self, message: Message, action_id: str, *, user: str = REVIEWER) -> None:
        response = await self.slack.block_action(
            user=user,
            action_id=action_id,
            value=review_id_of(message),
            channel=message.channel,
            message_ts=message.ts,
        )
        assert response.status_code == 200, response.text


@asynccontextmanager
async def bot_process(
    workdir: Path, slack: FakeSlack, amp: Amp, **settings: str
) -> AsyncIterator[BotProcess]:
    """A started bot process, killed at the end if it still runs."""
    bot = BotProcess(workdir, slack, amp, **settings)
    try:
        await bot.start()
        yield bot
    finally:
        await bot.close()
