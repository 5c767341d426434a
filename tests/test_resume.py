"""Delivering decisions to AMP: retries, AMP's errors, and what the message says meanwhile."""

from __future__ import annotations

import pytest

from bot import blocks
from bot.simulator import COMPLETED
from bot.states import Delivery
from tests.conftest import Amp, Bot
from tests.fakes.slack import FakeSlack
from tests.flows import button_ids, click, kickoff, nth_review, review_id_of, wait_for_text


async def test_server_errors_are_retried_until_amp_takes_the_decision(
    bot: Bot, slack: FakeSlack, amp: Amp
) -> None:
    kickoff_id = await kickoff(bot)
    message = await nth_review(slack, 1)
    amp.sim.fail_next("resume", status=503, times=3)

    await click(bot, message, blocks.APPROVE)

    await amp.sim.wait_for(lambda: amp.sim.executions[kickoff_id].state == COMPLETED)
    assert len(amp.sim.resume_calls) == 4
    review = await bot.store.review(review_id_of(message))
    assert review.delivery is Delivery.DELIVERED and review.resume_attempts == 4
    await wait_for_text(slack, message, "Delivered to AMP: *resumed*")
    shown = [call.args.get("blocks") for call in slack.calls_to("chat.update")]
    assert any("Retrying" in str(blocks_) and "503" in str(blocks_) for blocks_ in shown)


async def test_a_lost_answer_then_not_pending_counts_as_delivered(
    bot: Bot, slack: FakeSlack, amp: Amp
) -> None:
    kickoff_id = await kickoff(bot)
    message = await nth_review(slack, 1)
    amp.sim.process_then_fail_next("resume", status=502)

    await click(bot, message, blocks.APPROVE)

    await wait_for_text(slack, message, "already resumed")
    assert len(amp.sim.resume_calls) == 2
    await amp.sim.wait_for(lambda: amp.sim.executions[kickoff_id].state == COMPLETED)


async def test_a_dropped_connection_is_retried(bot: Bot, slack: FakeSlack, amp: Amp) -> None:
    kickoff_id = await kickoff(bot)
    message = await nth_review(slack, 1)
    amp.sim.drop_next("resume")

    await click(bot, message, blocks.APPROVE)

    await amp.sim.wait_for(lambda: amp.sim.executions[kickoff_id].state == COMPLETED)
    await wait_for_text(slack, message, "Delivered to AMP")


async def test_amp_hanging_past_the_timeout_is_retried(
    bot: Bot, slack: FakeSlack, amp: Amp
) -> None:
    kickoff_id = await kickoff(bot)
    message = await nth_review(slack, 1)
    amp.sim.hang_next("resume", seconds=3.0)

    await click(bot, message, blocks.APPROVE)

    await wait_for_text(slack, message, "Delivered to AMP")
    await amp.sim.wait_for(lambda: amp.sim.executions[kickoff_id].state == COMPLETED)


@pytest.mark.parametrize(
    ("status", "body", "hint"),
    [
        (401, {"error": "Unauthorized", "message": "Invalid bearer token"}, "check CREWAI_TOKEN"),
        (404, {"error": "Not Found", "message": "Execution ID not found"}, "check that CREWAI_URL"),
        (
            400,
            {
                "error": "Invalid Request",
                "message": "Execution is not in pending human input state",
            },
            "may have been resumed elsewhere",
        ),
    ],
)
async def test_errors_that_retrying_cannot_mend_fail_with_what_to_fix(
    bot: Bot, slack: FakeSlack, amp: Amp, status: int, body: dict[str, str], hint: str
) -> None:
    await kickoff(bot)
    message = await nth_review(slack, 1)
    amp.sim.fail_next("resume", status=status, body=body)

    await click(bot, message, blocks.APPROVE)

    failed = await wait_for_text(slack, message, "Not delivered to AMP")
    assert hint in str(failed.blocks)
    assert button_ids(failed) == [blocks.RETRY]
    assert len(amp.sim.resume_calls) == 1
    review = await bot.store.review(review_id_of(message))
    assert review.delivery is Delivery.FAILED


async def test_the_retry_button_sends_a_failed_resume_again(
    bot: Bot, slack: FakeSlack, amp: Amp
) -> None:
    kickoff_id = await kickoff(bot)
    message = await nth_review(slack, 1)
    amp.sim.fail_next("resume", status=401, body={"error": "Unauthorized", "message": "no"})
    await click(bot, message, blocks.APPROVE)
    failed = await wait_for_text(slack, message, "Not delivered to AMP")

    await click(bot, failed, blocks.RETRY)

    await amp.sim.wait_for(lambda: amp.sim.executions[kickoff_id].state == COMPLETED)
    await wait_for_text(slack, message, "Delivered to AMP")
    assert len(amp.sim.resume_calls) == 2


async def test_a_resume_that_keeps_failing_gives_up_at_its_deadline(
    make_bot: object, slack: FakeSlack, amp: Amp
) -> None:
    bot = make_bot(bot_resume_deadline=0.6)  # type: ignore[operator]
    await bot.start()
    try:
        await kickoff(bot)
        message = await nth_review(slack, 1)
        amp.sim.fail_next("resume", status=500, times=1000)
        await click(bot, message, blocks.APPROVE)
        failed = await wait_for_text(slack, message, "gave up after")
        assert button_ids(failed) == [blocks.RETRY]
        assert len(amp.sim.resume_calls) >= 2
    finally:
        await bot.stop()
        await bot.http.aclose()
