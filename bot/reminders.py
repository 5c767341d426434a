"""Reminders and expiry of reviews that wait: a background loop the lifespan starts and stops.

A pending review gets a reminder in its thread once it has waited `remind_after` seconds, and a
second one `remind_again_after` seconds later; where `expire_after` is set, it expires after
that long. Each reminder or expiry is one store transaction together with the outbox job that
shows it, and the number of reminders sent is kept with the review, so that a restart never
repeats one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass

from bot import jobs
from bot.listings import age
from bot.records import Review
from bot.reviews import ReviewService

logger = logging.getLogger(__name__)

BATCH = 100


@dataclass(frozen=True)
class Timing:
    """When reviews are reminded and expired, in seconds; 0 or None turns a step off."""

    remind_after: float = 3600.0
    remind_again_after: float = 14400.0
    expire_after: float | None = None

    @property
    def active(self) -> bool:
        return bool(self.remind_after) or self.expire_after is not None

    @property
    def tick(self) -> float:
        """How often to look: often enough for the shortest setting, at most every 30 s."""
        steps = [self.remind_after, self.remind_again_after, self.expire_after or 0.0]
        shortest = min((step for step in steps if step > 0), default=120.0)
        return max(0.05, min(30.0, shortest / 4))


class Reminders:
    """The loop that reminds reviewers of reviews that wait, and expires them where set."""

    def __init__(
        self, service: ReviewService, timing: Timing, *, reviewers: Sequence[str] = ()
    ) -> None:
        self._service = service
        self._store = service.store
        self._timing = timing
        self._mentions = " ".join(_mention(reviewer) for reviewer in reviewers)
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        if self._timing.active:
            self._task = asyncio.create_task(self._loop(), name="reminders")

    async def stop(self) -> None:
        self._stopping.set()
        if self._task is not None:
            await self._task

    async def run_once(self, now: float | None = None) -> None:
        """Expire, then remind, what is due at `now`; at most `BATCH` reviews of each."""
        now = time.time() if now is None else now
        timing = self._timing
        if timing.expire_after is not None:
            for review in await self._store.reviews_to_expire(
                before=now - timing.expire_after, limit=BATCH
            ):
                await self._expire(review)
        if not timing.remind_after:
            return
        waits = [timing.remind_after]
        if timing.remind_again_after:
            waits.append(timing.remind_after + timing.remind_again_after)
        for sent, wait in enumerate(waits):
            for review in await self._store.reviews_to_remind(
                sent=sent, before=now - wait, limit=BATCH
            ):
                await self._remind(review, sent, now)

    async def _loop(self) -> None:
        while not self._stopping.is_set():
            try:
                await self.run_once()
            except Exception:
                logger.exception("Reminders: looking for due reviews failed; trying again")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self._timing.tick)

    async def _expire(self, review: Review) -> None:
        if await self._store.expire(review.id, jobs=self._service.update_job(review)):
            logger.info(
                "Review %s expired after %s with no decision (task_id=%s)",
                review.id,
                age(time.time() - review.created_at),
                review.task_id,
            )

    async def _remind(self, review: Review, sent: int, now: float) -> None:
        assert review.channel is not None
        waited = age(now - review.created_at)
        again = "Still waiting" if sent else "Waiting"
        text = (
            f"⏰ {self._mentions + ' ' if self._mentions else ''}{again} for a decision for"
            f" {waited}. Reply in this thread to ask for a revision, reply `approve` to"
            " approve, or use the buttons above."
        )
        notice = jobs.post_notice(
            review.channel,
            text,
            deadline=self._service.deadlines.slack,
            thread_ts=review.thread_ts or review.message_ts,
            key=review.id,
        )
        if await self._store.mark_reminded(review.id, sent=sent, jobs=[notice]):
            logger.info("Review %s: reminder %d posted after %s", review.id, sent + 1, waited)


def _mention(reviewer: str) -> str:
    return f"<!subteam^{reviewer}>" if reviewer.startswith("S") else f"<@{reviewer}>"
