"""The two Slack connection modes: Socket Mode over a websocket, and HTTP requests to the bot."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from bot import blocks
from bot.simulator import PENDING_HUMAN_INPUT
from tests.conftest import APP_TOKEN, REVIEWER, Amp, Bot
from tests.fakes.slack import FakeSlack, Message
from tests.flows import kickoff, nth_review, review_id_of, wait_for_text


@pytest.fixture
async def socket_bot(make_bot: Callable[..., Bot], slack: FakeSlack) -> AsyncIterator[Bot]:
    server = make_bot(slack_app_token=APP_TOKEN)
    await server.start()
    await slack.wait_for(lambda: slack.socket_mode.connected)
    yield server
    await server.stop()
    await server.http.aclose()


def click_payload(bot: Bot, message: Message, action_id: str) -> dict[str, Any]:
    """The block_actions payload of a click on a review's button, as Slack sends it."""
    assert bot.slack is not None
    return bot.slack.block_action_payload(
        user=REVIEWER,
        action_id=action_id,
        value=review_id_of(message),
        channel=message.channel,
        message_ts=message.ts,
    )


async def test_a_click_over_socket_mode_is_acked_on_the_socket_and_decides(
    socket_bot: Bot, slack: FakeSlack, amp: Amp
) -> None:
    kickoff_id = await kickoff(socket_bot)
    message = await nth_review(slack, 1)

    payload = click_payload(socket_bot, message, blocks.APPROVE)
    envelope_id = await slack.socket_mode.send("interactive", payload)

    assert await slack.socket_mode.ack(envelope_id) == {"envelope_id": envelope_id}
    await amp.sim.wait_for(lambda: len(amp.sim.resume_calls) == 1)
    assert amp.sim.resume_calls[0]["execution_id"] == kickoff_id
    assert amp.sim.resume_calls[0]["is_approve"] is True
    await wait_for_text(slack, message, "Delivered to AMP")
    opened = slack.calls_to("apps.connections.open")
    assert len(opened) == 1
    assert opened[0].headers["Authorization"] == f"Bearer {APP_TOKEN}"


async def test_a_modal_error_travels_in_the_ack_payload(
    socket_bot: Bot, slack: FakeSlack, amp: Amp
) -> None:
    kickoff_id = await kickoff(socket_bot)
    message = await nth_review(slack, 1)
    click = click_payload(socket_bot, message, blocks.REVISE)
    await slack.socket_mode.ack(await slack.socket_mode.send("interactive", click))
    await slack.wait_for(lambda: len(slack.calls_to("views.open")) == 1)

    assert socket_bot.slack is not None
    empty = socket_bot.slack.view_submission_payload(
        user=REVIEWER, values={blocks.FEEDBACK_BLOCK: {blocks.FEEDBACK_INPUT: "  "}}
    )
    ack = await slack.socket_mode.ack(await slack.socket_mode.send("interactive", empty))

    assert ack["payload"]["response_action"] == "errors"
    assert blocks.FEEDBACK_BLOCK in ack["payload"]["errors"]
    assert amp.sim.resume_calls == []
    assert amp.sim.executions[kickoff_id].state == PENDING_HUMAN_INPUT


async def test_socket_mode_serves_amp_and_health_but_not_slack_over_http(
    socket_bot: Bot, slack: FakeSlack
) -> None:
    events = await socket_bot.http.post(socket_bot.url + "/slack/events", content=b"{}")
    assert events.status_code == 404

    health = await socket_bot.http.get(socket_bot.url + "/healthz")
    assert health.status_code == 200
    assert health.json()["slack"] == "socket mode, connected"

    accepted = await socket_bot.notify({"execution_id": "ex-1", "task_id": "t", "output": "o"})
    assert accepted.status_code == 200
    await nth_review(slack, 1)

    await socket_bot.stop()
    await slack.wait_for(lambda: not slack.socket_mode.connected)


async def test_http_mode_opens_no_socket(bot: Bot, slack: FakeSlack) -> None:
    health = await bot.http.get(bot.url + "/healthz")
    assert health.json()["slack"] == "http"
    assert bot.slack is not None
    unsigned = await bot.slack.send_raw("{}", {}, "application/json")
    assert unsigned.status_code == 401
    assert slack.calls_to("apps.connections.open") == []
