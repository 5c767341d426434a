"""The review loop end to end: AMP pauses, Slack decides, AMP resumes."""

from __future__ import annotations

import json
from typing import Any

from bot import blocks
from bot.simulator import COMPLETED
from tests.conftest import CHANNEL, REVIEWER, Amp, Bot
from tests.fakes.slack import FakeSlack
from tests.flows import (
    button_ids,
    click,
    kickoff,
    nth_review,
    review_messages,
    revise_via_modal,
    text_of,
    wait_for_text,
)


async def test_approve_resumes_amp_with_the_kickoff_webhook_urls(
    bot: Bot, slack: FakeSlack, amp: Amp
) -> None:
    kickoff_id = await kickoff(bot)
    message = await nth_review(slack, 1)
    assert button_ids(message) == [blocks.APPROVE, blocks.REVISE]
    assert "Industry Research" in text_of(message) or "research_task" in text_of(message)

    await click(bot, message, blocks.APPROVE)

    await amp.sim.wait_for(lambda: len(amp.sim.resume_calls) == 1)
    resume = amp.sim.resume_calls[0]
    sent_at_kickoff = amp.sim.kickoff_calls[0]
    assert resume["execution_id"] == kickoff_id
    assert resume["task_id"] == "research_task"
    assert resume["is_approve"] is True
    assert resume["human_feedback"] == "Approved."
    for name in ("taskWebhookUrl", "stepWebhookUrl", "crewWebhookUrl"):
        assert resume[name] == sent_at_kickoff[name]

    updated = await wait_for_text(slack, message, "Delivered to AMP")
    assert button_ids(updated) == []
    assert f"Approved* by <@{REVIEWER}>" in text_of(updated)

    await amp.sim.wait_for(lambda: amp.sim.executions[kickoff_id].state == COMPLETED)
    await slack.wait_for(
        lambda: any("The crew finished" in m.text for m in slack.thread(CHANNEL, message.ts))
    )
    execution = await bot.store.execution_by_id(kickoff_id)
    assert execution.state == "completed" and execution.result


async def test_a_second_clicker_is_told_who_decided(bot: Bot, slack: FakeSlack, amp: Amp) -> None:
    await kickoff(bot)
    message = await nth_review(slack, 1)
    await click(bot, message, blocks.APPROVE, user="UFIRST")
    await click(bot, message, blocks.APPROVE, user="USECOND")

    await slack.wait_for(lambda: any("quicker" in str(p.body) for p in slack.responses))
    told = [p.body for p in slack.responses if "quicker" in str(p.body)]
    assert "<@UFIRST>" in told[0]["text"] and told[0]["response_type"] == "ephemeral"
    await amp.sim.wait_for(lambda: len(amp.sim.resume_calls) == 1)
    decisions = await bot.store.decisions_of(message.metadata["event_payload"]["review_id"])
    assert [d.reviewer for d in decisions] == ["UFIRST", "USECOND"]


async def test_revise_via_the_modal_then_approve_the_second_attempt_in_the_thread(
    bot: Bot, slack: FakeSlack, amp: Amp
) -> None:
    kickoff_id = await kickoff(bot)
    first = await nth_review(slack, 1)

    empty = await revise_via_modal(bot, slack, first, "   ")
    assert empty.json()["response_action"] == "errors"
    assert blocks.FEEDBACK_BLOCK in empty.json()["errors"]
    assert amp.sim.resume_calls == []

    sent = await revise_via_modal(bot, slack, first, "Add sources for every claim.")
    assert sent.status_code == 200 and sent.text == ""
    await amp.sim.wait_for(lambda: len(amp.sim.resume_calls) == 1)
    resume = amp.sim.resume_calls[0]
    assert resume["is_approve"] is False
    assert resume["human_feedback"] == "Add sources for every claim."

    await wait_for_text(slack, first, "Revision requested")
    second = await nth_review(slack, 2)
    assert second.thread_ts == first.ts
    assert "*Attempt:* 2" in text_of(second)
    assert "Add sources for every claim." in text_of(second)
    assert "*Attempt:* 1" in text_of(slack.message(CHANNEL, first.ts))

    await click(bot, second, blocks.APPROVE)
    await amp.sim.wait_for(lambda: amp.sim.executions[kickoff_id].state == COMPLETED)
    assert [call["is_approve"] for call in amp.sim.resume_calls] == [False, True]
    await wait_for_text(slack, second, "Delivered to AMP")


