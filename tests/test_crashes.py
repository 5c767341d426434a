"""`kill -9` and SIGTERM of the bot as a real process: accepted work and decisions survive."""

from __future__ import annotations

from pathlib import Path

import pytest
from slack_sdk.web.async_client import AsyncWebClient

from bot import blocks, jobs
from bot.poster import REVIEW_EVENT, Poster
from bot.records import Job
from bot.reviews import ReviewService
from bot.simulator import COMPLETED
from bot.store import NewReview, Store
from tests.conftest import BOT_TOKEN, CHANNEL, WEBHOOK_TOKEN, Amp
from tests.fakes.slack import FakeSlack, Message
from tests.flows import nth_review, review_id_of, review_messages, text_of, wait_for_text
from tests.processes import bot_process


async def test_a_notification_acked_just_before_a_kill_is_posted_after_the_restart(
    tmp_path: Path, slack: FakeSlack, amp: Amp
) -> None:
    slack.fail_next("chat.postMessage", status=503, times=1000)
    async with bot_process(tmp_path, slack, amp) as bot:
        answer = await bot.http.post(
            bot.url + "/amp/human-input",
            json={"execution_id": "ex-kill", "task_id": "t1", "output": "draft"},
            headers={"Authorization": f"Bearer {WEBHOOK_TOKEN}"},
        )
        assert answer.status_code == 200
        await slack.wait_for(lambda: len(slack.calls_to("chat.postMessage")) >= 1)

        await bot.kill()
        slack.clear_faults()
        await bot.start()

        message = await nth_review(slack, 1)
        assert "draft" in text_of(message) and "nobody registered" in text_of(message)
        assert len(review_messages(slack)) == 1


async def test_a_kill_while_posting_to_slack_neither_loses_nor_doubles_the_review(
    tmp_path: Path, slack: FakeSlack, amp: Amp
) -> None:
    slack.hang_next("chat.postMessage", seconds=1.0)
    async with bot_process(tmp_path, slack, amp) as bot:
        kickoff = await bot.api("/api/kickoff", {"inputs": {"topic": "AI"}})
        kickoff_id = kickoff.json()["kickoff_id"]
        await slack.wait_for(lambda: len(slack.calls_to("chat.postMessage")) == 1)

        await bot.kill()
        # Slack finishes the post the bot was waiting for; the bot never learns its ts.
        message = await nth_review(slack, 1)
        await bot.start()

        await slack.wait_for(lambda: len(slack.calls_to("conversations.history")) >= 1)
        await slack.wait_for(
            lambda: bool(bot.query("SELECT 1 FROM reviews WHERE message_ts IS NOT NULL"))
        )
        await bot.click(message, blocks.APPROVE)
        await wait_for_text(slack, message, "Delivered to AMP")
        await amp.sim.wait_for(lambda: amp.sim.executions[kickoff_id].state == COMPLETED)
        assert len(review_messages(slack)) == 1


async def test_a_kill_during_the_resume_call_delivers_the_decision_once_after_the_restart(
    tmp_path: Path, slack: FakeSlack, amp: Amp
) -> None:
    async with bot_process(tmp_path, slack, amp) as bot:
        kickoff = await bot.api("/api/kickoff", {"inputs": {"topic": "AI"}})
        execution = amp.sim.executions[kickoff.json()["kickoff_id"]]
        message = await nth_review(slack, 1)
        amp.sim.hang_next("resume", seconds=1.0)

        await bot.click(message, blocks.APPROVE)
        await amp.sim.wait_for(lambda: len(amp.sim.resume_calls) == 1)
        await bot.kill()
        # AMP takes the decision after all, but its answer reaches nobody.
        await amp.sim.wait_for(lambda: len(execution.decisions) == 1)
        await bot.start()

        await wait_for_text(slack, message, "Delivered to AMP: *already resumed*")
        assert len(amp.sim.resume_calls) == 2 and len(execution.decisions) == 1
        assert "Approved* by" in text_of(slack.message(message.channel, message.ts))
        decisions = bot.query(
            "SELECT outcome FROM decisions WHERE review_id = ?", review_id_of(message)
        )
        assert [row["outcome"] for row in decisions] == ["accepted"]


