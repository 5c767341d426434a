"""Polling AMP's status, for pauses and ends that no webhook told the bot of."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable

import pytest

from bot import blocks
from bot.app import POLLER
from bot.poller import Poller
from bot.simulator import COMPLETED
from tests.conftest import CHANNEL, Amp, Bot
from tests.fakes.slack import FakeSlack
from tests.flows import click, kickoff, nth_review, review_messages, text_of, wait_for_text


def poller_of(bot: Bot) -> Poller:
    assert bot.runner is not None
    poller = bot.runner.app[POLLER]
    assert poller is not None
    return poller


@pytest.fixture
async def polling_bot(make_bot: Callable[..., Bot], amp: Amp) -> AsyncIterator[Bot]:
    """A bot that polls often, with an AMP whose webhooks never reach it."""
    amp.sim.deliver_webhooks = False
    server = make_bot(bot_poll_interval=0.05, bot_poll_max_interval=0.2)
    await server.start()
    yield server
    await server.stop()
    await server.http.aclose()


async def test_a_pause_nobody_notified_becomes_a_review_and_the_end_a_result(
    polling_bot: Bot, slack: FakeSlack, amp: Amp
) -> None:
    kickoff_id = await kickoff(polling_bot)

    message = await nth_review(slack, 1)
    undelivered = amp.sim.executions[kickoff_id].sent("human_input")
    assert [delivery.status_code for delivery in undelivered] == [None]
    assert amp.sim.executions[kickoff_id].current_output in text_of(message)
    await slack.wait_for(
        lambda: any("by polling" in m.text for m in slack.thread(CHANNEL, message.ts)[1:])
    )

    await click(polling_bot, message, blocks.APPROVE)
    await amp.sim.wait_for(lambda: amp.sim.executions[kickoff_id].state == COMPLETED)
    await wait_for_text(slack, message, "Delivered to AMP")
    await slack.wait_for(
        lambda: any("The crew finished" in m.text for m in slack.thread(CHANNEL, message.ts))
    )
    execution = await polling_bot.store.execution_by_id(kickoff_id)
    assert execution.state == "completed"
    assert execution.result == amp.sim.executions[kickoff_id].task_outputs["writing_task"]
    assert await poller_of(polling_bot).poll_due(execution.created_at + 10_000) == []


async def test_a_notification_after_the_polled_review_is_a_duplicate(
    polling_bot: Bot, slack: FakeSlack, amp: Amp
) -> None:
    kickoff_id = await kickoff(polling_bot)
    await nth_review(slack, 1)
    execution = amp.sim.executions[kickoff_id]

    late = await polling_bot.notify(
        {"execution_id": kickoff_id, "task_id": "research_task", "output": execution.current_output}
    )

    assert late.status_code == 200 and late.json()["duplicate"] is True
    assert len(review_messages(slack)) == 1
    stored = await polling_bot.store.execution_by_id(kickoff_id)
    assert [review.id for review in await polling_bot.store.reviews_of(stored.ref)] == [
        late.json()["review_id"]
    ]


async def test_polling_backs_off_while_the_status_stays_and_ends_with_the_execution(
    make_bot: Callable[..., Bot], slack: FakeSlack, amp: Amp
) -> None:
    bot = make_bot(bot_poll_interval=100, bot_poll_max_interval=400)
    await bot.start()
    try:
        kickoff_id = await kickoff(bot)
        message = await nth_review(slack, 1)
        poller = poller_of(bot)
        t = (await bot.store.execution_by_id(kickoff_id)).created_at

        assert await poller.poll_due(t + 99) == []
        assert await poller.poll_due(t + 101) == [kickoff_id]
        assert await poller.poll_due(t + 200) == []
        assert await poller.poll_due(t + 302) == [kickoff_id]
        assert await poller.poll_due(t + 500) == []
        assert await poller.poll_due(t + 703) == [kickoff_id]
        assert await poller.poll_due(t + 1102) == []
        assert await poller.poll_due(t + 1104) == [kickoff_id]

        await click(bot, message, blocks.APPROVE)
        await amp.sim.wait_for(lambda: amp.sim.executions[kickoff_id].finished)
        await slack.wait_for(
            lambda: any("The crew finished" in m.text for m in slack.thread(CHANNEL, message.ts))
        )
        assert await poller.poll_due(t + 2_000) == []
        assert len(review_messages(slack)) == 1
    finally:
        await bot.stop()
        await bot.http.aclose()


async def test_only_executions_the_bot_started_are_polled(
    make_bot: Callable[..., Bot], slack: FakeSlack
) -> None:
    bot = make_bot(bot_poll_interval=100)
    await bot.start()
    try:
        registered = await bot.api("/api/executions", {"execution_id": "started-elsewhere"})
        assert registered.status_code == 201
        notified = await bot.notify({"execution_id": "ex-2", "task_id": "t", "output": "o"})
        assert notified.status_code == 200

        assert await poller_of(bot).poll_due(time.time() + 1_000) == []
    finally:
        await bot.stop()
        await bot.http.aclose()


async def test_a_pause_the_status_cannot_describe_is_reported_once(
    polling_bot: Bot, slack: FakeSlack, amp: Amp
) -> None:
    amp.sim.status_shows_pending_task = False
    kickoff_id = await kickoff(polling_bot)
    poller = poller_of(polling_bot)
    created_at = (await polling_bot.store.execution_by_id(kickoff_id)).created_at

    await slack.wait_for(
        lambda: any("waits for human input" in m.text for m in slack.messages[CHANNEL])
    )
    assert await poller.poll_due(created_at + 10_000) == [kickoff_id]

    notices = [m for m in slack.messages[CHANNEL] if "waits for human input" in m.text]
    waiting = [job for job in await polling_bot.store.jobs() if job.kind == "post_notice"]
    assert len(notices) + len(waiting) == 1
    assert kickoff_id in notices[0].text
    assert review_messages(slack) == []
