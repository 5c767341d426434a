"""The Home tab: the reviews that wait, with buttons that decide, and what the user did."""

from __future__ import annotations

from typing import Any

from bot import blocks
from bot.home import HOME_PAGE
from bot.simulator import COMPLETED
from tests.conftest import REVIEWER, Amp, Bot
from tests.fakes.slack import FakeSlack
from tests.flows import click, kickoff, nth_review, review_id_of, wait_for_text
from tests.slack_steps import add_pending_reviews, shown


async def open_home(bot: Bot, user: str = REVIEWER) -> None:
    assert bot.slack is not None
    event = {"type": "app_home_opened", "user": user, "channel": "D0HOME", "tab": "home"}
    response = await bot.slack.event(event)
    assert response.status_code == 200


def publishes(slack: FakeSlack, user: str = REVIEWER) -> list[dict[str, Any]]:
    return [v for v in slack.views if v["method"] == "views.publish" and v["user_id"] == user]


def home_text(slack: FakeSlack, user: str = REVIEWER) -> str:
    home = slack.home_view(user)
    assert home is not None
    return shown(home["blocks"])


async def click_home(bot: Bot, action_id: str, value: str, *, user: str = REVIEWER) -> None:
    assert bot.slack is not None
    block_id = f"pending_0_{value}" if action_id in (blocks.APPROVE, blocks.REVISE) else None
    response = await bot.slack.block_action(
        user=user, action_id=action_id, value=value, container="view", block_id=block_id
    )
    assert response.status_code == 200, response.text


async def test_opening_the_home_tab_shows_what_waits_and_approve_there_decides(
    bot: Bot, slack: FakeSlack, amp: Amp
) -> None:
    kickoff_id = await kickoff(bot, started_by=REVIEWER)
    message = await nth_review(slack, 1)

    await open_home(bot)

    await slack.wait_for(lambda: bool(publishes(slack)))
    text = home_text(slack)
    assert "1 review waits for a decision" in text
    assert review_id_of(message) in text and blocks.APPROVE in text and blocks.REVISE in text
    assert f"`{kickoff_id}`" in text.split("Executions you started")[1]
    assert "None yet" in text.split("Your recent decisions")[1].split("Executions")[0]

    await click_home(bot, blocks.APPROVE, review_id_of(message))

    await amp.sim.wait_for(lambda: amp.sim.executions[kickoff_id].state == COMPLETED)
    await wait_for_text(slack, message, f"Approved* by <@{REVIEWER}>")
    await slack.wait_for(lambda: "Nothing waits for a decision" in home_text(slack))
    await slack.wait_for(lambda: "delivered to AMP" in home_text(slack))
    decisions = home_text(slack).split("Your recent decisions")[1]
    assert f"<@{REVIEWER}> ✅ approved" in decisions and f"of `{kickoff_id}`" in decisions

    await click_home(bot, blocks.APPROVE, review_id_of(message), user=REVIEWER)
    direct = "D" + REVIEWER[1:]
    await slack.wait_for(lambda: bool(slack.messages.get(direct)))
    assert "Someone was quicker" in slack.messages[direct][0].text
    assert len(amp.sim.resume_calls) == 1


async def test_revise_on_the_home_tab_opens_the_feedback_modal(
    bot: Bot, slack: FakeSlack, amp: Amp
) -> None:
    await kickoff(bot)
    message = await nth_review(slack, 1)
    await open_home(bot)
    await slack.wait_for(lambda: bool(publishes(slack)))

    await click_home(bot, blocks.REVISE, review_id_of(message))
    await slack.wait_for(lambda: bool(slack.calls_to("views.open")))
    assert bot.slack is not None
    await bot.slack.view_submission(
        user=REVIEWER, values={blocks.FEEDBACK_BLOCK: {blocks.FEEDBACK_INPUT: "Shorter, please"}}
    )

    await amp.sim.wait_for(lambda: len(amp.sim.resume_calls) == 1)
    assert amp.sim.resume_calls[0]["is_approve"] is False
    assert amp.sim.resume_calls[0]["human_feedback"] == "Shorter, please"


async def test_the_home_tab_refreshes_when_a_review_changes_state(
    bot: Bot, slack: FakeSlack, amp: Amp
) -> None:
    await open_home(bot, "UWATCHER")
    await slack.wait_for(lambda: len(publishes(slack, "UWATCHER")) == 1)
    assert "Nothing waits for a decision" in home_text(slack, "UWATCHER")

    await kickoff(bot)
    message = await nth_review(slack, 1)
    await slack.wait_for(lambda: review_id_of(message) in home_text(slack, "UWATCHER"))

    await click(bot, message, blocks.APPROVE, user="UOTHER")
    await slack.wait_for(lambda: "Nothing waits for a decision" in home_text(slack, "UWATCHER"))
    assert publishes(slack, "UOTHER") == [], "only people who opened the tab get it published"


async def test_the_home_tab_pages_through_many_reviews(bot: Bot, slack: FakeSlack) -> None:
    ids = await add_pending_reviews(bot, 12)
    await open_home(bot)
    await slack.wait_for(lambda: bool(publishes(slack)))
    assert "(page 1 of 2)" in home_text(slack) and ids[10] not in home_text(slack)
    home = slack.home_view(REVIEWER)
    assert home is not None and len(home["blocks"]) <= 100

    await click_home(bot, f"{HOME_PAGE}_next", "1")

    await slack.wait_for(lambda: "(page 2 of 2)" in home_text(slack))
    assert ids[10] in home_text(slack) and ids[0] not in home_text(slack)
    assert f"{HOME_PAGE}_previous" in home_text(slack)
