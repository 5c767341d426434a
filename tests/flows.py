"""Steps the end-to-end tests share: kicking off, finding review messages, clicking."""

from __future__ import annotations

import json
from typing import Any

import httpx

from bot import blocks
from tests.conftest import CHANNEL, REVIEWER, Bot
from tests.fakes.slack import FakeSlack, Message


def review_messages(slack: FakeSlack, channel: str = CHANNEL) -> list[Message]:
    """The bot's review messages in a channel (threads included), in post order."""
    return [
        m
        for m in slack.messages.get(channel, [])
        if m.metadata and m.metadata.get("event_type") == "crew_review"
    ]


def button_ids(message: Message) -> list[str]:
    return [
        element["action_id"]
        for block in message.blocks
        if block["type"] == "actions"
        for element in block["elements"]
    ]


def review_id_of(message: Message) -> str:
    assert message.metadata is not None
    return str(message.metadata["event_payload"]["review_id"])


def text_of(message: Message) -> str:
    return json.dumps(message.blocks, ensure_ascii=False)


async def kickoff(bot: Bot, **body: Any) -> str:
    response = await bot.api("/api/kickoff", {"inputs": {"topic": "AI"}, **body})
    assert response.status_code == 200, response.text
    return str(response.json()["kickoff_id"])


async def nth_review(slack: FakeSlack, n: int, channel: str = CHANNEL) -> Message:
    """The n-th review message (1-based), once it is posted."""
    await slack.wait_for(lambda: len(review_messages(slack, channel)) >= n)
    return review_messages(slack, channel)[n - 1]


async def click(
    bot: Bot, message: Message, action_id: str, *, user: str = REVIEWER
) -> httpx.Response:
    assert bot.slack is not None
    response = await bot.slack.block_action(
        user=user,
        action_id=action_id,
        value=review_id_of(message),
        channel=message.channel,
        message_ts=message.ts,
    )
    assert response.status_code == 200, response.text
    return response


async def wait_for_text(slack: FakeSlack, message: Message, text: str) -> Message:
    """Wait until the message, as updated, shows `text`."""
    await slack.wait_for(lambda: text in text_of(slack.message(message.channel, message.ts)))
    return slack.message(message.channel, message.ts)


async def revise_via_modal(
    bot: Bot, slack: FakeSlack, message: Message, feedback: str, *, user: str = REVIEWER
) -> httpx.Response:
    await click(bot, message, blocks.REVISE, user=user)
    await slack.wait_for(lambda: len(slack.calls_to("views.open")) > 0)
    assert bot.slack is not None
    return await bot.slack.view_submission(
        user=user,
        values={blocks.FEEDBACK_BLOCK: {blocks.FEEDBACK_INPUT: feedback}},
    )


def private_replies(slack: FakeSlack) -> list[str]:
    """The texts the bot told people privately through response_urls, in order."""
    return [str(post.body.get("text", "")) for post in slack.responses]


async def submit_feedback(
    bot: Bot, review_id: str, feedback: str, *, user: str = REVIEWER
) -> httpx.Response:
    """Submit the Revise modal of a review, as if it had been opened for `user`."""
    assert bot.slack is not None
    return await bot.slack.view_submission(
        user=user,
        values={blocks.FEEDBACK_BLOCK: {blocks.FEEDBACK_INPUT: feedback}},
        callback_id=blocks.FEEDBACK_VIEW,
        private_metadata=review_id,
    )
