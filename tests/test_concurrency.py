"""Many at once: simultaneous decisions, Slack's event retries, and repeated AMP notifications."""

from __future__ import annotations

import asyncio
from typing import Any

from bot.app import BOLT
from tests.conftest import Amp, Bot
from tests.fakes.slack import FakeSlack
from tests.flows import kickoff, nth_review, review_messages
from tests.races import approve_click, assert_one_decision, race, revise_submission, thread_reply


async def test_twenty_simultaneous_decisions_make_one_decision_and_one_resume(
    bot: Bot, slack: FakeSlack, amp: Amp
) -> None:
    await kickoff(bot)
    message = await nth_review(slack, 1)
    builders = [
        (approve_click, "UCLICK"),
        (revise_submission, "UMODAL"),
        (thread_reply, "UREPLY"),
    ]
    attempts = [builders[n % 3][0](bot, message, f"{builders[n % 3][1]}{n:02d}") for n in range(20)]

    answers = await race(attempts)

    winner = await assert_one_decision(bot, slack, amp, message, attempts, answers)
    assert f"<@{winner.reviewer}>" in str(slack.message(message.channel, message.ts).blocks)


async def test_simultaneous_approver_checks_ask_slack_once(
    make_bot: Any, slack: FakeSlack, amp: Amp
) -> None:
    slack.usergroups["SREVIEWERS"] = [f"UCLICK{n:02d}" for n in range(20)]
    bot = make_bot(bot_approvers="SREVIEWERS")
    await bot.start()
    try:
        await kickoff(bot)
        message = await nth_review(slack, 1)
        attempts = [approve_click(bot, message, f"UCLICK{n:02d}") for n in range(20)]

        answers = await race(attempts)

        await assert_one_decision(bot, slack, amp, message, attempts, answers)
        assert len(slack.calls_to("usergroups.users.list")) == 1
    finally:
        await bot.stop()
        await bot.http.aclose()


def count_mentions(bot: Bot) -> list[str]:
    """Listen to app_mention events on the running bot; the list fills with their texts."""
    seen: list[str] = []

    async def mentioned(event: dict[str, Any]) -> None:
        seen.append(str(event.get("text")))

    assert bot.runner is not None
    bot.runner.app[BOLT].event("app_mention")(mentioned)
    return seen


def mention(text: str) -> dict[str, Any]:
    return {"type": "app_mention", "user": "U1", "text": text, "channel": "C1", "ts": "1.1"}


async def test_slack_event_retries_and_repeated_event_ids_are_handled_once(
    bot: Bot, slack: FakeSlack
) -> None:
    assert bot.slack is not None
    seen = count_mentions(bot)

    answers = [
        await bot.slack.event(mention("first"), event_id="EvONCE"),
        await bot.slack.event(mention("first"), event_id="EvONCE", retry_num=1),
        await bot.slack.event(mention("first"), event_id="EvONCE", retry_num=2),
        *await asyncio.gather(
            *(bot.slack.event(mention("twin"), event_id="EvTWIN") for _ in range(5))
        ),
        await bot.slack.event(mention("last"), event_id="EvLAST"),
    ]

    assert [answer.status_code for answer in answers] == [200] * len(answers)
    await slack.wait_for(lambda: "last" in seen)
    assert sorted(seen) == ["first", "last", "twin"]


async def test_a_retried_thread_reply_decides_once_and_is_not_told_it_came_too_late(
    bot: Bot, slack: FakeSlack, amp: Amp
) -> None:
    await kickoff(bot)
    message = await nth_review(slack, 1)
    assert bot.slack is not None
    reply = {
        "user": "UREPLY",
        "channel": message.channel,
        "thread_ts": message.ts,
        "text": "Cite your sources.",
        "ts": slack.next_ts(),
        "event_id": "EvREPLY",
    }

    first = await bot.slack.message(**reply)
    retried = await bot.slack.message(**reply, retry_num=1, retry_reason="http_timeout")

    assert (first.status_code, retried.status_code) == (200, 200)
    await amp.sim.wait_for(lambda: len(amp.sim.resume_calls) == 1)
    review_id = review_messages(slack)[0].metadata["event_payload"]["review_id"]
    assert [d.outcome for d in await bot.store.decisions_of(review_id)] == ["accepted"]
    assert slack.calls_to("chat.postEphemeral") == []


async def test_an_event_seen_before_a_restart_is_not_handled_again_after_it(
    bot: Bot, slack: FakeSlack
) -> None:
    assert bot.slack is not None
    seen = count_mentions(bot)
    await bot.slack.event(mention("before"), event_id="EvRESTART")
    await slack.wait_for(lambda: seen == ["before"])
    await bot.restart()
    assert bot.slack is not None
    seen_after = count_mentions(bot)

    await bot.slack.event(mention("before"), event_id="EvRESTART", retry_num=1)
    await bot.slack.event(mention("after"), event_id="EvNEW")

    await slack.wait_for(lambda: "after" in seen_after)
    assert seen_after == ["after"]


async def test_seen_event_ids_are_forgotten_after_they_expire(bot: Bot) -> None:
    assert await bot.store.first_sight("Ev1", keep=3600.0)
    assert not await bot.store.first_sight("Ev1", keep=3600.0)
    assert await bot.store.first_sight("Ev1", keep=0.0)


async def test_the_same_notification_sent_ten_times_at_once_makes_one_review(
    bot: Bot, slack: FakeSlack
) -> None:
    payload = {"execution_id": "ex-many", "task_id": "t1", "output": "same"}

    answers = await asyncio.gather(*(bot.notify(payload) for _ in range(10)))

    assert {answer.status_code for answer in answers} == {200}
    assert len({answer.json()["review_id"] for answer in answers}) == 1
    assert sorted(answer.json()["duplicate"] for answer in answers) == [False] + [True] * 9
    await nth_review(slack, 1)
    assert len(await bot.store.reviews_of((await bot.store.execution_by_id("ex-many")).ref)) == 1
    assert len(review_messages(slack)) == 1
