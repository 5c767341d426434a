"""The `/crew` command: help, pending reviews, status, history, and what it says to mistakes."""

from __future__ import annotations

from bot import blocks
from bot.commands import PENDING_APPROVE, PENDING_PAGE
from bot.simulator import COMPLETED
from tests.conftest import CHANNEL, REVIEWER, Amp, Bot
from tests.fakes.slack import FakeSlack
from tests.flows import click, kickoff, nth_review, review_id_of, wait_for_text
from tests.slack_steps import ack_text, add_pending_reviews, command, reply, shown


async def test_help_lists_every_subcommand_privately(bot: Bot) -> None:
    for text in ("help", "", "HELP"):
        answer = ack_text(await command(bot, text))
        for name in ("help", "pending", "status <execution_id>", "history", "kickoff"):
            assert f"/crew {name}" in answer


async def test_mistakes_get_the_help_with_what_was_wrong(bot: Bot) -> None:
    cases = {
        "frobnicate now": "`/crew frobnicate` is not something I know",
        "status": "`/crew status` needs one execution id",
        "status a b": "`/crew status` needs one execution id",
        "pending soon": "takes a page number (1, 2, …), not `soon`",
        "pending 0": "takes a page number",
        "history a b": "takes at most one execution id",
        "kickoff now": "`/crew kickoff` takes nothing more",
    }
    for text, problem in cases.items():
        answer = ack_text(await command(bot, text))
        assert problem in answer, text
        assert "/crew history [<execution_id>]" in answer


async def test_an_unknown_execution_id_says_so(bot: Bot, slack: FakeSlack) -> None:
    for text in ("status nope-123", "history nope-123"):
        response = await command(bot, text)
        assert response.text == ""
    await slack.wait_for(lambda: len(slack.responses) == 2)
    for post in slack.responses:
        assert post.body["response_type"] == "ephemeral"
        assert "I have no record of execution `nope-123`" in shown(post.body)


async def test_pending_lists_reviews_oldest_first_and_approves_from_the_list(
    bot: Bot, slack: FakeSlack, amp: Amp
) -> None:
    first_id = await kickoff(bot, started_by="UALICE")
    first = await nth_review(slack, 1)
    await kickoff(bot)
    second = await nth_review(slack, 2)

    await command(bot, "pending")

    await slack.wait_for(lambda: len(slack.responses) == 1)
    listing = slack.responses[0].body
    assert listing["response_type"] == "ephemeral"
    text = shown(listing["blocks"])
    assert "2 reviews wait for a decision" in text
    assert text.index(review_id_of(first)) < text.index(review_id_of(second))
    assert "started by <@UALICE>" in text and "waiting " in text
    assert f"/archives/{CHANNEL}/p{first.ts.replace('.', '')}|open the review" in text

    response = await bot.slack.block_action(  # type: ignore[union-attr]
        user=REVIEWER,
        action_id=PENDING_APPROVE,
        value=review_id_of(first),
        channel=CHANNEL,
        message_ts=slack.next_ts(),
        block_id=f"pending_0_{review_id_of(first)}",
    )
    assert response.status_code == 200

    await amp.sim.wait_for(lambda: amp.sim.executions[first_id].state == COMPLETED)
    await wait_for_text(slack, first, f"Approved* by <@{REVIEWER}>")
    assert len(amp.sim.resume_calls) == 1
    await slack.wait_for(lambda: len(slack.responses) == 2)
    refreshed = slack.responses[1].body
    assert refreshed["replace_original"] is True
    assert "1 review waits for a decision" in shown(refreshed["blocks"])
    assert review_id_of(first) not in shown(refreshed["blocks"])


