"""Posting and updating the bot's Slack messages, as outbox jobs rendered from the store.

Each job renders what the store holds when it runs, so a late or repeated job shows the
current state, never a stale one. Slack's answers decide what happens next: a rate limit
pauses the channel for `Retry-After`, a server error or a lost connection is retried with
backoff, and an error that retrying cannot mend is reported and not retried.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterable
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot import blocks, jobs, mrkdwn
from bot.metrics import Metrics
from bot.outbox import GiveUpNow, Retry
from bot.records import Job, Review
from bot.reviews import ReviewService
from bot.store import JobSpec

logger = logging.getLogger(__name__)

_RETRYABLE_ERRORS = {
    "ratelimited",
    "internal_error",
    "fatal_error",
    "service_unavailable",
    "request_timeout",
    "team_added_to_org",
}
REVIEW_EVENT = "crew_review"
_SEARCH_PAGES = 5
_TOO_BIG_ERRORS = {"msg_too_long", "msg_blocks_too_long", "invalid_blocks"}
_HINTS = {
    "not_in_channel": "invite the bot to the channel (/invite @bot)",
    "channel_not_found": "check the channel ID; for a private channel, invite the bot",
    "is_archived": "the channel is archived; register the execution with another channel",
    "invalid_auth": "check SLACK_BOT_TOKEN",
    "token_revoked": "the bot token was revoked; reinstall the app and update SLACK_BOT_TOKEN",
    "missing_scope": "add the missing scope in the app's settings and reinstall it",
}


class Poster:
    """The outbox handlers for Slack: review messages, their updates, results and notices."""

    def __init__(
        self,
        service: ReviewService,
        client: AsyncWebClient,
        *,
        default_channel: str,
        metrics: Metrics | None = None,
    ) -> None:
        self._metrics = metrics or Metrics()
        self._service = service
        self._store = service.store
        self._client = client
        self._default_channel = default_channel

    async def post_review(self, job: Job) -> Iterable[JobSpec]:
        """Post a review message; a later attempt goes into the thread of the task's first."""
        review = await self._store.review(job.key)
        if review is None:
            raise GiveUpNow(f"review {job.key} does not exist")
        if review.message_ts is not None:
            return ()
        execution = await self._store.execution(review.execution_ref)
        assert execution is not None
        channel, thread_ts = execution.channel, None
        if review.attempt > 1:
            first = await self._store.first_review(review.execution_ref, review.task_id)
            if first is not None and first.id != review.id:
                if first.message_ts is None or first.channel is None:
                    raise Retry("the task's first review is not posted yet", delay=1.0)
                channel, thread_ts = first.channel, first.thread_ts or first.message_ts
        if job.payload.get("interrupted"):
            found = await self._posted_before(review.id, channel, thread_ts)
            if found is not None:
                logger.info("Review %s: found its message posted before the stop", review.id)
                return await self._posted(review, channel, found, thread_ts)
        decision = await self._store.decision(review.decision_id)
        budget = blocks.COMPACT_BUDGET if job.payload.get("compact") else blocks.OUTPUT_BUDGET
        message = blocks.review_message(review, execution, decision, budget=budget)
        try:
            answer = await self.call(
                "chat_postMessage",
                channel=channel,
                thread_ts=thread_ts,
                text=message.text,
                blocks=message.blocks,
                metadata={"event_type": REVIEW_EVENT, "event_payload": {"review_id": review.id}},
                unfurl_links=False,
                unfurl_media=False,
            )
        except _TooBig:
            if job.payload.get("compact"):
                raise GiveUpNow("Slack refused even the compact review message") from None
            logger.warning(
                "Review %s: Slack refused the message as too big; posting compact", review.id
            )
            return [JobSpec(job.kind, job.key, job.lane, {"compact": True}, job.deadline)]
        ts = str(answer["ts"])
        logger.info(
            "Review %s posted: channel=%s ts=%s execution_id=%s task_id=%s attempt=%d",
            review.id,
            channel,
            ts,
            execution.label,
            review.task_id,
            review.attempt,
        )
        return await self._posted(review, channel, ts, thread_ts)

    async def _posted(
        self, review: Review, channel: str, ts: str, thread_ts: str | None
    ) -> Iterable[JobSpec]:
        """Record where a review's message is; update it if the review changed meanwhile."""
        await self._store.set_message(review.id, channel=channel, ts=ts, thread_ts=thread_ts or ts)
        posted = await self._store.review(review.id)
        assert posted is not None
        if _changed_while_posting(review, posted):
            return self._service.update_job(posted)
        return ()

    async def _posted_before(
        self, review_id: str, channel: str, thread_ts: str | None
    ) -> str | None:
        """The ts of a review's message if a post cut short by a stop made it, else None.

        Slack has no idempotent post, so the newest messages of the channel (or the thread)
        are searched for the metadata naming the review. A search Slack refuses for good
        means posting again.
        """
        where = {"ts": thread_ts} if thread_ts else {}
        method = "conversations_replies" if thread_ts else "conversations_history"
        cursor = None
        for _ in range(_SEARCH_PAGES):
            try:
                answer = await self.call(
                    method,
                    channel=channel,
                    include_all_metadata=True,
                    limit=200,
                    cursor=cursor,
                    **where,
                )
            except GiveUpNow as exc:
                logger.warning(
                    "Review %s: cannot look for a message posted before the stop (%s);"
                    " posting it again",
                    review_id,
                    exc.reason,
                )
                return None
            for message in answer.get("messages") or []:
                if _review_of(message) == review_id:
                    return str(message["ts"])
            cursor = (answer.get("response_metadata") or {}).get("next_cursor")
            if not cursor:
                break
        return None

    async def update_review(self, job: Job) -> None:
        """Show a review's current state (decision, delivery) in its message."""
        review = await self._store.review(job.key)
        if review is None or review.message_ts is None or review.channel is None:
            return
        execution = await self._store.execution(review.execution_ref)
        assert execution is not None
        decision = await self._store.decision(review.decision_id)
        for budget in (blocks.OUTPUT_BUDGET, blocks.COMPACT_BUDGET):
            message = blocks.review_message(review, execution, decision, budget=budget)
            try:
                await self.call(
                    "chat_update",
                    channel=review.channel,
                    ts=review.message_ts,
                    text=message.text,
                    blocks=message.blocks,
                )
                return
            except _TooBig:
                logger.warning("Review %s: Slack refused the update as too big", review.id)
        raise GiveUpNow("Slack refused even the compact review message")

    async def post_result(self, job: Job) -> None:
        """Post an execution's final result in its thread (or the channel if it has none)."""
        execution = await self._store.execution(job.key)
        if execution is None:
            raise GiveUpNow(f"execution {job.key} does not exist")
        message = blocks.result_message(
            execution, execution.result or "", failed=execution.state == "failed"
        )
        await self.call(
            "chat_postMessage",
            channel=execution.channel,
            thread_ts=execution.thread_ts,
            text=message.text,
            blocks=message.blocks,
            unfurl_links=False,
        )
        logger.info("Result of execution %s posted to %s", execution.label, execution.channel)

    async def post_notice(self, job: Job) -> None:
        message = blocks.notice(str(job.payload["text"]))
        channel, thread_ts = job.payload["channel"], job.payload.get("thread_ts")
        review = await self._store.review(str(job.payload.get("review_id") or ""))
        # Jobs of a lane run in order, so the review's own post has run (or failed) by now.
        if review is not None and review.message_ts is not None and review.channel is not None:
            channel, thread_ts = review.channel, review.thread_ts or review.message_ts
        await self.call(
            "chat_postMessage",
            channel=channel,
            thread_ts=thread_ts,
            text=message.text,
            blocks=message.blocks,
        )

    async def gave_up(self, job: Job, reason: str) -> None:
        """Say in the default channel that a post failed for good, unless that is the channel."""
        channel = job.lane.removeprefix("slack:")
        if job.kind == jobs.POST_NOTICE or channel == self._default_channel:
            return
        text = (
            f"⚠️ I could not post to <#{channel}>: {mrkdwn.plain(reason)}. "
            "The review is still pending: see `/crew pending`."
        )
        await self._store.enqueue(
            [jobs.post_notice(self._default_channel, text, deadline=self._service.deadlines.slack)]
        )

    async def call(self, method: str, **kwargs: Any) -> dict[str, Any]:
        """One Web API call, counted in the metrics; Slack's errors become Retry or GiveUpNow."""
        api_method = method.replace("_", ".")
        try:
            answer = await getattr(self._client, method)(**kwargs)
        except SlackApiError as exc:
            self._metrics.slack_answered(api_method, _outcome(exc))
            raise _classify(method, exc) from None
        except (TimeoutError, aiohttp.ClientError) as exc:
            self._metrics.slack_answered(api_method, "unreachable")
            raise Retry(f"Slack unreachable: {type(exc).__name__}") from None
        self._metrics.slack_answered(api_method, "ok")
        data: dict[str, Any] = answer.data if isinstance(answer.data, dict) else {}
        return data


