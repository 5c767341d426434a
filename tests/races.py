"""Many people deciding one review at the same moment: the attempts, the race, what must hold.

Each way of deciding is a builder that returns an `Attempt`; `race` fires them together and
`assert_one_decision` checks the outcome whatever the mix. A new way of deciding (a thread
reply, say) joins by adding a builder here; the bot must tell its losers who decided in one
of the ways `told_who_decided` counts.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

import httpx

from bot import blocks
from bot.records import Decision
from bot.states import Delivery
from tests.conftest import Amp, Bot
from tests.fakes.slack import FakeSlack, Message
from tests.flows import click, review_id_of, submit_feedback, wait_for_text


@dataclass(frozen=True)
class Attempt:
    """One person's try at deciding a review."""

    user: str
    send: Callable[[], Awaitable[httpx.Response]]


def approve_click(bot: Bot, message: Message, user: str) -> Attempt:
    return Attempt(user, lambda: click(bot, message, blocks.APPROVE, user=user))


def revise_submission(bot: Bot, message: Message, user: str) -> Attempt:
    return Attempt(
        user, lambda: submit_feedback(bot, review_id_of(message), f"Change it, {user}.", user=user)
    )


def thread_reply(bot: Bot, message: Message, user: str) -> Attempt:
    """A revision asked for by a reply in the review message's thread."""

    async def send() -> httpx.Response:
        assert bot.slack is not None
        return await bot.slack.message(
            user=user, channel=message.channel, text=f"Redo it, {user}.", thread_ts=message.ts
        )

    return Attempt(user, send)


async def race(attempts: Sequence[Attempt]) -> list[httpx.Response]:
    """Send every attempt at once, released together, and wait for all the answers."""
    start = asyncio.Event()

    async def go(attempt: Attempt) -> httpx.Response:
        await start.wait()
        return await attempt.send()

    runs = [asyncio.create_task(go(attempt)) for attempt in attempts]
    await asyncio.sleep(0)
    start.set()
    return list(await asyncio.gather(*runs))


def told_who_decided(slack: FakeSlack, answers: Sequence[httpx.Response], winner: str) -> int:
    """How many people were told privately that `winner` decided, in every way the bot tells.

    A response_url post (button), a modal updated in the answer (modal submission), or an
    ephemeral message (anything else).
    """
    mention = f"<@{winner}>"
    by_response_url = sum(
        1
        for post in slack.responses
        if post.body.get("response_type") == "ephemeral" and mention in str(post.body)
    )
    in_modals = sum(1 for answer in answers if answer.content and mention in answer.text)
    ephemeral = sum(1 for call in slack.calls_to("chat.postEphemeral") if mention in str(call.args))
    return by_response_url + in_modals + ephemeral


async def assert_one_decision(
    bot: Bot,
    slack: FakeSlack,
    amp: Amp,
    message: Message,
    attempts: Sequence[Attempt],
    answers: Sequence[httpx.Response],
) -> Decision:
    """One decision stands, one resume succeeded, and everyone else knows who decided."""
    assert all(answer.status_code == 200 for answer in answers)
    review_id = review_id_of(message)
    audit = await full_audit(bot, review_id, len(attempts))
    accepted = [d for d in audit if d.outcome == "accepted"]
    assert len(accepted) == 1, audit
    assert sorted(d.reviewer for d in audit) == sorted(a.user for a in attempts)
    assert {d.outcome for d in audit} <= {"accepted", "too_late"}

    winner = accepted[0]
    await amp.sim.wait_for(lambda: len(amp.sim.resume_calls) >= 1)
    await slack.wait_for(
        lambda: told_who_decided(slack, answers, winner.reviewer) >= len(attempts) - 1
    )
    assert told_who_decided(slack, answers, winner.reviewer) == len(attempts) - 1

    await wait_for_text(slack, message, "Delivered to AMP")
    assert (await bot.store.review(review_id)).delivery is Delivery.DELIVERED
    assert len(amp.sim.resume_calls) == 1
    assert amp.sim.resume_calls[0]["is_approve"] is (winner.kind == "approve")
    return winner


async def full_audit(bot: Bot, review_id: str, count: int) -> list[Decision]:
    """The review's audit trail once it holds `count` entries; a click is acked before it is."""
    for _ in range(500):
        audit = await bot.store.decisions_of(review_id)
        if len(audit) >= count:
            return audit
        await asyncio.sleep(0.01)
    raise TimeoutError(f"the audit trail of review {review_id} never held {count} entries")
