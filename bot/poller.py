"""Polling AMP's status of the executions the bot started, for pauses no notification told of.

AMP's human-input notification may never arrive (a firewall, a wrong `BOT_PUBLIC_URL`). While
an execution the bot kicked off runs, the poller reads its status, backing off from
`BOT_POLL_INTERVAL` to `BOT_POLL_MAX_INTERVAL` while the status stays the same. A pause for
human input becomes a review through `ReviewService.receive`, the path of a notification, so a
notification that arrives later with the same output is a duplicate; the review's thread says
the pause was learned by polling. A finished execution is finished as its crew webhook would
finish it, and is not polled again.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
from dataclasses import dataclass

from bot import jobs, mrkdwn
from bot.crewai import CrewAIError, CrewAIUnavailable, Status
from bot.payloads import PayloadError, parse_crew_result, parse_notification
from bot.records import Execution
from bot.services import Services

logger = logging.getLogger(__name__)

POLLED_SOURCE = "kickoff"

LEARNED_BY_POLLING = (
    ":mag: I learned of this pause by polling AMP's status: its human-input notification did not"
    " reach me. Check that AMP can reach `BOT_PUBLIC_URL` (run `python -m bot check`)."
)


@dataclass
class _Watch:
    """When an execution is polled next, how long its interval is, and the state last seen."""

    next_at: float
    interval: float
    state: str | None = None


class Poller:
    """Polls the running executions the bot kicked off, each on its own backoff."""

    def __init__(
        self, services: Services, *, interval: float, max_interval: float, deadline: float
    ) -> None:
        self._services = services
        self._store = services.store
        self._interval = interval
        self._max_interval = max(interval, max_interval)
        self._deadline = deadline
        self._watches: dict[str, _Watch] = {}
        self._given_up: set[str] = set()
        self._told: set[str] = set()
        self._task: asyncio.Task[None] | None = None

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    async def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="poller")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def poll_due(self, now: float | None = None) -> list[str]:
        """One round: poll each watched execution whose time has come; the ids polled."""
        now = time.time() if now is None else now
        running = await self._store.running_executions(source=POLLED_SOURCE)
        live = {execution.ref for execution in running}
        self._watches = {ref: watch for ref, watch in self._watches.items() if ref in live}

        due = []
        for execution in running:
            if execution.ref in self._given_up or not self._within_deadline(execution, now):
                continue
            first_at = execution.created_at + self._interval
            watch = self._watches.setdefault(
                execution.ref, _Watch(next_at=first_at, interval=self._interval)
            )
            if watch.next_at <= now:
                due.append(execution)
        await asyncio.gather(*(self._poll(execution, now) for execution in due))
        return [execution.label for execution in due]

    async def _loop(self) -> None:
        tick = max(0.01, min(self._interval, 1.0))
        while True:
            try:
                await self.poll_due()
            except Exception:
                logger.exception("Poller: a round failed; trying again")
            await asyncio.sleep(tick)

    def _within_deadline(self, execution: Execution, now: float) -> bool:
        if now - execution.created_at <= self._deadline:
            return True
        self._given_up.add(execution.ref)
        logger.info(
            "Poller: execution_id=%s started over %.0fs ago; no longer polling it",
            execution.label,
            self._deadline,
        )
        return False

    async def _poll(self, execution: Execution, now: float) -> None:
        assert execution.execution_id is not None
        watch = self._watches[execution.ref]
        try:
            status = await self._services.crewai.status(execution.execution_id)
        except CrewAIError as exc:
            if exc.status == 404:
                self._given_up.add(execution.ref)
                logger.warning(
                    "Poller: AMP does not know execution_id=%s (404); no longer polling it",
                    execution.label,
                )
            else:
                logger.warning("Poller: status of execution_id=%s failed: %s", execution.label, exc)
            self._back_off(watch, now, changed=False)
            return
        except CrewAIUnavailable as exc:
            logger.info("Poller: status of execution_id=%s: %s", execution.label, exc.reason)
            self._back_off(watch, now, changed=False)
            return

        logger.debug("Poller: execution_id=%s is %s", execution.label, status.state)
        self._back_off(watch, now, changed=status.state != watch.state)
        watch.state = status.state
        if status.finished:
            await self._finished(execution, status)
        elif status.pending_human_input:
            await self._paused(execution, status)

    def _back_off(self, watch: _Watch, now: float, *, changed: bool) -> None:
        """Poll again soon after a change, and ever less often while nothing changes."""
        watch.interval = self._interval if changed else min(watch.interval * 2, self._max_interval)
        watch.next_at = now + watch.interval

    async def _finished(self, execution: Execution, status: Status) -> None:
        failed = status.state.lower() in {"error", "failed"}
        error = status.raw.get("error")
        result = parse_crew_result(status.raw).result
        if failed and not result and error is not None:
            result = str(error)
        await self._services.reviews.finish(execution, result, failed=failed)

    async def _paused(self, execution: Execution, status: Status) -> None:
        """Open the review AMP's status describes, unless the task's last review has it."""
        try:
            notification = parse_notification(status.raw, execution_id=execution.execution_id)
        except PayloadError as exc:
            await self._cannot_review(execution, exc.message)
            return
        current_task = status.raw.get("current_task")
        if notification.task_name is None and isinstance(current_task, str):
            notification = dataclasses.replace(notification, task_name=current_task)

        # The output is known already when a notification told of it, or when AMP still shows
        # the pause a moment after a delivered resume; a task run again with the very same
        # output is then left to its notification.
        reviews = await self._store.reviews_of(execution.ref)
        of_task = [review for review in reviews if review.task_id == notification.task_id]
        if of_task and max(of_task, key=lambda r: r.attempt).output == notification.output:
            return

        added = await self._services.reviews.receive(notification, execution)
        if not added.created:
            return
        logger.warning(
            "Review %s opened from AMP's status: no human-input notification arrived for"
            " execution_id=%s task_id=%s",
            added.review.id,
            execution.label,
            notification.task_id,
        )
        await self._store.enqueue(
            [
                jobs.post_notice(
                    execution.channel,
                    LEARNED_BY_POLLING,
                    deadline=self._services.reviews.deadlines.slack,
                    review_id=added.review.id,
                )
            ]
        )

    async def _cannot_review(self, execution: Execution, reason: str) -> None:
        """Say once that AMP reports a pause the bot cannot turn into a review."""
        if execution.ref in self._told:
            return
        self._told.add(execution.ref)
        logger.warning(
            "Poller: execution_id=%s waits for human input, but its status cannot be reviewed: %s",
            execution.label,
            reason,
        )
        text = (
            f"⚠️ AMP says execution `{mrkdwn.plain(execution.label)}` waits for human input, but"
            " its status does not say which task and output, and its human-input notification"
            " did not reach me. Check that AMP can reach `BOT_PUBLIC_URL`"
            " (run `python -m bot check`)."
        )
        await self._store.enqueue(
            [
                jobs.post_notice(
                    execution.channel,
                    text,
                    deadline=self._services.reviews.deadlines.slack,
                    thread_ts=execution.thread_ts,
                )
            ]
        )
