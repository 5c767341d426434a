"""Delivering decisions to AMP: the `/resume` call, as an outbox job with retries.

The call carries the stored execution id, task id and the execution's webhook URLs exactly
as they were given at kickoff, never anything read from a Slack payload. Timeouts, lost
connections and 5xx answers are retried with backoff until the deadline. AMP's 400 "not
pending" counts as delivered when an earlier attempt may have reached AMP.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from bot.crewai import CrewAIClient, CrewAIError, CrewAIUnavailable
from bot.logs import redact, redact_url
from bot.outbox import Retry
from bot.records import Execution, Job, Review
from bot.reviews import ReviewService
from bot.states import DecisionKind, Delivery
from bot.store import JobSpec

logger = logging.getLogger(__name__)


class Resumer:
    """The outbox handler that calls AMP's `/resume` for a decided review."""

    def __init__(self, service: ReviewService, crewai: CrewAIClient) -> None:
        self._service = service
        self._store = service.store
        self._crewai = crewai

    async def deliver(self, job: Job) -> Iterable[JobSpec]:
        review = await self._store.review(job.key)
        if review is None or review.delivery in (Delivery.DELIVERED, Delivery.FAILED):
            return ()
        execution = await self._store.execution(review.execution_ref)
        decision = await self._store.decision(review.decision_id)
        assert execution is not None and decision is not None
        if execution.execution_id is None:
            raise Retry("AMP's kickoff id is not known yet", delay=2.0)

        may_have_arrived = bool(
            job.payload.get("may_have_arrived") or job.payload.get("interrupted")
        )
        await self._move(review, Delivery.DELIVERING, count_attempt=True)
        body: dict[str, Any] = {
            "execution_id": execution.execution_id,
            "task_id": review.task_id,
            "human_feedback": decision.feedback,
            "is_approve": decision.kind is DecisionKind.APPROVE,
            **execution.webhooks.as_amp_fields(),
        }
        try:
            answer = await self._crewai.resume(body)
        except CrewAIUnavailable as exc:
            reason = _scrub(exc.reason, execution)
            await self._move(review, Delivery.RETRYING, error=reason)
            raise Retry(
                reason, payload={"may_have_arrived": may_have_arrived or exc.may_have_arrived}
            ) from None
        except CrewAIError as exc:
            if exc.not_pending and may_have_arrived:
                return await self._delivered(review, "already resumed")
            if exc.retryable:
                reason = _scrub(f"AMP answered {exc.status}: {exc.message or exc.error}", execution)
                await self._move(review, Delivery.RETRYING, error=reason)
                raise Retry(reason, payload={"may_have_arrived": True}) from None
            return await self._failed(review, _scrub(_explain(exc), execution))
        status = str(answer.get("status") or "resumed")
        return await self._delivered(review, status)

    async def gave_up(self, job: Job, reason: str) -> None:
        """The deadline passed: the resume is failed, and the message offers a Retry."""
        review = await self._store.review(job.key)
        if review is None or review.delivery in (Delivery.DELIVERED, Delivery.FAILED):
            return
        last = review.resume_error or reason
        await self._failed(review, f"gave up after {review.resume_attempts} attempt(s); {last}")

    async def _delivered(self, review: Review, status: str) -> Iterable[JobSpec]:
        await self._move(review, Delivery.DELIVERED, status=status)
        logger.info(
            "Review %s: resume delivered (%s), task_id=%s", review.id, status, review.task_id
        )
        return ()

    async def _failed(self, review: Review, reason: str) -> Iterable[JobSpec]:
        await self._move(review, Delivery.FAILED, error=reason)
        logger.error("Review %s: resume failed: %s", review.id, reason)
        return ()

    async def _move(
        self,
        review: Review,
        delivery: Delivery,
        *,
        status: str | None = None,
        error: str | None = None,
        count_attempt: bool = False,
    ) -> None:
        current = await self._store.review(review.id)
        assert current is not None
        await self._store.set_delivery(
            review.id,
            delivery,
            status=status,
            error=error,
            count_attempt=count_attempt,
            jobs=self._service.update_job(current),
        )


def _scrub(text: str, execution: Execution) -> str:
    """AMP's words with the execution's webhook URLs and secrets shown redacted."""
    for url in (execution.webhooks.task, execution.webhooks.step, execution.webhooks.crew):
        if url:
            text = text.replace(url, redact_url(url))
    return redact(text, [execution.secret, execution.url_secret])


def _explain(exc: CrewAIError) -> str:
    """What went wrong and what to fix, for the review message."""
    detail = exc.message or exc.error
    if exc.status == 401:
        return f"AMP refused the bot's token (401: {detail}); check CREWAI_TOKEN"
    if exc.status == 403:
        return f"AMP's token may not resume this crew (403: {detail}); use the crew's Bearer Token"
    if exc.status == 404:
        return (
            f"AMP does not know this execution or task (404: {detail}); check that CREWAI_URL"
            " is the crew that ran it"
        )
    if exc.not_pending:
        return (
            f"AMP says the execution is not waiting for input (400: {detail}); it may have"
            " been resumed elsewhere"
        )
    return f"AMP refused the resume ({exc.status}: {detail})"
