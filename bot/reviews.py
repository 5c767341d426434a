"""The domain core: opening reviews, recording decisions, and following their resumes.

Inbound adapters (Slack listeners, AMP webhooks, the bot's API) call this; it changes the
store in single transactions and leaves the outbound work (Slack posts, AMP resumes) to
outbox jobs enqueued in the same transactions.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from bot import jobs
from bot.payloads import Notification
from bot.records import Decision, Execution, Review
from bot.states import DecisionKind, Delivery
from bot.store import Added, JobSpec, NewReview, Store

logger = logging.getLogger(__name__)

APPROVAL_FEEDBACK = "Approved."


@dataclass(frozen=True)
class Deadlines:
    """How long outbound work is retried before it is reported as failed, in seconds."""

    resume: float = 3600.0
    slack: float = 86400.0


class OutcomeKind(StrEnum):
    DECIDED = "decided"
    TOO_LATE = "too_late"
    REFUSED = "refused"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class Outcome:
    """What became of an attempt to decide: the review, and the decision that stands."""

    kind: OutcomeKind
    review: Review | None = None
    decision: Decision | None = None
    reason: str = ""

    @property
    def won(self) -> bool:
        return self.kind is OutcomeKind.DECIDED


OTHER_CHANNEL = "this button belongs to a review in another channel."


class Authorizer(Protocol):
    """Says who may decide a review."""

    async def refusal(
        self,
        reviewer: str,
        review: Review,
        execution: Execution,
        *,
        kind: DecisionKind | None = None,
    ) -> str | None:
        """None when `reviewer` may decide `review`, else the reason, for them to read.

        `kind` is the decision asked for, or None for an action on a decision already taken.
        """


class AnyoneMayDecide:
    """The authorizer when no approvers are configured: anyone who sees the review."""

    async def refusal(
        self,
        reviewer: str,
        review: Review,
        execution: Execution,
        *,
        kind: DecisionKind | None = None,
    ) -> str | None:
        return None


class ReviewService:
    """Reviews and their lifecycle, from notification to delivered decision."""

    def __init__(
        self,
        store: Store,
        *,
        deadlines: Deadlines | None = None,
        authorizer: Authorizer | None = None,
    ) -> None:
        self.store = store
        self.deadlines = deadlines or Deadlines()
        self.authorizer: Authorizer = authorizer or AnyoneMayDecide()

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
                "Review %s opened: execution_id=%s task_id=%s attempt=%d channel=%s source=%s",
                review.id,
                execution.label,
                review.task_id,
                review.attempt,
                channel,
                execution.source,
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
        channel: str | None = None,
    ) -> Outcome:
        """Record a decision, first one wins, and enqueue its resume in the same transaction.

        The reviewer must pass the authorizer, and `channel` (where the click came from, if
        it came from a message) must be the review's; a refusal changes nothing but the audit
        trail.
        """
        screened = await self._screen(
            review_id, kind, reviewer=reviewer, feedback=feedback, source=source, channel=channel
        )
        if isinstance(screened, Outcome):
            return screened
        review, execution = screened
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
        assert decided is not None
        if not decided.won:
            logger.info("Review %s: %s by %s came too late", review_id, kind, reviewer)
            return Outcome(OutcomeKind.TOO_LATE, review=decided.review, decision=decided.decision)
        logger.info(
            "Review %s decided: %s by %s via %s (execution_id=%s task_id=%s)",
            review_id,
            kind,
            reviewer,
            source,
            execution.label,
            review.task_id,
        )
        return Outcome(OutcomeKind.DECIDED, review=decided.review, decision=decided.decision)

    async def screen(
        self,
        review_id: str,
        kind: DecisionKind | None,
        *,
        reviewer: str,
        source: str,
        channel: str | None = None,
    ) -> Outcome | None:
        """Why `reviewer` may not act on a review, as an outcome to tell them; None if they may.

        For the step before a decision (the Revise button opens a modal) and for actions on a
        decision taken (Retry); `decide` checks again. A refusal joins the audit trail.
        """
        screened = await self._screen(
            review_id, kind, reviewer=reviewer, feedback="", source=source, channel=channel
        )
        return screened if isinstance(screened, Outcome) else None

    async def _screen(
        self,
        review_id: str,
        kind: DecisionKind | None,
        *,
        reviewer: str,
        feedback: str,
        source: str,
        channel: str | None,
    ) -> Outcome | tuple[Review, Execution]:
        review = await self.store.review(review_id)
        if review is None:
            logger.warning("Action on unknown review %r by %s refused", review_id[:40], reviewer)
            return Outcome(OutcomeKind.UNKNOWN)
        execution = await self.store.execution(review.execution_ref)
        assert execution is not None
        if channel is not None and channel != (review.channel or execution.channel):
            refusal: str | None = OTHER_CHANNEL
        else:
            refusal = await self.authorizer.refusal(reviewer, review, execution, kind=kind)
        if refusal is None:
            return review, execution
        standing = await self.store.decision(review.decision_id)
        audited = kind or (standing.kind if standing is not None else None)
        if audited is not None:
            await self.store.add_audit(
                review_id,
                kind=audited,
                reviewer=reviewer,
                feedback=feedback,
                source=source,
                outcome="refused",
            )
        logger.info(
            "Review %s: %s by %s via %s refused: %s",
            review_id,
            kind or "action",
            reviewer,
            source,
            refusal,
        )
        return Outcome(OutcomeKind.REFUSED, review=review, decision=standing, reason=refusal)

    async def retry_resume(self, review_id: str, *, reviewer: str) -> Review | None:
        """Queue a failed resume again; None when the review has no failed resume.

        The caller screens the reviewer first, as for a decision.
        """
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
