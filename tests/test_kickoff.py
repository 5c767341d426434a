"""Starting the crew from Slack with `/crew kickoff` and the form AMP's inputs make."""

from __future__ import annotations

from typing import Any

from bot import blocks
from bot.kickoff import CHANNEL_BLOCK, CHANNEL_INPUT, INPUT_VALUE, KICKOFF_VIEW
from bot.simulator import COMPLETED
from tests.conftest import CHANNEL, REVIEWER, Amp, Bot
from tests.fakes.slack import FakeSlack
from tests.flows import click, nth_review
from tests.slack_steps import command, shown

KICKOFF_CHANNEL = "CKICKOFF"


async def open_form(bot: Bot, slack: FakeSlack, channel: str = KICKOFF_CHANNEL) -> dict[str, Any]:
    """`/crew kickoff` in a channel; the modal once AMP's answer has filled it in."""
    response = await command(bot, "kickoff", channel=channel)
    assert response.text == ""
    await slack.wait_for(lambda: bool(slack.calls_to("views.update")))
    (opened,) = [v for v in slack.views if v["method"] == "views.open"]
    assert "Asking AMP" in shown(opened["view"])
    return slack.view(opened["view_id"])


def form_values(inputs: dict[int, str], channel: str | None) -> dict[str, dict[str, Any]]:
    values: dict[str, dict[str, Any]] = {f"input_{n}": {INPUT_VALUE: v} for n, v in inputs.items()}
    picked = {"type": "conversations_select", "selected_conversation": channel}
    values[CHANNEL_BLOCK] = {CHANNEL_INPUT: picked}
    return values


async def test_kickoff_from_a_form_of_amps_inputs_starts_a_thread_of_its_own(
    bot: Bot, slack: FakeSlack, amp: Amp
) -> None:
    amp.sim.inputs = ["topic", "audience"]

    form = await open_form(bot, slack)

    assert form["callback_id"] == KICKOFF_VIEW
    labels = [b["label"]["text"] for b in form["blocks"] if b["type"] == "input"]
    assert labels == ["topic", "audience", "Post its reviews in"]
    picker = form["blocks"][-1]["element"]
    assert picker["type"] == "conversations_select"
    assert picker["initial_conversation"] == KICKOFF_CHANNEL

    assert bot.slack is not None
    submitted = await bot.slack.view_submission(
        user=REVIEWER,
        view_id=form["id"],
        values=form_values({0: "AI agents", 1: "engineers"}, KICKOFF_CHANNEL),
    )
    assert submitted.json()["response_action"] == "update"

    await slack.wait_for(lambda: "started the crew" in shown(slack.view(form["id"])))
    assert amp.sim.kickoff_calls[0]["inputs"] == {"topic": "AI agents", "audience": "engineers"}
    (kickoff_id,) = amp.sim.executions
    execution = await bot.store.execution_by_id(kickoff_id)
    assert execution.started_by == REVIEWER and execution.channel == KICKOFF_CHANNEL
    started = slack.messages[KICKOFF_CHANNEL][0]
    assert execution.thread_ts == started.ts
    assert f"<@{REVIEWER}> started the crew: execution `{kickoff_id}`" in shown(started.blocks)

    review = await nth_review(slack, 1, channel=KICKOFF_CHANNEL)
    assert "*Started by:* <@UREVIEWER>" in shown(review.blocks)
    await click(bot, review, blocks.APPROVE)
    await amp.sim.wait_for(lambda: amp.sim.executions[kickoff_id].state == COMPLETED)
    await slack.wait_for(
        lambda: any(
            "The crew finished" in m.text for m in slack.thread(KICKOFF_CHANNEL, started.ts)
        )
    )


async def test_an_empty_input_is_refused_in_the_form(bot: Bot, slack: FakeSlack, amp: Amp) -> None:
    form = await open_form(bot, slack)
    assert bot.slack is not None

    submitted = await bot.slack.view_submission(
        user=REVIEWER, view_id=form["id"], values=form_values({0: "   "}, None)
    )

    body = submitted.json()
    assert body["response_action"] == "errors"
    assert set(body["errors"]) == {"input_0", CHANNEL_BLOCK}
    assert amp.sim.kickoff_calls == []


async def test_the_form_says_when_amp_cannot_be_reached(
    bot: Bot, slack: FakeSlack, amp: Amp
) -> None:
    amp.sim.drop_next("inputs")

    form = await open_form(bot, slack)

    assert "AMP cannot be reached right now" in shown(form)
    assert form.get("submit") is None


async def test_amps_refusal_shows_in_the_form_and_the_started_message(
    bot: Bot, slack: FakeSlack, amp: Amp
) -> None:
    form = await open_form(bot, slack)
    amp.sim.fail_next(
        "kickoff",
        status=422,
        body={
            "error": "Validation Error",
            "message": "Missing required inputs",
            "details": {"missing_inputs": ["audience"]},
        },
    )
    assert bot.slack is not None

    await bot.slack.view_submission(
        user=REVIEWER, view_id=form["id"], values=form_values({0: "AI"}, KICKOFF_CHANNEL)
    )

    await slack.wait_for(lambda: "AMP refused the kickoff" in shown(slack.view(form["id"])))
    assert "missing `audience`" in shown(slack.view(form["id"]))
    await slack.wait_for(lambda: "AMP refused" in shown(slack.messages[KICKOFF_CHANNEL][0].blocks))


async def test_a_channel_the_bot_is_not_in_starts_nothing(
    bot: Bot, slack: FakeSlack, amp: Amp
) -> None:
    slack.channels_member = {CHANNEL}
    form = await open_form(bot, slack)
    assert bot.slack is not None

    await bot.slack.view_submission(
        user=REVIEWER, view_id=form["id"], values=form_values({0: "AI"}, "CSECRET")
    )

    await slack.wait_for(lambda: "not_in_channel" in shown(slack.view(form["id"])))
    assert "/invite" in shown(slack.view(form["id"]))
    assert amp.sim.kickoff_calls == []
