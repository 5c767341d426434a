"""What the bot knows of its Slack workspace: people's names and links to messages.

Both come from the Web API once and are kept: a name for a day, the workspace URL for as
long as the bot runs. A lookup that fails answers None and is tried again next time.
"""

from __future__ import annotations

import logging
import time

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

logger = logging.getLogger(__name__)

NAME_LIFETIME = 86400.0
MAX_NAMES = 5000


class Directory:
    """User names by id (`users.info`, cached) and message permalinks (`auth.test`, cached)."""

    def __init__(self, client: AsyncWebClient) -> None:
        self._client = client
        self._names: dict[str, tuple[str, float]] = {}
        self._workspace_url: str | None = None

    async def user_name(self, user_id: str) -> str | None:
        """The name people see for a user: display name, else real name, else user name."""
        cached = self._names.get(user_id)
        if cached is not None and cached[1] > time.monotonic():
            return cached[0]
        try:
            answer = await self._client.users_info(user=user_id)
        except (SlackApiError, aiohttp.ClientError, TimeoutError) as exc:
            logger.debug("users.info %s failed: %s", user_id, exc)
            return None
        user = answer.get("user") or {}
        profile = user.get("profile") or {}
        name = profile.get("display_name") or user.get("real_name") or user.get("name")
        if not isinstance(name, str) or not name:
            return None
        if len(self._names) >= MAX_NAMES:
            self._names.clear()
        self._names[user_id] = (name, time.monotonic() + NAME_LIFETIME)
        return name

    async def permalink(self, channel: str | None, ts: str | None) -> str | None:
        """A link to a message, built from the workspace URL; None when it cannot be known."""
        if not channel or not ts:
            return None
        base = await self._workspace()
        if base is None:
            return None
        return f"{base}archives/{channel}/p{ts.replace('.', '')}"

    async def _workspace(self) -> str | None:
        if self._workspace_url is None:
            try:
                answer = await self._client.auth_test()
            except (SlackApiError, aiohttp.ClientError, TimeoutError) as exc:
                logger.warning("auth.test failed; review links are left out: %s", exc)
                return None
            url = answer.get("url")
            if isinstance(url, str) and url.startswith("https://"):
                self._workspace_url = url if url.endswith("/") else url + "/"
        return self._workspace_url
