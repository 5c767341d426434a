"""Posting review messages: one Web API call per message, and nothing shown stale."""

from __future__ import annotations

import asyncio
import json

from bot.states import DecisionKind
from tests.conftest import REVIEWER, Amp, Bot
from tests.fakes.slack import FakeSlack
from tests.flows import kickoff, nth_review, wait_for_text


async def outbox_empty(bot: Bot) -> None:
    """Wait until the outbox holds no job, ready or running."""
    for _ in range(500):
        if not await bot.store.jobs():
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"jobs still queued: {await bot.store.jobs()}")


async def test_a_review_is_posted_with_one_call_and_not_updated_after(
    bot: Bot, slack: FakeSlack, amp: Amp
) -> None:
    await kickoff(bot)
    await nth_review(slack, 1)
    await outbox_empty(bot)

    assert len(slack.calls_to("chat.postMessage")) == 1
    assert slack.calls_to("chat.update") == []


async def test_a_decision_taken_while_the_post_is_under_way_shows_in_the_message(
    bot: Bot, slack: FakeSlack, amp: Amp
) -> None:
    slack.hang_next("chat.postMessage", seconds=1.0)
    await kickoff(bot)
    await slack.wait_for(lambda: len(slack.calls_to("chat.postMessage")) == 1)
    [listed] = await bot.store.open_reviews(limit=10)
    review = listed.review

    outcome = await bot.services.reviews.decide(
        review.id, DecisionKind.APPROVE, reviewer=REVIEWER, source="test"
    )
    assert outcome.won

    message = await nth_review(slack, 1)
    post = slack.calls_to("chat.postMessage")[0]
    assert "Approved" not in json.dumps(post.args["blocks"])
    await wait_for_text(slack, message, f"Approved* by <@{REVIEWER}>")
