"""The parts of a running bot that the inbound adapters use, kept on the aiohttp app."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any, TypeVar

from aiohttp import web
from slack_sdk.web.async_client import AsyncWebClient

from bot.crewai import CrewAIClient
from bot.directory import Directory
from bot.metrics import Metrics
from bot.outbox import Outbox
from bot.reviews import ReviewService
from bot.settings import Settings
from bot.store import Store

logger = logging.getLogger(__name__)

T = TypeVar("T")


class Inflight:
    """Work started after a Slack ack, which a stop waits for instead of cutting it off.

    Bolt runs the rest of a listener after `ack()` in a task it does not keep; work that must
    not be lost runs through `run`, which holds a strong reference and shields it.
    """

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()

    async def run(self, work: Coroutine[Any, Any, T]) -> T:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return await asyncio.shield(task)

    async def drain(self, grace: float) -> None:
        """Wait up to `grace` seconds for the work under way."""
        if self._tasks:
            _, late = await asyncio.wait(set(self._tasks), timeout=grace)
            if late:
                logger.warning("Stopping with %d listener task(s) unfinished", len(late))


@dataclass
class Services:
    """Everything a request handler may reach: the store, the domain core and the clients."""

    settings: Settings
    store: Store
    reviews: ReviewService
    crewai: CrewAIClient
    slack: AsyncWebClient
    outbox: Outbox
    inflight: Inflight
    directory: Directory
    metrics: Metrics = field(default_factory=Metrics)


SERVICES = web.AppKey("services", Services)
