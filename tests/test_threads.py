"""Deciding by replying in a review's thread, and the messages that must decide nothing."""

from __future__ import annotations

import asyncio
import logging

import pytest

from bot import blocks
from bot.simulator import COMPLETED
from bot.states import ReviewState
from tests.conftest import CHANNEL, REVIEWER, Amp, Bot
from tests.fakes.slack import FakeSlack
from tests.flows import button_ids, click, kickoff, nth_review, review_id_of, wait_for_text
from tests.slack_steps import bot_replies, ephemerals_to, recorded, reply


async def test_a_reply_asks_for_a_revision_in_readable_words(
    bot: Bot, slack: FakeSlack, amp: Amp
) -> None:
    slack.users["UALICE"] = {"profile": {"display_name": "alice"}}
    await kickoff(bot)
    message = await nth_review(slack, 1)
    amp.sim.hang_next("resume", seconds=1.0)

    await reply(
        bot,
        message,
        "Ask <@UALICE> and see <#C0SOURCES|sources> &amp; <https://example.com/guide|the guide>"
        " &lt;2024&gt;",
    )

    await amp.sim.wait_for(lambda: len(amp.sim.resume_calls) == 1)
    resume = amp.sim.resume_calls[0]
    assert resume["is_approve"] is False
    assert resume["human_feedback"] == (
        "Ask @alice and see #sources & the guide (https://example.com/guide) <2024>"
    )
    await wait_for_text(slack, message, "Revision requested")
    await slack.wait_for(
        lambda: any(
            "Delivered to AMP" in m.text + str(m.blocks) for m in bot_replies(slack, message)
        )
    )
    (confirmation,) = bot_replies(slack, message)
    assert "asked for a revision of attempt 1" in str(confirmation.blocks)
    assert "the guide (https://example.com/guide)" in str(confirmation.blocks)
    posted = [
        c.args for c in slack.calls_to("chat.postMessage") if c.args.get("thread_ts") == message.ts
    ]
    assert "Sending the decision to AMP" in str(posted[0]["blocks"])
    assert confirmation.edits, "the confirmation follows the delivery state"
    second = await nth_review(slack, 2)
    assert second.thread_ts == message.ts


@pytest.mark.parametrize("text", ["approve", "LGTM!", ":white_check_mark:", " Approved. "])
async def test_a_reply_of_an_approval_word_approves(
    bot: Bot, slack: FakeSlack, amp: Amp, text: str
) -> None:
    kickoff_id = await kickoff(bot)
    message = await nth_review(slack, 1)

    await reply(bot, message, text)

    await amp.sim.wait_for(lambda: amp.sim.executions[kickoff_id].state == COMPLETED)
    assert [(c["is_approve"], c["human_feedback"]) for c in amp.sim.resume_calls] == [
        (True, "Approved.")
    ]
    updated = await wait_for_text(slack, message, f"Approved* by <@{REVIEWER}>")
    assert button_ids(updated) == []
    await slack.wait_for(lambda: len(bot_replies(slack, message)) == 1)
    assert "approved attempt 1 from this thread" in str(bot_replies(slack, message)[0].blocks)


async def test_the_approval_words_are_configurable(
    make_bot: object, slack: FakeSlack, amp: Amp
) -> None:
    bot = make_bot(bot_approval_words="ship it, :rocket:")  # type: ignore[operator]
    await bot.start()
    try:
        first = await kickoff(bot)
        message = await nth_review(slack, 1)
        await reply(bot, message, "Ship it!")
        await amp.sim.wait_for(lambda: amp.sim.executions[first].state == COMPLETED)

        await kickoff(bot)
        other = await nth_review(slack, 2)
        await reply(bot, other, "lgtm")
        await amp.sim.wait_for(lambda: len(amp.sim.resume_calls) == 2)
        assert [c["is_approve"] for c in amp.sim.resume_calls] == [True, False]
        assert amp.sim.resume_calls[1]["human_feedback"] == "lgtm"
    finally:
        await bot.stop()
        await bot.http.aclose()


async def test_a_reply_to_a_decided_review_is_told_who_decided_it(
    bot: Bot, slack: FakeSlack, amp: Amp
) -> None:
    kickoff_id = await kickoff(bot)
    message = await nth_review(slack, 1)
    await click(bot, message, blocks.APPROVE, user="UFIRST")
    await amp.sim.wait_for(lambda: amp.sim.executions[kickoff_id].state == COMPLETED)
    await wait_for_text(slack, message, "Delivered to AMP")

    await reply(bot, message, "Please add more sources", user="ULATE")

    await slack.wait_for(lambda: bool(ephemerals_to(slack, "ULATE")))
    (told,) = ephemerals_to(slack, "ULATE")
    assert told["thread_ts"] == message.ts and told["channel"] == CHANNEL
    assert "Attempt 1 of this task is decided" in told["text"]
    assert "<@UFIRST>" in told["text"] and "Delivered to AMP" in told["text"]
    assert len(amp.sim.resume_calls) == 1
    decisions = await bot.store.decisions_of(review_id_of(message))
    assert [d.reviewer for d in decisions] == ["UFIRST"]


