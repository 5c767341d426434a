"""Block Kit for everything the bot shows: review messages, the feedback modal, results.

Every builder returns blocks that fit Slack's limits whatever the input: outputs are
shortened to a budget, and the whole payload is measured and shortened again if needed.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    DividerBlock,
    HeaderBlock,
    InputBlock,
    MarkdownTextObject,
    PlainTextInputElement,
    PlainTextObject,
    SectionBlock,
)
from slack_sdk.models.views import View

from bot import mrkdwn
from bot.records import Decision, Execution, Review
from bot.reviews import Outcome, OutcomeKind
from bot.states import DecisionKind, Delivery, ReviewState

APPROVE = "review_approve"
REVISE = "review_revise"
RETRY = "review_retry"
FULL_OUTPUT = "review_full_output"
FULL_OUTPUT_PAGE = "review_full_output_page"
FEEDBACK_VIEW = "review_feedback"
FEEDBACK_BLOCK = "feedback"
FEEDBACK_INPUT = "text"

SECTION_LIMIT = 3000
HEADER_LIMIT = 150
PAYLOAD_LIMIT = 12_000
OUTPUT_BUDGET = 8_000
COMPACT_BUDGET = 1_500
PAGE_SIZE = 9_000
FEEDBACK_LIMIT = 3000
_FEEDBACK_SHOWN = 600

UNKNOWN_REVIEW = (
    "I have no record of this review. It may come from another installation of the bot."
)


@dataclass(frozen=True)
class Message:
    """A message's notification text and its blocks, ready for `chat.postMessage`."""

    text: str
    blocks: list[dict[str, Any]]


def review_message(
    review: Review,
    execution: Execution,
    decision: Decision | None = None,
    *,
    budget: int = OUTPUT_BUDGET,
) -> Message:
    """The review message: what it is, the output, and the buttons or the decision taken.

    The output takes at most `budget` characters, less if the whole payload would not fit.
    """
    while True:
        blocks = _review_blocks(review, execution, decision, budget)
        size = len(json.dumps(blocks))
        if size <= PAYLOAD_LIMIT or budget <= 500:
            break
        budget -= size - PAYLOAD_LIMIT + 200
    task = review.task_name or review.task_id
    verb = "Review needed" if review.is_pending else "Review"
    text = f"{verb}: {task}" + (f" ({execution.crew_name})" if execution.crew_name else "")
    return Message(text=mrkdwn.truncate(mrkdwn.plain(text), 300), blocks=blocks)


def _review_blocks(
    review: Review, execution: Execution, decision: Decision | None, budget: int
) -> list[dict[str, Any]]:
    task = review.task_name or review.task_id
    blocks: list[Block] = [
        HeaderBlock(text=PlainTextObject(text=_cut(f"Review: {task}", HEADER_LIMIT))),
        ContextBlock(elements=[MarkdownTextObject(text=_about(review, execution))]),
    ]
    body = mrkdwn.from_markdown(review.output)
    if not body.strip():
        body = "_(the task produced no output)_"
    shortened = len(body) > budget
    if shortened:
        body = mrkdwn.truncate(body, budget)
    blocks += [SectionBlock(text=MarkdownTextObject(text=piece)) for piece in _pieces(body)]
    if shortened:
        blocks.append(
            ContextBlock(
                elements=[
                    MarkdownTextObject(
                        text=f"Output shortened to fit Slack: {len(review.output):,} characters"
                        " in full, one click away."
                    )
                ]
            )
        )
    blocks.append(DividerBlock())
    blocks += _status_blocks(review, decision, shortened)
    return [block.to_dict() for block in blocks]


def _about(review: Review, execution: Execution) -> str:
    parts = []
    if execution.crew_name:
        parts.append(f"*Crew:* {mrkdwn.plain(_cut(execution.crew_name, 100))}")
    parts.append(f"*Task:* `{mrkdwn.plain(_cut(review.task_id, 100))}`")
    parts.append(f"*Attempt:* {review.attempt}")
    parts.append(f"*Started by:* {_who(execution)}")
    parts.append(f"*Execution:* `{mrkdwn.plain(_cut(execution.label, 100))}`")
    return "  ·  ".join(parts)


