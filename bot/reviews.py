"""The domain core: opening reviews, recording decisions, and following their resumes.

Inbound adapters (Slack listeners, AMP webhooks, the bot's API) call this; it changes the
store in single transactions and leaves the outbound work (Slack posts, AMP resumes) to
outbox jobs enqueued in the same transactions.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from bot import jobs
from bot.payloads import Notification
from bot.records import Execution, Review
from bot.states import DecisionKind, Delivery
from bot.store import Added, Decided, JobSpec, NewReview, Store

logger = logging.getLogger(__name__)

APPROVAL_FEEDBACK = "Approved."


@dataclass(frozen=True)
class Deadlines:
    """How long outbound work is retried before it is reported as failed, in seconds."""

    resume: float = 3600.0
    slack: float = 86400.0


class ReviewService:
    """Reviews and their lifecycle, from notification to delivered decision."""

    def __init__(self, store: Store, *, deadlines: Deadlines | None = None) -> None:
        self.store = store
        self.deadlines = deadlines or Deadlines()

    async def receive(self, notification: Notification, execution: Execution) -> Added:
        """Open a review for a task that waits for a human; a duplicate opens none."""
        channel = execution.channel
        added = await self.store.add_review(
            NewReview(
                execution_ref=execution.ref,
                task_id=notification.task_id,
                output=notification.output,
                output_hash=notification.output_hash,
                payload=notification.raw,
                task_name=notification.task_name,
            ),
            jobs=[jobs.post_review(channel, deadline=self.deadlines.slack)],
        )
        review = added.review
        if added.created:
            logger.info(
                "Review %s opened: execution_id=%s task_id=%s attempt=%d",
                review.id,
                execution.label,
                review.task_id,
                review.attempt,
            )
        else:
            logger.info(
                "Review %s notified again, kept as one: execution_id=%s task_id=%s",
                review.id,
                execution.label,
                review.task_id,
            )
        return added

    async def decide(
        self,
        review_id: str,
        kind: DecisionKind,
        *,
        reviewer: str,
        feedback: str = "",
        source: str,
    ) -> Decided | None:
        """Record a decision, first one wins, and enqueue its resume in the same transaction."""
        review = await self.store.review(review_id)
        if review is None:
            return None
        if kind is DecisionKind.APPROVE and not feedback.strip():
            feedback = APPROVAL_FEEDBACK
        decided = await self.store.decide(
            review_id,
            kind=kind,
            reviewer=reviewer,
            feedback=feedback.strip(),
            source=source,
            jobs=[
                jobs.resume(review_id, review.execution_ref, deadline=self.deadlines.resume),
                *self.update_job(review),
            ],
        )
        if decided is None:
            return None
        if decided.won:
            logger.info(
                "Review %s decided: %s by %s via %s (task_id=%s)",
                review_id,
                kind,
                reviewer,
                source,
                review.task_id,
            )
        else:
            logger.info("Review %s: %s by %s came too late", review_id, kind, reviewer)
        return decided

    async def retry_resume(self, review_id: str, *, reviewer: str) -> Review | None:
        """Queue a failed resume again; None when the review has no failed resume."""
        review = await self.store.review(review_id)
        if review is None or review.delivery is not Delivery.FAILED:
            return None
        review = await self.store.set_delivery(
            review_id,
            Delivery.QUEUED,
            jobs=[
                jobs.resume(review_id, review.execution_ref, deadline=self.deadlines.resume),
                *self.update_job(review),
            ],
        )
        logger.info("Review %s: resume queued again by %s", review_id, reviewer)
        return review

    async def finish(self, execution: Execution, result: str, *, failed: bool = False) -> bool:
        """Mark an execution finished and post its result in its thread, once."""
        finished = await self.store.finish_execution(
            execution.ref,
            state="failed" if failed else "completed",
            result=result,
            jobs=[
                jobs.post_result(execution.ref, execution.channel, deadline=self.deadlines.slack)
            ],
        )
        if finished:
            logger.info(
                "Execution %s finished (%s)", execution.label, "failed" if failed else "completed"
            )
        return finished

    def update_job(self, review: Review) -> list[JobSpec]:
        """The job that shows a review's current state in its message, if it has one yet."""
        if review.message_ts is None or review.channel is None:
            return []
        return [jobs.update_review(review.id, review.channel, deadline=self.deadlines.slack)]
