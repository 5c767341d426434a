"""Who may decide: approvers, approver groups, per-channel lists, and no self-approval."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable

import pytest
from slack_sdk.web.async_client import AsyncWebClient

from bot import approvers, blocks
from bot.approvers import Approvers
from bot.records import Execution, Review, WebhookUrls
from bot.settings import SettingsError
from bot.states import DecisionKind, Delivery, ReviewState
from tests.conftest import BOT_TOKEN, CHANNEL, Amp, Bot, bot_settings
from tests.fakes.slack import FakeSlack
from tests.flows import (
    button_ids,
    click,
    kickoff,
    nth_review,
    private_replies,
    review_id_of,
    submit_feedback,
    wait_for_text,
)

ALLOWED = "UALLOWED"
OTHER = "UOTHER"


@pytest.fixture
async def guarded(make_bot: Callable[..., Bot]) -> AsyncIterator[Bot]:
    """A bot on which only ALLOWED and the members of SREVIEWERS may decide."""
    server = make_bot(bot_approvers=f"{ALLOWED},SREVIEWERS")
    await server.start()
    yield server
    await server.stop()
    await server.http.aclose()


async def audit(bot: Bot, review_id: str) -> list[tuple[str, str, str, str]]:
    return [
        (d.reviewer, d.kind, d.source, d.outcome) for d in await bot.store.decisions_of(review_id)
    ]


async def test_a_refused_click_changes_nothing_and_says_why_privately(
    guarded: Bot, slack: FakeSlack, amp: Amp
) -> None:
    await kickoff(guarded)
    message = await nth_review(slack, 1)

    await click(guarded, message, blocks.APPROVE, user=OTHER)

    await slack.wait_for(lambda: len(slack.responses) == 1)
    assert slack.responses[0].body["response_type"] == "ephemeral"
    assert "You may not decide this review" in private_replies(slack)[0]
    assert approvers.NOT_AN_APPROVER in private_replies(slack)[0]
    review = await guarded.store.review(review_id_of(message))
    assert review.state is ReviewState.PENDING
    assert button_ids(slack.message(CHANNEL, message.ts)) == [blocks.APPROVE, blocks.REVISE]
    assert amp.sim.resume_calls == []

    await click(guarded, message, blocks.APPROVE, user=ALLOWED)
    await wait_for_text(slack, message, "Delivered to AMP")
    assert await audit(guarded, review.id) == [
        (OTHER, "approve", "button", "refused"),
        (ALLOWED, "approve", "button", "accepted"),
    ]


async def test_a_member_of_an_approver_group_may_decide_and_the_group_is_read_once(
    guarded: Bot, slack: FakeSlack, amp: Amp
) -> None:
    slack.usergroups["SREVIEWERS"] = ["UMEMBER"]
    await kickoff(guarded)
    message = await nth_review(slack, 1)

    await click(guarded, message, blocks.APPROVE, user=OTHER)
    await click(guarded, message, blocks.APPROVE, user="UMEMBER")

    await wait_for_text(slack, message, "Delivered to AMP")
    assert "Approved* by <@UMEMBER>" in str(slack.message(CHANNEL, message.ts).blocks)
    assert len(slack.calls_to("usergroups.users.list")) == 1


async def test_when_slack_cannot_say_who_is_in_a_group_the_reviewer_is_refused(
    guarded: Bot, slack: FakeSlack, amp: Amp, caplog: pytest.LogCaptureFixture
) -> None:
    slack.usergroups["SREVIEWERS"] = ["UMEMBER"]
    await kickoff(guarded)
    message = await nth_review(slack, 1)
    slack.fail_next("usergroups.users.list", error="internal_error")

    with caplog.at_level(logging.WARNING, logger="bot.approvers"):
        await click(guarded, message, blocks.APPROVE, user="UMEMBER")
        await slack.wait_for(lambda: len(slack.responses) == 1)

    assert approvers.LOOKUP_FAILED in private_replies(slack)[0]
    assert any("SREVIEWERS" in r.getMessage() for r in caplog.records if r.levelname == "WARNING")
    review = await guarded.store.review(review_id_of(message))
    assert review.state is ReviewState.PENDING

    await click(guarded, message, blocks.APPROVE, user="UMEMBER")
    await wait_for_text(slack, message, "Delivered to AMP")


async def test_a_refused_reviewer_cannot_open_the_revise_modal(
    guarded: Bot, slack: FakeSlack
) -> None:
    await kickoff(guarded)
    message = await nth_review(slack, 1)

    await click(guarded, message, blocks.REVISE, user=OTHER)

    await slack.wait_for(lambda: len(slack.responses) == 1)
    assert "You may not decide this review" in private_replies(slack)[0]
    assert slack.calls_to("views.open") == []
    assert await audit(guarded, review_id_of(message)) == [(OTHER, "revise", "button", "refused")]

    await click(guarded, message, blocks.REVISE, user=ALLOWED)
    await slack.wait_for(lambda: len(slack.calls_to("views.open")) == 1)


async def test_a_modal_submitted_by_someone_not_allowed_is_not_recorded(
    guarded: Bot, slack: FakeSlack, amp: Amp
) -> None:
    await kickoff(guarded)
    message = await nth_review(slack, 1)

    response = await submit_feedback(guarded, review_id_of(message), "Shorter.", user=OTHER)

    assert response.json()["response_action"] == "update"
    shown = str(response.json()["view"])
    assert "Not recorded" in shown and "You may not decide this review" in shown
    assert await audit(guarded, review_id_of(message)) == [(OTHER, "revise", "modal", "refused")]
    feedback = [d.feedback for d in await guarded.store.decisions_of(review_id_of(message))]
    assert feedback == ["Shorter."]
    assert amp.sim.resume_calls == []


async def test_the_retry_button_is_for_approvers_only(
    guarded: Bot, slack: FakeSlack, amp: Amp
) -> None:
    await kickoff(guarded)
    message = await nth_review(slack, 1)
    amp.sim.fail_next("resume", status=401, body={"error": "Unauthorized", "message": "no"})
    await click(guarded, message, blocks.APPROVE, user=ALLOWED)
    failed = await wait_for_text(slack, message, "Not delivered to AMP")

    await click(guarded, failed, blocks.RETRY, user=OTHER)

    await slack.wait_for(lambda: len(slack.responses) == 1)
    assert "You may not decide this review" in private_replies(slack)[0]
    review = await guarded.store.review(review_id_of(message))
    assert review.delivery is Delivery.FAILED and len(amp.sim.resume_calls) == 1
    assert (OTHER, "approve", "retry", "refused") in await audit(guarded, review.id)

    await click(guarded, failed, blocks.RETRY, user=ALLOWED)
    await wait_for_text(slack, message, "Delivered to AMP")


async def test_a_channel_with_approvers_of_its_own_ignores_the_default_list(
    make_bot: Callable[..., Bot], slack: FakeSlack, amp: Amp
) -> None:
    bot = make_bot(bot_approvers=ALLOWED, bot_channel_approvers="COTHER=UOWNER")
    await bot.start()
    try:
        await bot.api("/api/executions", {"execution_id": "ex-own", "channel": "COTHER"})
        await bot.notify({"execution_id": "ex-own", "task_id": "t1", "output": "draft"})
        message = await nth_review(slack, 1, channel="COTHER")

        await click(bot, message, blocks.APPROVE, user=ALLOWED)
        await click(bot, message, blocks.APPROVE, user="UOWNER")

        await amp.sim.wait_for(lambda: len(amp.sim.resume_calls) == 1)
        assert await audit(bot, review_id_of(message)) == [
            (ALLOWED, "approve", "button", "refused"),
            ("UOWNER", "approve", "button", "accepted"),
        ]
    finally:
        await bot.stop()
        await bot.http.aclose()


async def test_the_starter_of_an_execution_may_not_approve_it_when_so_set(
    make_bot: Callable[..., Bot], slack: FakeSlack, amp: Amp
) -> None:
    bot = make_bot(bot_forbid_self_approval=True)
    await bot.start()
    try:
        await kickoff(bot, started_by="USTARTER")
        message = await nth_review(slack, 1)

        await click(bot, message, blocks.APPROVE, user="USTARTER")
        await slack.wait_for(lambda: len(slack.responses) == 1)
        assert approvers.SELF_APPROVAL in private_replies(slack)[0]

        await click(bot, message, blocks.REVISE, user="USTARTER")
        await slack.wait_for(lambda: len(slack.calls_to("views.open")) == 1)

        await click(bot, message, blocks.APPROVE, user="UCOLLEAGUE")
        await wait_for_text(slack, message, "Approved* by <@UCOLLEAGUE>")
    finally:
        await bot.stop()
        await bot.http.aclose()


def review_in(channel: str) -> Review:
    return Review(
        id="rev1",
        execution_ref="ref1",
        task_id="t",
        attempt=1,
        output="o",
        state=ReviewState.PENDING,
        delivery=Delivery.NONE,
        channel=channel,
    )


def execution_by(started_by: str | None = None) -> Execution:
    return Execution(
        ref="ref1",
        execution_id="ex-1",
        channel="C1",
        secret="s",
        url_secret="u",
        webhooks=WebhookUrls(),
        source="kickoff",
        state="running",
        started_by=started_by,
    )


@pytest.fixture
def client(slack: FakeSlack) -> AsyncWebClient:
    return AsyncWebClient(token=BOT_TOKEN, base_url=slack.base_url)


async def test_group_members_are_kept_for_the_ttl_and_read_again_after_it(
    slack: FakeSlack, client: AsyncWebClient
) -> None:
    now = [100.0]
    slack.usergroups["S1"] = ["U1"]
    authorizer = Approvers(client, approvers=["S1"], ttl=60.0, clock=lambda: now[0])
    review, execution = review_in("C1"), execution_by()

    results = await asyncio.gather(
        *(authorizer.refusal(user, review, execution) for user in ["U1", "U2"] * 10)
    )
    assert results == [None, approvers.NOT_AN_APPROVER] * 10
    assert len(slack.calls_to("usergroups.users.list")) == 1

    slack.usergroups["S1"] = ["U2"]
    now[0] += 59.0
    assert await authorizer.refusal("U2", review, execution) == approvers.NOT_AN_APPROVER
    now[0] += 2.0
    assert await authorizer.refusal("U2", review, execution) is None
    assert len(slack.calls_to("usergroups.users.list")) == 2


async def test_a_group_that_does_not_exist_approves_nobody(
    slack: FakeSlack, client: AsyncWebClient
) -> None:
    authorizer = Approvers(client, approvers=["SGONE"])
    refusal = await authorizer.refusal("U1", review_in("C1"), execution_by())
    assert refusal == approvers.NOT_AN_APPROVER


async def test_a_group_lookup_that_hangs_refuses_in_time(
    slack: FakeSlack, client: AsyncWebClient
) -> None:
    slack.usergroups["S1"] = ["U1"]
    slack.hang_next("usergroups.users.list", seconds=3.0)
    authorizer = Approvers(client, approvers=["S1"], timeout=0.2)
    refusal = await authorizer.refusal("U1", review_in("C1"), execution_by())
    assert refusal == approvers.LOOKUP_FAILED


async def test_self_approval_is_refused_but_a_revision_is_not(
    slack: FakeSlack, client: AsyncWebClient
) -> None:
    authorizer = Approvers(client, forbid_self_approval=True)
    review, own = review_in("C1"), execution_by(started_by="U1")
    assert await authorizer.refusal("U1", review, own, kind=DecisionKind.APPROVE) is not None
    assert await authorizer.refusal("U1", review, own, kind=DecisionKind.REVISE) is None
    assert await authorizer.refusal("U2", review, own, kind=DecisionKind.APPROVE) is None


def test_approver_settings_are_parsed_and_checked(tmp_path: object) -> None:
    def settings(**extra: str) -> object:
        return bot_settings(
            tmp_path,  # type: ignore[arg-type]
            slack_url="http://127.0.0.1:9/api/",
            amp_url="http://127.0.0.1:9",
            port=9,
            **extra,
        )

    parsed = settings(
        bot_approvers=" U01, S02 ,", bot_channel_approvers="C01=U03;CPRIVATE=S04,U05; CANYONE="
    )
    assert parsed.approvers == ("U01", "S02")  # type: ignore[attr-defined]
    assert parsed.channel_approvers == {  # type: ignore[attr-defined]
        "C01": ("U03",),
        "CPRIVATE": ("S04", "U05"),
        "CANYONE": (),
    }
    with pytest.raises(SettingsError, match="BOT_APPROVERS"):
        settings(bot_approvers="@alice")
    with pytest.raises(SettingsError, match="BOT_CHANNEL_APPROVERS"):
        settings(bot_channel_approvers="#general=U1")
