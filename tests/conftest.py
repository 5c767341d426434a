"""Fixtures: the bot's real server on loopback, between a fake Slack and the AMP simulator."""

from __future__ import annotations

import os
import socket
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiohttp import web

from bot.app import create_app
from bot.services import SERVICES, Services
from bot.settings import Settings, load_settings
from bot.simulator import CrewSimulator
from tests.fakes.slack import FakeSlack, SlackRequests

SIGNING_SECRET = "test-signing-secret-0123456789"
BOT_TOKEN = "xoxb-test-token"
APP_TOKEN = "xapp-1-A1-test-token"
AMP_TOKEN = "amp-test-token-abcdef"
API_TOKEN = "api-test-token-abcdef"
WEBHOOK_TOKEN = "webhook-test-token-abcdef"
CHANNEL = "CREVIEWS"
REVIEWER = "UREVIEWER"

for _name in ("SLACK_CLIENT_ID", "SLACK_CLIENT_SECRET"):
    os.environ.pop(_name, None)


def free_socket() -> socket.socket:
    """A listening-ready TCP socket on loopback, bound to a free port."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


async def serve(
    app: web.Application, sock: socket.socket | None = None
) -> tuple[web.AppRunner, str]:
    """Serve `app` on loopback and return its runner and base URL."""
    sock = sock or free_socket()
    runner = web.AppRunner(app, shutdown_timeout=1.0)
    await runner.setup()
    site = web.SockSite(runner, sock)
    await site.start()
    host, port = sock.getsockname()[:2]
    return runner, f"http://{host}:{port}"


@dataclass
class Amp:
    """The AMP crew simulator, served on loopback."""

    sim: CrewSimulator
    url: str


@dataclass
class Bot:
    """The bot's server on loopback, restartable on the same database."""

    settings: Settings
    sock_port: int
    fake_slack: FakeSlack
    runner: web.AppRunner | None = None
    url: str = ""
    slack: SlackRequests | None = None
    http: httpx.AsyncClient = field(default_factory=lambda: httpx.AsyncClient(timeout=10))

    @property
    def services(self) -> Services:
        assert self.runner is not None
        return self.runner.app[SERVICES]

    @property
    def store(self) -> Any:
        return self.services.store

    async def start(self) -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", self.sock_port))
        self.runner, self.url = await serve(create_app(self.settings), sock)
        self.slack = SlackRequests(
            self.url + "/slack/events", SIGNING_SECRET, slack=self.fake_slack
        )

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()
            self.runner = None
        if self.slack is not None:
            await self.slack.aclose()
            self.slack = None

    async def restart(self) -> None:
        await self.stop()
        await self.start()

    async def api(self, path: str, body: Any, token: str = API_TOKEN) -> httpx.Response:
        return await self.http.post(
            self.url + path, json=body, headers={"Authorization": f"Bearer {token}"}
        )

    async def notify(
        self, payload: Any, *, token: str | None = WEBHOOK_TOKEN, path: str = "/amp/human-input"
    ) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return await self.http.post(self.url + path, json=payload, headers=headers)


def bot_settings(
    tmp_path: Path, *, slack_url: str, amp_url: str, port: int, **extra: Any
) -> Settings:
    values: dict[str, Any] = {
        "slack_bot_token": BOT_TOKEN,
        "slack_signing_secret": SIGNING_SECRET,
        "slack_api_url": slack_url,
        "slack_review_channel": CHANNEL,
        "crewai_url": amp_url,
        "crewai_token": AMP_TOKEN,
        "crewai_timeout": 2.0,
        "bot_public_url": f"http://127.0.0.1:{port}",
        "bot_api_token": API_TOKEN,
        "bot_webhook_token": WEBHOOK_TOKEN,
        "bot_database": tmp_path / "bot.db",
        "bot_retry_base": 0.05,
        "bot_retry_cap": 0.2,
        "_env_file": None,
    }
    values.update(extra)
    return load_settings(**values)


@pytest.fixture
async def slack() -> AsyncIterator[FakeSlack]:
    fake = FakeSlack(token=BOT_TOKEN, app_token=APP_TOKEN)
    await fake.start()
    yield fake
    await fake.stop()


@pytest.fixture
async def amp() -> AsyncIterator[Amp]:
    sim = CrewSimulator(token=AMP_TOKEN)
    runner, url = await serve(sim.web_app())
    yield Amp(sim, url)
    await runner.cleanup()


@pytest.fixture
def make_bot(tmp_path: Path, slack: FakeSlack, amp: Amp) -> Callable[..., Bot]:
    def make(**extra: Any) -> Bot:
        sock = free_socket()
        port = sock.getsockname()[1]
        sock.close()
        settings = bot_settings(
            tmp_path, slack_url=slack.base_url, amp_url=amp.url, port=port, **extra
        )
        return Bot(settings=settings, sock_port=port, fake_slack=slack)

    return make


@pytest.fixture
async def bot(make_bot: Callable[..., Bot]) -> AsyncIterator[Bot]:
    server = make_bot()
    await server.start()
    yield server
    await server.stop()
    await server.http.aclose()