async def test_a_decision_recorded_before_a_kill_is_resumed_after_the_restart(
    tmp_path: Path, slack: FakeSlack, amp: Amp
) -> None:
    async with bot_process(tmp_path, slack, amp) as bot:
        kickoff = await bot.api("/api/kickoff", {"inputs": {"topic": "AI"}})
        execution = amp.sim.executions[kickoff.json()["kickoff_id"]]
        message = await nth_review(slack, 1)
        amp.sim.fail_next("resume", status=503, times=1000)

        await bot.click(message, blocks.REVISE)
        await slack.wait_for(lambda: len(slack.calls_to("views.open")) == 1)
        submitted = await bot.slack.view_submission(
            user="UREVIEWER",
            values={blocks.FEEDBACK_BLOCK: {blocks.FEEDBACK_INPUT: "Cite every source."}},
        )
        assert submitted.status_code == 200
        await amp.sim.wait_for(lambda: len(amp.sim.resume_calls) >= 1)
        await bot.kill()
        amp.sim.clear_faults()
        await bot.start()

        await wait_for_text(slack, message, "Delivered to AMP")
        assert [d.human_feedback for d in execution.decisions] == ["Cite every source."]
        await nth_review(slack, 2)


async def test_sigterm_during_a_resume_finishes_it_and_exits_zero(
    tmp_path: Path, slack: FakeSlack, amp: Amp
) -> None:
    async with bot_process(tmp_path, slack, amp) as bot:
        await bot.api("/api/kickoff", {"inputs": {"topic": "AI"}})
        message = await nth_review(slack, 1)
        amp.sim.hang_next("resume", seconds=1.0)
        await bot.click(message, blocks.APPROVE)
        await amp.sim.wait_for(lambda: len(amp.sim.resume_calls) == 1)

        assert await bot.terminate() == 0

        assert bot.delivery(review_id_of(message)) == "delivered"
        assert "Traceback" not in bot.logs()
        await bot.start()
        await wait_for_text(slack, message, "Delivered to AMP: *resumed*")
        assert len(amp.sim.resume_calls) == 1


@pytest.mark.parametrize("in_thread", [False, True])
async def test_an_interrupted_post_finds_its_message_instead_of_posting_twice(
    tmp_path: Path, slack: FakeSlack, in_thread: bool
) -> None:
    store = await Store.open(tmp_path / "bot.db")
    try:
        client = AsyncWebClient(token=BOT_TOKEN, base_url=slack.base_url)
        poster = Poster(ReviewService(store), client, default_channel=CHANNEL)
        execution = await store.create_execution(channel=CHANNEL, source="webhook")
        first = (await store.add_review(new_review(execution.ref, "first"))).review
        parent = bot_message(slack, first.id)
        review, thread_ts = first, None
        if in_thread:
            await store.set_message(first.id, channel=CHANNEL, ts=parent.ts, thread_ts=parent.ts)
            review = (await store.add_review(new_review(execution.ref, "second"))).review
            thread_ts = parent.ts
        posted = bot_message(slack, review.id, thread_ts=thread_ts) if in_thread else parent
        slack.add_message(CHANNEL, "A newer message", user="USOMEONE", thread_ts=thread_ts)

        await poster.post_review(interrupted(review.id))

        assert slack.calls_to("chat.postMessage") == []
        assert (await store.review(review.id)).message_ts == posted.ts
    finally:
        await store.close()


def new_review(ref: str, output: str) -> NewReview:
    return NewReview(execution_ref=ref, task_id="t", output=output, output_hash=output, payload={})


def bot_message(slack: FakeSlack, review_id: str, thread_ts: str | None = None) -> Message:
    """A review message the bot posted, as Slack keeps it."""
    message = slack.add_message(
        CHANNEL, "Review", user=slack.bot_user_id, bot_id=slack.bot_id, thread_ts=thread_ts
    )
    message.metadata = {"event_type": REVIEW_EVENT, "event_payload": {"review_id": review_id}}
    return message


def interrupted(review_id: str) -> Job:
    """A post_review job that was running when the bot stopped."""
    lane = jobs.slack_lane(CHANNEL)
    return Job(1, jobs.POST_REVIEW, review_id, lane, {"interrupted": True}, 1, 0.0, None, None, 0.0)