async def test_quick_replies_make_one_decision_and_the_others_are_told(
    bot: Bot, slack: FakeSlack, amp: Amp
) -> None:
    await kickoff(bot)
    message = await nth_review(slack, 1)
    users = [f"UQUICK{n}" for n in range(5)]

    await asyncio.gather(*(reply(bot, message, f"Change {user}", user=user) for user in users))

    await slack.wait_for(lambda: sum(len(ephemerals_to(slack, u)) for u in users) == 4)
    await amp.sim.wait_for(lambda: len(amp.sim.resume_calls) == 1)
    decisions = await bot.store.decisions_of(review_id_of(message))
    (winner,) = [d for d in decisions if d.outcome == "accepted"]
    assert sorted(d.reviewer for d in decisions) == users
    assert amp.sim.resume_calls[0]["human_feedback"] == f"Change {winner.reviewer}"
    told = [e["text"] for u in users for e in ephemerals_to(slack, u)]
    assert all("Someone was quicker" in text and f"<@{winner.reviewer}>" in text for text in told)
    assert ephemerals_to(slack, winner.reviewer) == []


async def test_bots_edits_deletions_joins_and_other_threads_decide_nothing(
    bot: Bot, slack: FakeSlack, amp: Amp, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    await kickoff(bot)
    message = await nth_review(slack, 1)
    await recorded(bot, message)
    assert bot.slack is not None
    elsewhere = slack.add_message(CHANNEL, "A thread about lunch", user="UOTHER")
    noise = [
        {"user": "UOTHERBOT", "bot_id": "BOTHER", "text": "lgtm", "thread_ts": message.ts},
        {
            "user": "UOTHERBOT",
            "bot_id": "BOTHER",
            "text": "redo",
            "subtype": "bot_message",
            "thread_ts": message.ts,
        },
        {
            "user": slack.bot_user_id,
            "bot_id": slack.bot_id,
            "text": "approve",
            "thread_ts": message.ts,
        },
        {"user": REVIEWER, "text": "approve"},
        {"user": REVIEWER, "text": "approve", "thread_ts": elsewhere.ts},
        {"user": REVIEWER, "text": "joined", "subtype": "channel_join"},
        {"user": REVIEWER, "text": "", "thread_ts": message.ts},
    ]
    for fields in noise:
        await bot.slack.message(channel=CHANNEL, **fields)  # type: ignore[arg-type]
    await bot.slack.message(
        user=REVIEWER,
        channel=CHANNEL,
        text="",
        subtype="message_changed",
        message={"user": REVIEWER, "text": "approve", "ts": "1.0", "thread_ts": message.ts},
        thread_ts=message.ts,
    )
    await bot.slack.message(
        user=REVIEWER,
        channel=CHANNEL,
        text="",
        subtype="message_deleted",
        deleted_ts="1.0",
        previous_message={"user": REVIEWER, "text": "approve", "thread_ts": message.ts},
        thread_ts=message.ts,
    )
    await bot.slack.event({"type": "member_joined_channel", "user": REVIEWER, "channel": CHANNEL})

    await reply(bot, message, "Only this one counts")

    await amp.sim.wait_for(lambda: len(amp.sim.resume_calls) == 1)
    assert amp.sim.resume_calls[0]["human_feedback"] == "Only this one counts"
    decisions = await bot.store.decisions_of(review_id_of(message))
    assert [d.feedback for d in decisions] == ["Only this one counts"]
    assert slack.ephemerals == []
    assert not [r for r in caplog.records if "Unhandled request" in r.getMessage()]


async def test_a_reply_to_an_expired_review_points_to_the_pending_list(
    make_bot: object, slack: FakeSlack, amp: Amp
) -> None:
    bot = make_bot(bot_expire_after=0.3, bot_remind_after=0)  # type: ignore[operator]
    await bot.start()
    try:
        await kickoff(bot)
        message = await nth_review(slack, 1)
        await wait_for_text(slack, message, "Expired")

        await reply(bot, message, "approve")

        await slack.wait_for(lambda: bool(ephemerals_to(slack)))
        assert "expired" in ephemerals_to(slack)[0]["text"]
        assert "/crew pending" in ephemerals_to(slack)[0]["text"]
        review = await bot.store.review(review_id_of(message))
        assert review.state is ReviewState.EXPIRED
        assert amp.sim.resume_calls == []
    finally:
        await bot.stop()
        await bot.http.aclose()
