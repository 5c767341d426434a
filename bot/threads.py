"""Replies in the thread of a review message: a revision request, or an approval.

A person's reply in the thread of a pending review asks the crew for a revision, with the
reply's text as feedback; a reply of only an approval word approves. Either goes through
`ReviewService.decide` like a button, and the bot confirms in the thread what it sent and
how its delivery goes. Every other message event (bots, edits, deletions, joins, messages
outside review threads) is taken and left alone, so none is logged as unhandled.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import aiohttp
from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot import blocks, jobs, mrkdwn, slacktext
from bot.poster import Poster
from bot.records import Decision, Job, Review
from bot.reviews import ReviewService
from bot.services import Services
from bot.states import DecisionKind, Delivery, ReviewState
from bot.store import JobSpec

logger = logging.getLogger(__name__)

CONFIRM_DECISION = "confirm_decision"
_REPLY_SUBTYPES = (None, "thread_broadcast")
_FEEDBACK_SHOWN = 600


def confirm_job(review_id: str, channel: str, *, deadline: float) -> JobSpec:
    """Post or refresh the confirmation of a thread decision; one waiting job is enough."""
    return JobSpec(
        CONFIRM_DECISION,
        review_id,
        jobs.slack_lane(channel),
        deadline=time.time() + deadline,
        coalesce=True,
    )


@dataclass(frozen=True)
class Reply:
    """A person's message in a thread."""

    channel: str
    thread_ts: str
    ts: str
    user: str
    text: str


def human_reply(event: dict[str, Any]) -> Reply | None:
    """The thread reply a person wrote, or None for anything else a message event can be."""
    thread_ts, ts = event.get("thread_ts"), event.get("ts")
    if event.get("subtype") not in _REPLY_SUBTYPES or event.get("bot_id"):
        return None
    if not thread_ts or thread_ts == ts or not event.get("user") or not event.get("channel"):
        return None
    text = str(event.get("text") or "").strip()
    if not text:
        return None
    return Reply(str(event["channel"]), str(thread_ts), str(ts), str(event["user"]), text)


class ThreadReplies:
    """The listener of message events: replies in review threads decide, the rest is ignored."""

    def __init__(self, services: Services) -> None:
        self._services = services
        self._store = services.store
        self._reviews = services.reviews
        self._words = services.settings.approval_words()

    def register(self, app: AsyncApp) -> None:
        app.event("message")(self.message)
        for kind in ("member_joined_channel", "member_left_channel", "channel_joined"):
            app.event(kind)(self.ignore)

    async def ignore(self) -> None:
        """An event the bot receives with its subscriptions but has nothing to do with."""

    async def message(self, event: dict[str, Any], client: AsyncWebClient) -> None:
        reply = human_reply(event)
        if reply is None:
            return
        review = await self._store.thread_review(reply.channel, reply.thread_ts)
        if review is None:
            return
        await self._services.inflight.run(self._answer(reply, review, client))

    async def _answer(self, reply: Reply, review: Review, client: AsyncWebClient) -> None:
        if not review.is_pending or review.message_ts is None:
            await _tell(client, reply, await self._standing(review))
            return
        approve = self.is_approval(reply.text)
        feedback = "" if approve else await slacktext.readable(reply.text, self._services.directory)
        outcome = await self._reviews.decide(
            review.id,
            DecisionKind.APPROVE if approve else DecisionKind.REVISE,
            reviewer=reply.user,
            feedback=feedback,
            source="thread",
        )
        if not outcome.won:
            await _tell(client, reply, blocks.outcome_text(outcome))
            return
        deadline = self._reviews.deadlines.slack
        await self._store.add_confirmation(
            review.id,
            channel=reply.channel,
            thread_ts=reply.thread_ts,
            jobs=[confirm_job(review.id, reply.channel, deadline=deadline)],
        )

    def is_approval(self, text: str) -> bool:
        """Whether a reply is only an approval word (any case, a final `.` or `!` allowed)."""
        return text.strip().lower().rstrip(".!").strip() in self._words

    async def _standing(self, review: Review) -> str:
        """What a reply to a review that no longer waits is told: who decided, what is next."""
        attempt = f"Attempt {review.attempt}"
        if review.state is ReviewState.EXPIRED:
            return (
                f"{attempt} of this task expired with no decision, so nothing was sent to AMP."
                " It can still be decided from `/crew pending`."
            )
        if review.state is ReviewState.PENDING:
            return f"{attempt} of this task is on its way to this thread; reply once it is posted."
        decision = await self._store.decision(review.decision_id)
        text = f"{attempt} of this task is decided: {blocks.decision_line(decision)}."
        delivery = blocks.delivery_line(review)
        if delivery:
            text += f"\n{delivery}"
        revised = decision is not None and decision.kind is DecisionKind.REVISE
        if revised and review.delivery is Delivery.DELIVERED:
            text += "\nThe crew is working on the next attempt; it will be posted here."
        return text


async def _tell(client: AsyncWebClient, reply: Reply, text: str) -> None:
    """Answer the person who replied, in the thread, visible only to them."""
    try:
        await client.chat_postEphemeral(
            channel=reply.channel, user=reply.user, thread_ts=reply.thread_ts, text=text
        )
    except (SlackApiError, aiohttp.ClientError, TimeoutError) as exc:
        logger.warning("Could not answer %s in thread %s: %s", reply.user, reply.thread_ts, exc)


class Confirmations:
    """The outbox handler that posts, then keeps current, the confirmation of a thread decision."""

    def __init__(self, service: ReviewService, poster: Poster) -> None:
        self._service = service
        self._store = service.store
        self._poster = poster

    async def confirm(self, job: Job) -> None:
        confirmation = await self._store.confirmation(job.key)
        review = await self._store.review(job.key)
        if confirmation is None or review is None:
            return
        decision = await self._store.decision(review.decision_id)
        message = blocks.notice(confirmation_text(review, decision))
        if confirmation.ts is not None:
            await self._poster.call(
                "chat_update",
                channel=confirmation.channel,
                ts=confirmation.ts,
                text=message.text,
                blocks=message.blocks,
            )
            return
        answer = await self._poster.call(
            "chat_postMessage",
            channel=confirmation.channel,
            thread_ts=confirmation.thread_ts,
            text=message.text,
            blocks=message.blocks,
        )
        await self._store.set_confirmation_ts(review.id, str(answer["ts"]))
        logger.info("Review %s: decision confirmed in its thread", review.id)

    async def follow_ups(self, job: Job) -> Iterable[JobSpec]:
        """After a review's message shows a new state, its thread confirmation shows it too."""
        confirmation = await self._store.confirmation(job.key)
        if confirmation is None:
            return ()
        deadline = self._service.deadlines.slack
        return [confirm_job(job.key, confirmation.channel, deadline=deadline)]


def confirmation_text(review: Review, decision: Decision | None) -> str:
    """What the bot sent for a thread decision, and how its delivery goes, as `mrkdwn`."""
    if decision is None:
        return blocks.delivery_line(review)
    if decision.kind is DecisionKind.APPROVE:
        text = f"✅ <@{decision.reviewer}> approved attempt {review.attempt} from this thread."
    else:
        quoted = mrkdwn.truncate(mrkdwn.plain(decision.feedback), _FEEDBACK_SHOWN)
        text = (
            f"✏️ <@{decision.reviewer}> asked for a revision of attempt {review.attempt}."
            " Sent to the crew:\n" + "\n".join(f"> {line}" for line in quoted.split("\n"))
        )
    delivery = blocks.delivery_line(review)
    return f"{text}\n{delivery}" if delivery else text
