"""What `/crew` and the Home tab list: reviews that wait, the decision trail, executions.

A page of waiting reviews is one indexed query of at most `PAGE_SIZE` reviews, oldest first,
whatever the number waiting; expired reviews stay in the list, marked, because they can still
be decided.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    MarkdownTextObject,
    SectionBlock,
)

from bot import mrkdwn
from bot.blocks import slack_date
from bot.directory import Directory
from bot.records import Execution
from bot.states import DecisionKind, Delivery, ReviewState
from bot.store import OpenReview, Store, TrailEntry

PAGE_SIZE = 10


@dataclass(frozen=True)
class Actions:
    """The action ids of a listing's buttons; paging buttons get `_previous` / `_next`."""

    approve: str
    revise: str
    page: str


async def page_blocks(
    store: Store, directory: Directory, page: int, *, actions: Actions
) -> list[Block]:
    """One page (0-based) of open reviews with their buttons, and buttons to page on."""
    total = await store.count_open_reviews()
    pages = max(1, -(-total // PAGE_SIZE))
    page = max(0, min(page, pages - 1))
    listed = await store.open_reviews(limit=PAGE_SIZE, offset=page * PAGE_SIZE)
    if not listed:
        return [SectionBlock(text=MarkdownTextObject(text="Nothing waits for a decision. 🎉"))]
    noun = "review waits" if total == 1 else "reviews wait"
    where = f" (page {page + 1} of {pages})" if pages > 1 else ""
    blocks: list[Block] = [
        SectionBlock(text=MarkdownTextObject(text=f"*{total:,} {noun} for a decision*{where}"))
    ]
    now = time.time()
    for item in listed:
        blocks += await _row(item, directory, actions, page, now)
    buttons = []
    if page > 0:
        buttons.append(
            ButtonElement(
                text="Previous", action_id=f"{actions.page}_previous", value=str(page - 1)
            )
        )
    if page < pages - 1:
        buttons.append(
            ButtonElement(text="More", action_id=f"{actions.page}_next", value=str(page + 1))
        )
    if buttons:
        blocks.append(ActionsBlock(block_id="pending_pages", elements=buttons))
    return blocks


async def _row(
    item: OpenReview, directory: Directory, actions: Actions, page: int, now: float
) -> list[Block]:
    review = item.review
    title = mrkdwn.plain(cut(review.task_name or review.task_id, 120))
    if item.crew_name:
        title = f"{mrkdwn.plain(cut(item.crew_name, 80))} · {title}"
    facts = [f"waiting {age(now - review.created_at)}"]
    if item.started_by:
        facts.append(f"started by {who(item.started_by)}")
    link = await directory.permalink(review.channel, review.message_ts)
    facts.append(f"<{link}|open the review>" if link else "not posted yet")
    if review.state is ReviewState.EXPIRED:
        facts.insert(0, "⌛ *expired*")
    text = f"*{title}*, attempt {review.attempt}\n" + " · ".join(facts)
    buttons = [
        ButtonElement(text="Approve", action_id=actions.approve, value=review.id, style="primary"),
        ButtonElement(text="Revise", action_id=actions.revise, value=review.id),
    ]
    return [
        SectionBlock(text=MarkdownTextObject(text=text)),
        ActionsBlock(block_id=f"pending_{page}_{review.id}", elements=buttons),
    ]


def page_of(action: dict[str, Any]) -> int:
    """The page (0-based) that a listed review's button was on."""
    parts = str(action.get("block_id", "")).split("_", 2)
    return int(parts[1]) if len(parts) == 3 and parts[1].isdigit() else 0


def who(user: str | None) -> str:
    """Who started an execution, as a mention where it is a Slack user."""
    if user and user.startswith(("U", "W")) and user.isalnum():
        return f"<@{user}>"
    return mrkdwn.plain(cut(user, 80)) if user else "unknown"


def age(seconds: float) -> str:
    """A duration as people say it: `40 s`, `12 min`, `3 h 5 min`, `2 days`."""
    seconds = max(0, int(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes = seconds // 60
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    return f"{hours // 24} days"


def cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def context(text: str) -> ContextBlock:
    """A line of small print, given as `mrkdwn` that is already safe."""
    return ContextBlock(elements=[MarkdownTextObject(text=mrkdwn.truncate(text, 3000))])


def trail_line(entry: TrailEntry, *, execution: bool = False) -> str:
    """One decision: when, who, what, on which attempt, and what became of it, as `mrkdwn`."""
    decision = entry.decision
    verb = "✅ approved" if decision.kind is DecisionKind.APPROVE else "✏️ asked to revise"
    task = mrkdwn.plain(cut(entry.task, 80))
    text = f"{slack_date(decision.created_at)} <@{decision.reviewer}> {verb} `{task}`"
    text += f" attempt {entry.attempt}"
    if execution:
        text += f" of `{mrkdwn.plain(cut(entry.execution_label, 60))}`"
    text += f" (via {mrkdwn.plain(decision.source)}): {_result(entry)}"
    if decision.kind is DecisionKind.REVISE and decision.feedback:
        text += "\n> " + mrkdwn.truncate(mrkdwn.plain(decision.feedback), 300).replace("\n", " ")
    return text


def _result(entry: TrailEntry) -> str:
    outcome = entry.decision.outcome
    if outcome == "too_late":
        return "too late, another decision stood"
    if outcome != "accepted" or not entry.standing:
        return mrkdwn.plain(outcome.replace("_", " "))
    error = mrkdwn.plain(cut(entry.resume_error or "", 200))
    match entry.delivery:
        case Delivery.DELIVERED:
            return f"delivered to AMP, *{mrkdwn.plain(entry.resume_status or 'resumed')}*"
        case Delivery.FAILED:
            return f"*not delivered to AMP*: {error}"
        case Delivery.RETRYING:
            return f"AMP not reached yet, retrying ({error})"
    return "being sent to AMP"


def execution_line(execution: Execution) -> str:
    """An execution in a list: its id, crew, state, channel and start, as `mrkdwn`."""
    text = f"`{mrkdwn.plain(cut(execution.label, 60))}`"
    if execution.crew_name:
        text += f" {mrkdwn.plain(cut(execution.crew_name, 80))}"
    when = slack_date(execution.created_at)
    return f"{text} · {mrkdwn.plain(execution.state)} · <#{execution.channel}> · {when}"
