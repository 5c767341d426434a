"""Slack events handled once, however often Slack delivers them.

Slack sends an event again (with `X-Slack-Retry-Num`) when an earlier delivery was not acked in
time, and Bolt does not de-duplicate. Each `event_id` is remembered in the store for a while; a
delivery whose id was seen is acked and goes no further. The check runs as a Bolt middleware,
after Bolt has verified the request's signature, so only Slack can fill the record.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse

from bot.store import Store

logger = logging.getLogger(__name__)

KEEP = 3600.0


class SeenEvents:
    """The Bolt middleware that lets each Slack event through once."""

    def __init__(self, store: Store, *, keep: float = KEEP) -> None:
        self._store = store
        self._keep = keep

    async def middleware(
        self,
        body: dict[str, Any],
        request: AsyncBoltRequest,
        next: Callable[[], Awaitable[None]],
    ) -> BoltResponse | None:
        event_id = body.get("event_id") if body.get("type") == "event_callback" else None
        if not isinstance(event_id, str) or not event_id:
            await next()
            return None
        if await self._store.first_sight(event_id, keep=self._keep):
            await next()
            return None
        retry = request.headers.get("x-slack-retry-num", ["-"])[0]
        logger.info("Slack event %s delivered again (retry %s); handled already", event_id, retry)
        return BoltResponse(status=200, body="")