def _review_of(message: dict[str, Any]) -> str | None:
    """The review a message of the bot's shows, from its metadata."""
    metadata = message.get("metadata") or {}
    if metadata.get("event_type") != REVIEW_EVENT:
        return None
    review_id = (metadata.get("event_payload") or {}).get("review_id")
    return str(review_id) if review_id else None


def _changed_while_posting(before: Review, after: Review) -> bool:
    """Whether a review changed (a decision, a delivery) other than by being posted."""
    posted = dataclasses.replace(
        after,
        channel=before.channel,
        message_ts=before.message_ts,
        thread_ts=before.thread_ts,
        updated_at=before.updated_at,
    )
    return posted != before


class _TooBig(Exception):
    """Slack refused a message as too long or malformed."""


def _outcome(exc: SlackApiError) -> str:
    """Slack's error code of a failed call, `ratelimited` for any 429, else its HTTP status."""
    response = exc.response
    error = str(response.get("error") or "") if isinstance(response.data, dict) else ""
    if response.status_code == 429:
        return "ratelimited"
    return error or f"http_{response.status_code}"


def _classify(method: str, exc: SlackApiError) -> Exception:
    response = exc.response
    status = response.status_code
    error = str(response.get("error") or "") if isinstance(response.data, dict) else ""
    if status == 429 or error == "ratelimited":
        retry_after = _retry_after(response.headers)
        logger.warning("Slack rate-limited %s; pausing the channel %.0fs", method, retry_after)
        return Retry(f"Slack rate limit on {method}", delay=retry_after, pause_lane=True)
    if status >= 500 or error in _RETRYABLE_ERRORS:
        return Retry(f"Slack {method} failed: {error or status}")
    if error in _TOO_BIG_ERRORS:
        return _TooBig(error)
    hint = _HINTS.get(error)
    reason = f"Slack {method} answered {error or status}" + (f" ({hint})" if hint else "")
    return GiveUpNow(reason)


def _retry_after(headers: Any) -> float:
    for name in ("Retry-After", "retry-after"):
        value = headers.get(name) if headers else None
        if isinstance(value, list):
            value = value[0] if value else None
        if value is not None:
            try:
                return max(0.0, float(value))
            except ValueError:
                break
    return 1.0
