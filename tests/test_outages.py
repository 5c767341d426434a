"""Outages of AMP and Slack: retried with backoff or Retry-After, else reported clearly."""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import Callable

import pytest

from bot import blocks, jobs
from bot.simulator import PENDING_HUMAN_INPUT, CrewSimulator, SimExecution
from bot.states import Delivery
from tests.conftest import AMP_TOKEN, CHANNEL, Amp, Bot, free_socket, serve
from tests.fakes.slack import FakeSlack
from tests.flows import (
    click,
    nth_review,
    review_id_of,
    review_messages,
    text_of,
    wait_for_text,
)


async def register(bot: Bot, execution_id: str, channel: str = CHANNEL) -> None:
    answer = await bot.api("/api/executions", {"execution_id": execution_id, "channel": channel})
    assert answer.status_code == 201, answer.text


async def test_amp_refusing_connections_for_a_while_is_retried_until_it_is_back(
    make_bot: Callable[..., Bot], slack: FakeSlack
) -> None:
    sock = free_socket()
    port = sock.getsockname()[1]
    bot = make_bot(crewai_url=f"http://127.0.0.1:{port}")
    await bot.start()
    runner = None
    try:
        await register(bot, "ex-down")
        await bot.notify({"execution_id": "ex-down", "task_id": "research_task", "output": "o"})
        message = await nth_review(slack, 1)
        await click(bot, message, blocks.APPROVE)

        retrying = await wait_for_text(slack, message, "Retrying")
        assert "cannot connect to AMP" in text_of(retrying)
        sim = CrewSimulator(token=AMP_TOKEN)
        sim.executions["ex-down"] = SimExecution("ex-down", {}, state=PENDING_HUMAN_INPUT)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        runner, _ = await serve(sim.web_app(), sock)

        await wait_for_text(slack, message, "Delivered to AMP: *resumed*")
        assert len(sim.resume_calls) == 1
        assert (await bot.store.review(review_id_of(message))).resume_attempts >= 2
    finally:
        await bot.stop()
        await bot.http.aclose()
        if runner is not None:
            await runner.cleanup()


async def test_a_slack_rate_limit_pauses_only_its_channel_for_retry_after(
    bot: Bot, slack: FakeSlack
) -> None:
    await register(bot, "ex-limited")
    await register(bot, "ex-other", channel="COTHER")
    slack.fail_next("chat.postMessage", status=429, retry_after=1)
    before = time.time()

    await bot.notify({"execution_id": "ex-limited", "task_id": "t", "output": "limited"})
    await slack.wait_for(lambda: len(slack.calls_to("chat.postMessage")) == 1)
    await bot.notify({"execution_id": "ex-other", "task_id": "t", "output": "other"})

    await nth_review(slack, 1, channel="COTHER")
    assert review_messages(slack, CHANNEL) == []
    [waiting] = [job for job in await bot.store.jobs("ready") if job.kind == jobs.POST_REVIEW]
    assert waiting.lane == jobs.slack_lane(CHANNEL) and "rate limit" in str(waiting.last_error)
    assert waiting.run_at >= before + 1.0
    message = await nth_review(slack, 1)
    assert "limited" in text_of(message)


async def test_slack_server_errors_are_retried_for_posts_and_updates(
    bot: Bot, slack: FakeSlack, amp: Amp
) -> None:
    await register(bot, "ex-5xx")
    slack.fail_next("chat.postMessage", status=503, times=2)
    await bot.notify({"execution_id": "ex-5xx", "task_id": "research_task", "output": "o"})
    message = await nth_review(slack, 1)
    assert len(slack.calls_to("chat.postMessage")) == 3

    slack.fail_next("chat.update", status=500, times=1000)
    await click(bot, message, blocks.APPROVE)
    await slack.wait_for(lambda: len(slack.calls_to("chat.update")) >= 3)
    review = await bot.store.review(review_id_of(message))
    assert review.delivery is Delivery.FAILED  # the simulator never ran this execution
    assert "Not delivered" not in text_of(slack.message(CHANNEL, message.ts))

    slack.clear_faults()
    await wait_for_text(slack, message, "Not delivered to AMP")


@pytest.mark.parametrize(
    ("error", "hint"),
    [
        ("not_in_channel", "invite the bot to the channel"),
        ("channel_not_found", "check the channel ID"),
        ("is_archived", "the channel is archived"),
    ],
)
async def test_a_post_slack_refuses_for_good_is_reported_in_the_default_channel(
    bot: Bot, slack: FakeSlack, caplog: pytest.LogCaptureFixture, error: str, hint: str
) -> None:
    await register(bot, "ex-refused", channel="COTHER")
    slack.fail_next("chat.postMessage", error=error)

    with caplog.at_level(logging.ERROR, logger="bot.outbox"):
        await bot.notify({"execution_id": "ex-refused", "task_id": "t", "output": "o"})
        await slack.wait_for(lambda: bool(slack.messages.get(CHANNEL)))

    notice = slack.messages[CHANNEL][0]
    assert "<#COTHER>" in text_of(notice) and hint in text_of(notice)
    assert review_messages(slack, "COTHER") == []
    logged = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert any(error in line and hint in line for line in logged)
    assert len(slack.calls_to("chat.postMessage")) == 2


async def test_the_default_channel_refusing_posts_is_logged_without_a_notice_loop(
    bot: Bot, slack: FakeSlack, caplog: pytest.LogCaptureFixture
) -> None:
    slack.channels_member = set()

    with caplog.at_level(logging.ERROR, logger="bot.outbox"):
        await bot.notify({"execution_id": "ex-lonely", "task_id": "t", "output": "o"})
        await slack.wait_for(lambda: any(r.levelno == logging.ERROR for r in caplog.records))

    assert "not_in_channel" in caplog.text and "invite the bot" in caplog.text
    assert len(slack.calls_to("chat.postMessage")) == 1
    [kept] = await bot.store.jobs("failed")
    assert kept.kind == jobs.POST_REVIEW and "not_in_channel" in str(kept.last_error)


async def test_a_message_slack_finds_too_long_is_posted_compact(
    bot: Bot, slack: FakeSlack, caplog: pytest.LogCaptureFixture
) -> None:
    slack.fail_next("chat.postMessage", error="msg_too_long")
    long_output = "\n".join(f"Line {n}: " + "word " * 30 for n in range(400))

    with caplog.at_level(logging.WARNING, logger="bot.poster"):
        await bot.notify({"execution_id": "ex-long", "task_id": "t", "output": long_output})
        message = await nth_review(slack, 1)

    assert len(text_of(message)) < len(str(slack.calls_to("chat.postMessage")[0].args["blocks"]))
    assert blocks.FULL_OUTPUT in str(message.blocks)
    assert "too big" in caplog.text