def _who(execution: Execution) -> str:
    """Who started the execution: a Slack user, a caller's label, or how it became known."""
    user = execution.started_by
    if user and user.startswith(("U", "W")) and user.isalnum():
        return f"<@{user}>"
    if user:
        return mrkdwn.plain(_cut(user, 80))
    return {
        "kickoff": "the bot's API",
        "registered": "registered through the bot's API",
    }.get(execution.source, "nobody registered")


def _status_blocks(review: Review, decision: Decision | None, shortened: bool) -> list[Block]:
    full = ButtonElement(text="Show full output", action_id=FULL_OUTPUT, value=review.id)
    if review.state is ReviewState.PENDING:
        buttons = [
            ButtonElement(text="Approve", action_id=APPROVE, value=review.id, style="primary"),
            ButtonElement(text="Revise", action_id=REVISE, value=review.id),
        ]
        return [
            ActionsBlock(
                block_id="review_actions", elements=[*buttons, full] if shortened else buttons
            )
        ]
    if review.state is ReviewState.EXPIRED:
        note = "⌛ *Expired* with no decision; nothing was sent to AMP."
        return [SectionBlock(text=MarkdownTextObject(text=note))]
    blocks: list[Block] = [SectionBlock(text=MarkdownTextObject(text=decision_line(decision)))]
    if decision is not None and decision.kind is DecisionKind.REVISE and decision.feedback:
        quoted = mrkdwn.truncate(mrkdwn.plain(decision.feedback), _FEEDBACK_SHOWN)
        blocks.append(ContextBlock(elements=[MarkdownTextObject(text=_quote(quoted))]))
    delivery = delivery_line(review)
    if delivery:
        blocks.append(ContextBlock(elements=[MarkdownTextObject(text=delivery)]))
    buttons = []
    if review.delivery is Delivery.FAILED:
        buttons.append(ButtonElement(text="Retry", action_id=RETRY, value=review.id))
    if shortened:
        buttons.append(full)
    if buttons:
        blocks.append(ActionsBlock(block_id="review_after", elements=buttons))
    return blocks


def decision_line(decision: Decision | None) -> str:
    """Who decided what and when, in Slack's own date format."""
    if decision is None:
        return "Decided."
    when = slack_date(decision.created_at)
    if decision.kind is DecisionKind.APPROVE:
        return f"✅ *Approved* by <@{decision.reviewer}> {when}"
    return f"✏️ *Revision requested* by <@{decision.reviewer}> {when}"


def outcome_text(outcome: Outcome) -> str:
    """What to tell a person whose decision was not recorded, as `mrkdwn`."""
    match outcome.kind:
        case OutcomeKind.DECIDED:
            return "Your decision is recorded and on its way to AMP."
        case OutcomeKind.TOO_LATE:
            return "Someone was quicker: " + decision_line(outcome.decision)
        case OutcomeKind.REFUSED:
            return f"You may not decide this review: {mrkdwn.plain(outcome.reason)}"
    return UNKNOWN_REVIEW


def delivery_line(review: Review) -> str:
    """The state of the resume call that carries the decision to AMP."""
    error = mrkdwn.plain(_cut(review.resume_error or "", 300))
    match review.delivery:
        case Delivery.QUEUED | Delivery.DELIVERING:
            return "⏳ Sending the decision to AMP…"
        case Delivery.RETRYING:
            return (
                f"🔁 Retrying: AMP has not taken the decision yet (attempt "
                f"{review.resume_attempts}; last error: {error})"
            )
        case Delivery.DELIVERED:
            status = mrkdwn.plain(review.resume_status or "delivered")
            return f"📬 Delivered to AMP: *{status}*"
        case Delivery.FAILED:
            return f"⚠️ *Not delivered to AMP:* {error}"
    return ""


def slack_date(timestamp: float) -> str:
    """A time that each reader sees in their own time zone."""
    epoch = int(timestamp)
    return f"<!date^{epoch}^{{date_short_pretty}} at {{time}}|{epoch}>"