async def test_pending_pages_through_many_reviews(bot: Bot, slack: FakeSlack) -> None:
    ids = await add_pending_reviews(bot, 12)

    await command(bot, "pending")
    await command(bot, "pending 2")

    await slack.wait_for(lambda: len(slack.responses) == 2)
    page_one, page_two = (shown(post.body["blocks"]) for post in slack.responses)
    assert "12 reviews wait for a decision* (page 1 of 2)" in page_one
    assert all(review_id in page_one for review_id in ids[:10])
    assert ids[10] not in page_one
    assert f"{PENDING_PAGE}_next" in page_one and f"{PENDING_PAGE}_previous" not in page_one
    assert "(page 2 of 2)" in page_two and ids[10] in page_two and ids[11] in page_two
    assert "not posted yet" in page_two


async def test_status_shows_our_record_and_amps_live_status(
    bot: Bot, slack: FakeSlack, amp: Amp
) -> None:
    kickoff_id = await kickoff(bot)
    message = await nth_review(slack, 1)
    await reply(bot, message, "Add sources")
    second = await nth_review(slack, 2)
    await click(bot, second, blocks.APPROVE)
    await amp.sim.wait_for(lambda: amp.sim.executions[kickoff_id].state == COMPLETED)
    await slack.wait_for(
        lambda: any("The crew finished" in m.text for m in slack.thread(CHANNEL, message.ts))
    )

    await command(bot, f"status {kickoff_id}")
    await slack.wait_for(lambda: len(slack.responses) == 1)
    amp.sim.fail_next("status", status=200, body={"state": "PENDING_HUMAN_INPUT"})
    await command(bot, f"status `{kickoff_id}`")

    await slack.wait_for(lambda: len(slack.responses) == 2)
    status, by_state = (shown(post.body) for post in slack.responses)
    assert f"Execution `{kickoff_id}`" in status
    assert "attempt 1: ✏️ *Revision requested* by <@UREVIEWER>" in status
    assert "attempt 2: ✅ *Approved* by <@UREVIEWER>" in status
    assert "Delivered to AMP" in status
    assert "*Result* (completed)" in status
    assert "*AMP says:* `completed`" in status
    assert "*AMP says:* `PENDING_HUMAN_INPUT`" in by_state


async def test_status_says_when_amp_cannot_be_reached(bot: Bot, slack: FakeSlack, amp: Amp) -> None:
    kickoff_id = await kickoff(bot)
    amp.sim.drop_next("status", times=2)

    await command(bot, f"status {kickoff_id}")

    await slack.wait_for(lambda: len(slack.responses) == 1)
    text = shown(slack.responses[0].body)
    assert f"Execution `{kickoff_id}`" in text
    assert "*AMP cannot be reached:*" in text


async def test_history_tells_who_decided_what_and_how_the_resume_went(
    bot: Bot, slack: FakeSlack, amp: Amp
) -> None:
    kickoff_id = await kickoff(bot)
    message = await nth_review(slack, 1)
    await reply(bot, message, "Cite the 2024 report", user="UALICE")
    await amp.sim.wait_for(lambda: len(amp.sim.resume_calls) == 1)
    second = await nth_review(slack, 2)
    await click(bot, second, blocks.APPROVE, user="UBOB")
    await click(bot, second, blocks.APPROVE, user="UCAROL")
    await amp.sim.wait_for(lambda: amp.sim.executions[kickoff_id].state == COMPLETED)
    await wait_for_text(slack, second, "Delivered to AMP")

    await command(bot, f"history {kickoff_id}")
    await slack.wait_for(lambda: len(slack.responses) >= 2)
    await command(bot, "history")

    await slack.wait_for(lambda: len(slack.responses) == 3)
    trail = shown(slack.responses[1].body)
    latest = shown(slack.responses[2].body)
    alice = trail.index("<@UALICE> ✏️ asked to revise")
    bob = trail.index("<@UBOB> ✅ approved")
    carol = trail.index("<@UCAROL> ✅ approved")
    assert alice < bob < carol
    assert "(via thread): delivered to AMP, *retrying*" in trail
    assert "> Cite the 2024 report" in trail
    assert "(via button): delivered to AMP, *resumed*" in trail
    assert "too late, another decision stood" in trail
    assert f"of `{kickoff_id}`" in latest and "<@UALICE>" in latest
