"""Reminders in a waiting review's thread, and the optional expiry of reviews nobody decides."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from bot import blocks, jobs
from bot.commands import PENDING_APPROVE
from bot.reminders import Reminders, Timing
from bot.settings import SettingsError
from bot.states import ReviewState
from tests.conftest import CHANNEL, REVIEWER, Amp, Bot, bot_settings
from tests.fakes.slack import FakeSlack
from tests.flows import button_ids, kickoff, nth_review, review_id_of, wait_for_text
from tests.slack_steps import bot_replies, command, recorded, shown


@pytest.fixture
async def started(make_bot: Callable[..., Bot]) -> AsyncIterator[Callable[..., Any]]:
    bots: list[Bot] = []

    async def start(**settings: Any) -> Bot:
        bot = make_bot(**settings)
        await bot.start()
        bots.append(bot)
        return bot

    yield start
    for bot in bots:
        await bot.stop()
        await bot.http.aclose()


async def test_a_waiting_review_is_reminded_twice_in_its_thread_and_never_again(
    started: Callable[..., Any], slack: FakeSlack, amp: Amp
) -> None:
    bot = await started(
        bot_remind_after=0.3, bot_remind_again_after=0.3, bot_reviewers="UALICE, SREVIEWERS"
    )
    await kickoff(bot)
    message = await nth_review(slack, 1)

    await slack.wait_for(lambda: len(bot_replies(slack, message)) == 2)

    first, second = (shown(m.blocks) for m in bot_replies(slack, message))
    assert "⏰ <@UALICE> <!subteam^SREVIEWERS> Waiting for a decision for" in first
    assert "Reply in this thread" in first
    assert "Still waiting for a decision" in second
    review = await bot.store.review(review_id_of(message))
    assert review.state is ReviewState.PENDING, "expiry is off unless it is set"

    await bot.restart()
    reminders = Reminders(bot.services.reviews, Timing(remind_after=0.3, remind_again_after=0.3))
    await reminders.run_once()
    barrier = jobs.post_notice(CHANNEL, "barrier", deadline=60, thread_ts=message.ts)
    await bot.store.enqueue([barrier])
    await slack.wait_for(lambda: len(bot_replies(slack, message)) == 3)
    assert "barrier" in bot_replies(slack, message)[2].text


async def test_a_decided_review_is_not_reminded(
    started: Callable[..., Any], slack: FakeSlack, amp: Amp
) -> None:
    bot = await started(bot_remind_after=3600)
    await kickoff(bot)
    message = await nth_review(slack, 1)
    await bot.slack.message(  # type: ignore[union-attr]
        user=REVIEWER, channel=CHANNEL, text="approve", thread_ts=message.ts
    )
    await amp.sim.wait_for(lambda: len(amp.sim.resume_calls) == 1)

    await kickoff(bot)
    waiting = await nth_review(slack, 2)
    await recorded(bot, waiting)

    reminders = Reminders(bot.services.reviews, Timing(remind_after=0.01))
    await reminders.run_once(now=time.time() + 7200)

    await slack.wait_for(lambda: len(bot_replies(slack, waiting)) == 1)
    assert "⏰" in shown(bot_replies(slack, waiting)[0].blocks)
    assert not [m for m in bot_replies(slack, message) if "⏰" in shown(m.blocks)]


async def test_an_expired_review_loses_its_buttons_and_can_still_be_decided_from_the_list(
    started: Callable[..., Any], slack: FakeSlack, amp: Amp
) -> None:
    bot = await started(bot_expire_after=0.3, bot_remind_after=0)
    kickoff_id = await kickoff(bot)
    message = await nth_review(slack, 1)

    expired = await wait_for_text(slack, message, "Expired")
    assert button_ids(expired) == []
    assert "nothing was sent to AMP" in shown(expired.blocks)
    assert amp.sim.resume_calls == []

    await command(bot, "pending")
    await slack.wait_for(lambda: len(slack.responses) == 1)
    listing = shown(slack.responses[0].body["blocks"])
    assert "⌛ *expired*" in listing and review_id_of(message) in listing
    assert bot.slack is not None
    await bot.slack.block_action(
        user=REVIEWER,
        action_id=PENDING_APPROVE,
        value=review_id_of(message),
        channel=CHANNEL,
        message_ts=slack.next_ts(),
    )

    await amp.sim.wait_for(lambda: len(amp.sim.resume_calls) == 1)
    assert amp.sim.resume_calls[0]["execution_id"] == kickoff_id
    assert amp.sim.resume_calls[0]["is_approve"] is True
    await wait_for_text(slack, message, f"Approved* by <@{REVIEWER}>")
    assert blocks.RETRY not in button_ids(slack.message(CHANNEL, message.ts))


def test_reminder_and_expiry_settings_are_checked(tmp_path: Path) -> None:
    def settings(**extra: Any) -> Any:
        url = "http://127.0.0.1:1/"
        return bot_settings(tmp_path, slack_url=url, amp_url=url, port=1, **extra)

    assert settings().bot_expire_after is None
    assert settings(bot_expire_after="").bot_expire_after is None
    assert settings(bot_reviewers="U1AB, W2CD,S3EF").reviewers() == ["U1AB", "W2CD", "S3EF"]
    assert settings(bot_approval_words="Ship It, :rocket:").approval_words() == {
        "ship it",
        ":rocket:",
    }
    with pytest.raises(SettingsError, match="BOT_REVIEWERS must be user IDs"):
        settings(bot_reviewers="alice")
    with pytest.raises(SettingsError, match="BOT_REMIND_AFTER"):
        settings(bot_remind_after=-1)
