"""Steps for reviewing where people talk: thread replies, `/crew`, the Home tab."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx

from bot.store import NewReview
from tests.conftest import CHANNEL, REVIEWER, Bot
from tests.fakes.slack import FakeSlack, Message
from tests.flows import review_id_of


async def reply(bot: Bot, message: Message, text: str, *, user: str = REVIEWER) -> httpx.Response:
    """A person's reply in the thread of a review message, once the bot has recorded the post.

    A person cannot reply within the milliseconds between Slack's answer to the post and the
    bot's record of it; a test can, so it waits for the record first.
    """
    assert bot.slack is not None
    await recorded(bot, message)
    response = await bot.slack.message(
        user=user, channel=message.channel, text=text, thread_ts=message.ts
    )
    assert response.status_code == 200, response.text
    return response


async def recorded(bot: Bot, message: Message) -> None:
    """Wait until the bot's store knows where a review message was posted."""
    review_id = review_id_of(message)
    for _ in range(500):
        review = await bot.store.review(review_id)
        if review is not None and review.message_ts == message.ts:
            return
        await asyncio.sleep(0.01)
    raise TimeoutError(f"review {review_id} was never recorded as posted at {message.ts}")


async def command(
    bot: Bot, text: str, *, user: str = REVIEWER, channel: str = CHANNEL
) -> httpx.Response:
    """`/crew <text>`, as Slack sends it; the answer to the ack is the response's body."""
    assert bot.slack is not None
    response = await bot.slack.command(user=user, channel=channel, text=text)
    assert response.status_code == 200, response.text
    return response


def ack_text(response: httpx.Response) -> str:
    """The text of a command's ack, which Slack shows only to the person who typed it."""
    body = response.json()
    assert body.get("response_type", "ephemeral") == "ephemeral"
    return str(body["text"])


def bot_replies(slack: FakeSlack, message: Message) -> list[Message]:
    """The bot's own messages in a review's thread, other than review messages."""
    return [
        m
        for m in slack.thread(message.channel, message.ts)
        if m.is_reply and m.user == slack.bot_user_id and not m.metadata
    ]


def ephemerals_to(slack: FakeSlack, user: str = REVIEWER) -> list[dict[str, Any]]:
    return [e for e in slack.ephemerals if e.get("user") == user]


def shown(payload: dict[str, Any]) -> str:
    """Everything a response, message or view shows, as one string to search."""
    return json.dumps(payload, ensure_ascii=False)


async def add_pending_reviews(bot: Bot, count: int, *, channel: str = CHANNEL) -> list[str]:
    """Reviews waiting for a decision, stored directly, oldest first; their ids."""
    ids = []
    for n in range(count):
        execution = await bot.store.create_execution(
            channel=channel, source="kickoff", execution_id=f"ex-{n:03d}", started_by="UALICE"
        )
        added = await bot.store.add_review(
            NewReview(execution.ref, f"task_{n:03d}", f"output {n}", f"hash-{n}", {})
        )
        ids.append(added.review.id)
    return ids
