"""The kinds of outbox job, and the lane each runs in.

Slack jobs run in the lane of their channel, so that Slack's per-channel rate limit paces
one channel without holding up the others; resumes run in the lane of their execution.
"""

from __future__ import annotations

import time

from bot.store import JobSpec

POST_REVIEW = "post_review"
UPDATE_REVIEW = "update_review"
POST_RESULT = "post_result"
POST_NOTICE = "post_notice"
RESUME = "resume"


def slack_lane(channel: str) -> str:
    return f"slack:{channel}"


def post_review(channel: str, *, deadline: float, review_id: str = "") -> JobSpec:
    """Post a review message; with no `review_id`, the review added with it is meant."""
    return JobSpec(POST_REVIEW, review_id, slack_lane(channel), deadline=time.time() + deadline)


def update_review(review_id: str, channel: str, *, deadline: float) -> JobSpec:
    """Render a review's message again from the store; one waiting update is enough."""
    return JobSpec(
        UPDATE_REVIEW,
        review_id,
        slack_lane(channel),
        deadline=time.time() + deadline,
        coalesce=True,
    )


def resume(review_id: str, execution_ref: str, *, deadline: float) -> JobSpec:
    return JobSpec(RESUME, review_id, f"amp:{execution_ref}", deadline=time.time() + deadline)


def post_result(execution_ref: str, channel: str, *, deadline: float) -> JobSpec:
    return JobSpec(POST_RESULT, execution_ref, slack_lane(channel), deadline=time.time() + deadline)


def post_notice(
    channel: str,
    text: str,
    *,
    deadline: float,
    thread_ts: str | None = None,
    key: str = "-",
    review_id: str | None = None,
) -> JobSpec:
    """Post a short `mrkdwn` text (already escaped) to a channel or a thread.

    With `review_id`, the text goes into that review's thread, as it is when the job runs.
    """
    payload = {"channel": channel, "text": text, "thread_ts": thread_ts}
    if review_id is not None:
        payload["review_id"] = review_id
    return JobSpec(
        POST_NOTICE, key, slack_lane(channel), payload=payload, deadline=time.time() + deadline
    )
