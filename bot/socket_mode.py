"""Slack traffic over Socket Mode: a websocket the bot opens, instead of requests to its URL.

With an app-level token (`xapp-`, scope `connections:write`) the bot asks Slack for a
websocket URL (`apps.connections.open`) and receives events, interactions and slash commands
on it; each envelope is acked on the same socket. Slack's websocket is authenticated by the
token, so no request signature is checked, and Slack needs no public URL of the bot.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

logger = logging.getLogger(__name__)


class SocketMode:
    """The Socket Mode connection of the Bolt app; it connects in the background and reconnects.

    Create it inside the running event loop: the Socket Mode client starts a task of its own.
    """

    def __init__(
        self, bolt: AsyncApp, *, app_token: str, client: AsyncWebClient, ping_interval: float = 10
    ) -> None:
        self._handler = AsyncSocketModeHandler(
            bolt, app_token=app_token, web_client=client, ping_interval=ping_interval
        )
        self._connecting: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Start connecting; a Slack that cannot be reached yet does not hold up the start."""
        self._connecting = asyncio.create_task(self._connect(), name="socket-mode")

    async def stop(self, grace: float = 1.0) -> None:
        """Close the websocket, waiting up to `grace` seconds for Slack to answer the close."""
        if self._connecting is not None and not self._connecting.done():
            self._connecting.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._connecting
        try:
            await asyncio.wait_for(
                self._handler.close_async(),  # type: ignore[no-untyped-call]
                grace,
            )
        except TimeoutError:
            logger.warning("Socket Mode: Slack did not answer the close within %.0fs", grace)
            return
        logger.info("Socket Mode: disconnected from Slack")

    async def connected(self) -> bool:
        """Whether the websocket to Slack is open and answering pings."""
        return bool(await self._handler.client.is_connected())

    async def _connect(self) -> None:
        # The client retries on its own until it connects or is closed.
        await self._handler.connect_async()  # type: ignore[no-untyped-call]
        logger.info("Socket Mode: connected to Slack")
