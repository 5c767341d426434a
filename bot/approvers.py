"""Who may decide a review: the configured approvers, per channel, and never oneself if so set.

Approvers are Slack user IDs and user-group IDs. A group's members are read with
`usergroups.users.list` and kept for a short while; when Slack cannot say who is in a group,
the reviewer is refused with a reason rather than let through.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable, Mapping

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.records import Execution, Review
from bot.states import DecisionKind

logger = logging.getLogger(__name__)

GROUP_TTL = 60.0
LOOKUP_TIMEOUT = 2.0

NOT_AN_APPROVER = "only the approvers set for this channel may decide its reviews."
SELF_APPROVAL = "you started this execution, so someone else must approve it."
LOOKUP_FAILED = (
    "I could not check with Slack who is in the approver groups just now; try again in a minute."
)


class GroupLookupError(Exception):
    """Slack did not say who is in a user group."""


class Approvers:
    """The authorizer of the review core when approvers are configured."""

    def __init__(
        self,
        client: AsyncWebClient,
        *,
        approvers: Iterable[str] = (),
        per_channel: Mapping[str, Iterable[str]] | None = None,
        forbid_self_approval: bool = False,
        ttl: float = GROUP_TTL,
        timeout: float = LOOKUP_TIMEOUT,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self._approvers = frozenset(approvers)
        per_channel = per_channel or {}
        self._per_channel = {channel: frozenset(ids) for channel, ids in per_channel.items()}
        self._forbid_self_approval = forbid_self_approval
        self._ttl = ttl
        self._timeout = timeout
        self._clock = clock
        self._members: dict[str, tuple[float, frozenset[str]]] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    async def refusal(
        self,
        reviewer: str,
        review: Review,
        execution: Execution,
        *,
        kind: DecisionKind | None = None,
    ) -> str | None:
        if (
            self._forbid_self_approval
            and kind is DecisionKind.APPROVE
            and execution.started_by == reviewer
        ):
            return SELF_APPROVAL
        allowed = self.approvers_of(review.channel or execution.channel)
        if not allowed or reviewer in allowed:
            return None
        unchecked = False
        for group in sorted(approver for approver in allowed if approver.startswith("S")):
            try:
                if reviewer in await self.members(group):
                    return None
            except GroupLookupError as exc:
                logger.warning(
                    "Review %s: cannot check approver group %s for %s: %s",
                    review.id,
                    group,
                    reviewer,
                    exc,
                )
                unchecked = True
        return LOOKUP_FAILED if unchecked else NOT_AN_APPROVER

    def approvers_of(self, channel: str) -> frozenset[str]:
        """The approvers of a channel's reviews; empty when anyone may decide them."""
        return self._per_channel.get(channel, self._approvers)

    async def members(self, group: str) -> frozenset[str]:
        """The user IDs in a user group, from Slack or from a recent answer.

        Concurrent lookups of one group wait for a single call to Slack.
        """
        lock = self._locks.setdefault(group, asyncio.Lock())
        async with lock:
            cached = self._members.get(group)
            if cached is not None and cached[0] > self._clock():
                return cached[1]
            members = await self._lookup(group)
            self._members[group] = (self._clock() + self._ttl, members)
            return members

    async def _lookup(self, group: str) -> frozenset[str]:
        try:
            answer = await asyncio.wait_for(
                self._client.usergroups_users_list(usergroup=group), self._timeout
            )
        except SlackApiError as exc:
            error = str(exc.response.get("error") or exc.response.status_code)
            if error == "no_such_subteam":
                logger.warning("Approver group %s does not exist; it approves nobody", group)
                return frozenset()
            raise GroupLookupError(f"Slack answered {error}") from None
        except TimeoutError:
            raise GroupLookupError("Slack did not answer in time") from None
        except aiohttp.ClientError as exc:
            raise GroupLookupError(f"Slack unreachable: {type(exc).__name__}") from None
        users = answer.get("users")
        return frozenset(str(user) for user in users) if isinstance(users, list) else frozenset()
