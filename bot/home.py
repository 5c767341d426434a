"""The Home tab: the reviews that wait (with Approve and Revise), the user's recent decisions,
and the executions the user started.

Opening the tab publishes it; after any review changes state (posted, decided, delivered,
expired), the tabs of the users who opened theirs in the last `VIEWER_WINDOW` seconds are
published again, one coalesced outbox job per user. Its buttons are the review message's
own, so they work exactly like them.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterable
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.models.blocks import (
    Block,
    ContextBlock,
    DividerBlock,
    HeaderBlock,
    MarkdownTextObject,
    PlainTextObject,
    SectionBlock,
)
from slack_sdk.models.views import View

from bot import blocks, mrkdwn
from bot.directory import Directory
from bot.listings import Actions, execution_line, page_blocks, trail_line
from bot.poster import Poster
from bot.records import Job
from bot.reviews import ReviewService
from bot.services import Services
from bot.store import JobSpec, Store

logger = logging.getLogger(__name__)

PUBLISH_HOME = "publish_home"
HOME_PAGE = "home_page"
VIEWER_WINDOW = 86400.0
RECENT = 10

_ACTIONS = Actions(approve=blocks.APPROVE, revise=blocks.REVISE, page=HOME_PAGE)


def publish_job(user: str, *, deadline: float) -> JobSpec:
    """Publish a user's Home tab from the store; one waiting job per user is enough."""
    return JobSpec(
        PUBLISH_HOME, user, f"home:{user}", deadline=time.time() + deadline, coalesce=True
    )


class HomeTab:
    """The Home tab's listeners: opening the tab publishes it, its paging buttons turn pages."""

    def __init__(self, services: Services) -> None:
        self._store = services.store
        self._deadline = services.reviews.deadlines.slack

    def register(self, app: AsyncApp) -> None:
        app.event("app_home_opened")(self.opened)
        app.action(re.compile(f"^{HOME_PAGE}_"))(self.turn_page)

    async def opened(self, event: dict[str, Any]) -> None:
        user = event.get("user")
        if event.get("tab", "home") != "home" or not isinstance(user, str):
            return
        await self._store.home_viewed(user)
        await self._store.enqueue([publish_job(user, deadline=self._deadline)])

    async def turn_page(self, ack: AsyncAck, body: dict[str, Any], action: dict[str, Any]) -> None:
        await ack()
        user = body["user"]["id"]
        value = str(action.get("value", ""))
        await self._store.home_viewed(user, page=int(value) if value.isdigit() else 0)
        await self._store.enqueue([publish_job(user, deadline=self._deadline)])


class HomePublisher:
    """The outbox handler that publishes one user's Home tab, and the jobs that refresh tabs."""

    def __init__(self, service: ReviewService, poster: Poster, directory: Directory) -> None:
        self._service = service
        self._store = service.store
        self._poster = poster
        self._directory = directory

    async def publish(self, job: Job) -> None:
        user = job.key
        page = await self._store.home_page(user)
        view = await home_view(self._store, self._directory, user, page=page)
        await self._poster.call("views_publish", user_id=user, view=view.to_dict())
        logger.debug("Home tab of %s published (page %d)", user, page + 1)

    async def follow_ups(self, job: Job) -> Iterable[JobSpec]:
        """After a review changed state, the Home tabs of everyone who looked lately."""
        users = await self._store.home_viewers(since=time.time() - VIEWER_WINDOW)
        deadline = self._service.deadlines.slack
        return [publish_job(user, deadline=deadline) for user in users]


async def home_view(store: Store, directory: Directory, user: str, *, page: int) -> View:
    """The Home tab of `user`, showing `page` (0-based) of the reviews that wait."""
    view_blocks: list[Block] = [
        HeaderBlock(text=PlainTextObject(text="Reviews waiting for a decision")),
        ContextBlock(
            elements=[
                MarkdownTextObject(
                    text="*Approve* sends the output on; *Revise* asks the crew to redo it "
                    "with your feedback. You can also reply in a review's thread."
                )
            ]
        ),
        *await page_blocks(store, directory, page, actions=_ACTIONS),
        DividerBlock(),
        HeaderBlock(text=PlainTextObject(text="Your recent decisions")),
        _lines(
            [
                trail_line(entry, execution=True)
                for entry in await store.decision_trail(reviewer=user, limit=RECENT)
            ]
        ),
        DividerBlock(),
        HeaderBlock(text=PlainTextObject(text="Executions you started")),
        _lines(
            [
                execution_line(execution)
                for execution in await store.executions_started_by(user, limit=RECENT)
            ]
        ),
    ]
    return View(type="home", blocks=view_blocks)


def _lines(lines: list[str]) -> SectionBlock:
    text = "\n".join(f"• {line}" for line in lines) if lines else "_None yet._"
    return SectionBlock(text=MarkdownTextObject(text=mrkdwn.truncate(text, blocks.SECTION_LIMIT)))