async def test_a_review_posted_before_a_restart_can_be_decided_after_it(
    bot: Bot, slack: FakeSlack, amp: Amp
) -> None:
    kickoff_id = await kickoff(bot)
    message = await nth_review(slack, 1)

    await bot.restart()

    await click(bot, message, blocks.APPROVE)
    await amp.sim.wait_for(lambda: amp.sim.executions[kickoff_id].state == COMPLETED)
    await wait_for_text(slack, message, "Delivered to AMP")
    assert len(review_messages(slack)) == 1


async def test_a_post_pending_at_a_restart_is_posted_after_it(
    bot: Bot, slack: FakeSlack, amp: Amp
) -> None:
    slack.fail_next("chat.postMessage", status=503, times=1000)
    await kickoff(bot)
    await slack.wait_for(lambda: len(slack.calls_to("chat.postMessage")) >= 1)
    await bot.stop()
    assert review_messages(slack) == []
    slack.clear_faults()

    await bot.start()
    message = await nth_review(slack, 1)
    assert button_ids(message) == [blocks.APPROVE, blocks.REVISE]


def next_page_button(view: dict[str, Any]) -> dict[str, Any] | None:
    for block in view.get("blocks", []):
        for element in block.get("elements", []) if block["type"] == "actions" else []:
            if element["text"]["text"] == "Next page":
                return dict(element)
    return None


async def test_a_long_output_is_shortened_and_paged_in_full_in_a_modal(
    bot: Bot, slack: FakeSlack, amp: Amp
) -> None:
    long_output = "\n".join(f"Finding {n}: " + "evidence " * 20 for n in range(600))
    amp.sim.tasks[0].outputs = [long_output]
    await kickoff(bot)
    message = await nth_review(slack, 1)
    assert blocks.FULL_OUTPUT in button_ids(message)
    assert "Finding 599" not in text_of(message)

    await click(bot, message, blocks.FULL_OUTPUT)
    await slack.wait_for(lambda: len(slack.views) == 1)
    assert bot.slack is not None
    pages = [json.dumps(slack.views[0]["view"])]
    while (button := next_page_button(slack.views[-1]["view"])) is not None:
        assert len(pages) < 20
        shown = len(slack.views)
        await bot.slack.block_action(
            user=REVIEWER,
            action_id=button["action_id"],
            value=button["value"],
            container="view",
            view={**slack.views[-1]["view"], "id": slack.views[-1]["view_id"]},
        )
        await slack.wait_for(lambda shown=shown: len(slack.views) > shown)  # type: ignore[misc]
        pages.append(json.dumps(slack.views[-1]["view"]))
    assert len(pages) > 1
    assert "Finding 0:" in pages[0]
    assert "Finding 599:" in pages[-1]


async def test_a_resume_queued_before_a_restart_is_delivered_after_it(
    bot: Bot, slack: FakeSlack, amp: Amp
) -> None:
    kickoff_id = await kickoff(bot)
    message = await nth_review(slack, 1)
    amp.sim.fail_next("resume", status=503, times=1000)
    await click(bot, message, blocks.APPROVE)
    await amp.sim.wait_for(lambda: len(amp.sim.resume_calls) >= 1)
    await bot.stop()

    amp.sim.clear_faults()
    await bot.start()

    await amp.sim.wait_for(lambda: amp.sim.executions[kickoff_id].state == COMPLETED)
    await wait_for_text(slack, message, "Delivered to AMP")


async def test_task_and_step_webhooks_are_stored(bot: Bot, slack: FakeSlack, amp: Amp) -> None:
    kickoff_id = await kickoff(bot)
    message = await nth_review(slack, 1)
    await click(bot, message, blocks.APPROVE)
    await amp.sim.wait_for(lambda: amp.sim.executions[kickoff_id].finished)
    execution = await bot.store.execution_by_id(kickoff_id)
    await slack.wait_for(
        lambda: any("crew finished" in m.text for m in slack.thread(CHANNEL, message.ts))
    )
    kinds = [event["kind"] for event in await bot.store.events(execution.ref)]
    assert "step" in kinds and "task" in kinds and "crew" in kinds