def feedback_modal(review: Review, execution: Execution) -> View:
    """The Revise modal: one required multi-line input, the review's id in private_metadata."""
    task = review.task_name or review.task_id
    return View(
        type="modal",
        callback_id=FEEDBACK_VIEW,
        private_metadata=review.id,
        title=PlainTextObject(text="Request a revision"),
        submit=PlainTextObject(text="Send"),
        close=PlainTextObject(text="Cancel"),
        blocks=[
            SectionBlock(
                text=MarkdownTextObject(
                    text=f"*{mrkdwn.plain(_cut(task, 200))}*, attempt {review.attempt}\n"
                    "The crew runs this task again with your feedback as extra context."
                )
            ),
            InputBlock(
                block_id=FEEDBACK_BLOCK,
                label=PlainTextObject(text="What should change?"),
                element=PlainTextInputElement(
                    action_id=FEEDBACK_INPUT,
                    multiline=True,
                    max_length=FEEDBACK_LIMIT,
                    placeholder=PlainTextObject(text="Be specific: what to add, fix or drop."),
                ),
            ),
        ],
    )


def output_modal(review: Review, page: int = 0) -> View:
    """The full output of a review, one page at a time."""
    pages = mrkdwn.split(mrkdwn.from_markdown(review.output), PAGE_SIZE)
    pages = [text for text in pages if text.strip()] or ["_(the task produced no output)_"]
    page = max(0, min(page, len(pages) - 1))
    blocks: list[Block] = [
        SectionBlock(text=MarkdownTextObject(text=piece)) for piece in _pieces(pages[page])
    ]
    if len(pages) > 1:
        blocks.append(
            ContextBlock(elements=[MarkdownTextObject(text=f"Page {page + 1} of {len(pages)}")])
        )
        buttons = []
        if page > 0:
            buttons.append(
                ButtonElement(
                    text="Previous page",
                    action_id=f"{FULL_OUTPUT_PAGE}_previous",
                    value=f"{review.id}:{page - 1}",
                )
            )
        if page < len(pages) - 1:
            buttons.append(
                ButtonElement(
                    text="Next page",
                    action_id=f"{FULL_OUTPUT_PAGE}_next",
                    value=f"{review.id}:{page + 1}",
                )
            )
        blocks.append(ActionsBlock(block_id="pages", elements=buttons))
    return View(
        type="modal",
        title=PlainTextObject(text="Full output"),
        close=PlainTextObject(text="Close"),
        private_metadata=review.id,
        blocks=blocks,
    )


def result_message(execution: Execution, result: str, *, failed: bool = False) -> Message:
    """The crew's final result, for the execution's thread."""
    headline = "❌ *The crew failed.*" if failed else "🏁 *The crew finished.*"
    body = mrkdwn.from_markdown(result)
    if not body.strip():
        body = "_(no result was sent)_"
    if len(body) > OUTPUT_BUDGET:
        body = mrkdwn.truncate(body, OUTPUT_BUDGET)
    blocks: list[Block] = [SectionBlock(text=MarkdownTextObject(text=headline))]
    blocks += [SectionBlock(text=MarkdownTextObject(text=piece)) for piece in _pieces(body)]
    blocks.append(
        ContextBlock(
            elements=[MarkdownTextObject(text=f"Execution `{mrkdwn.plain(execution.label)}`")]
        )
    )
    text = "The crew failed." if failed else "The crew finished."
    return Message(text=text, blocks=[block.to_dict() for block in blocks])


def notice(text: str) -> Message:
    """A short message from the bot, given as `mrkdwn` that is already safe."""
    section = SectionBlock(text=MarkdownTextObject(text=mrkdwn.truncate(text, SECTION_LIMIT)))
    return Message(text=mrkdwn.truncate(text, 300), blocks=[section.to_dict()])


def _pieces(text: str) -> Sequence[str]:
    """Section texts of at most Slack's section limit; blank ones are left out."""
    return [piece for piece in mrkdwn.split(text, SECTION_LIMIT) if piece.strip()]


def _quote(text: str) -> str:
    return "\n".join(f"> {line}" for line in text.split("\n"))


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def info_modal(title: str, text: str) -> View:
    """A modal that only tells something, given as `mrkdwn` that is already safe."""
    return View(
        type="modal",
        title=PlainTextObject(text=_cut(title, 24)),
        close=PlainTextObject(text="Close"),
        blocks=[SectionBlock(text=MarkdownTextObject(text=mrkdwn.truncate(text, SECTION_LIMIT)))],
    )
