"""The `/crew` slash command: help, the reviews that wait, an execution's status and history,
and kickoff.

Every answer is private: the ack's ephemeral text, or an ephemeral message to the command's
response_url. The ack always comes first, within Slack's 3 s; whatever needs the store or AMP
is answered after it.
"""

from __future__ import annotations

import asyncio
import logging
import re
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond
from slack_sdk.models.blocks import Block, MarkdownTextObject, SectionBlock
from slack_sdk.web.async_client import AsyncWebClient

from bot import blocks, mrkdwn
from bot.crewai import CrewAIError, CrewAIUnavailable
from bot.kickoff import KickoffModal
from bot.listings import Actions, cut, page_blocks, page_of, trail_line, who
from bot.records import Execution, Review
from bot.services import Services
from bot.states import DecisionKind, ReviewState

logger = logging.getLogger(__name__)

COMMAND = "/crew"
PENDING_APPROVE = "pending_approve"
PENDING_PAGE = "pending_page"
STATUS_TIMEOUT = 5.0
REVIEWS_SHOWN = 20
TRAIL_SHOWN = 30
ANSWER_LIMIT = 11_000

HELP = "\n".join(
    [
        "*What `/crew` does*",
        "• `/crew help`: this list",
        "• `/crew pending [page]`: the reviews that wait for a decision, oldest first",
        "• `/crew status <execution_id>`: an execution's reviews, decisions and result,"
        " and AMP's live status",
        "• `/crew history [<execution_id>]`: who decided what, when, and how the resume went",
        "• `/crew kickoff`: start the crew from a form",
        "In a review's thread, a reply asks the crew for a revision and `approve` approves.",
    ]
)

_ACTIONS = Actions(approve=PENDING_APPROVE, revise=blocks.REVISE, page=PENDING_PAGE)


class CrewCommand:
    """The `/crew` listener, and the buttons of the list `/crew pending` shows."""

    def __init__(self, services: Services, kickoff: KickoffModal) -> None:
        self._services = services
        self._store = services.store
        self._kickoff = kickoff

    def register(self, app: AsyncApp) -> None:
        app.command(COMMAND)(self.command)
        app.action(PENDING_APPROVE)(self.approve)
        app.action(re.compile(f"^{PENDING_PAGE}_"))(self.turn_page)

    async def command(
        self,
        ack: AsyncAck,
        body: dict[str, Any],
        command: dict[str, Any],
        respond: AsyncRespond,
        client: AsyncWebClient,
    ) -> None:
        words = str(command.get("text") or "").split()
        name, args = (words[0].lower(), words[1:]) if words else ("help", [])
        problem = _usage_problem(name, args)
        if problem is not None:
            await ack(text=f"⚠️ {problem}\n\n{HELP}", response_type="ephemeral")
            return
        if name == "help":
            await ack(text=HELP, response_type="ephemeral")
            return
        if name == "kickoff":
            await self._kickoff.open(ack, body, client)
            return
        await ack()
        if name == "pending":
            await self._respond_pending(respond, (_page_number(args[0]) if args else None) or 0)
        elif name == "status":
            await _answer(respond, await self._status(args[0]))
        else:
            await _answer(respond, await self._history(args[0] if args else None))

    async def approve(
        self, ack: AsyncAck, body: dict[str, Any], action: dict[str, Any], respond: AsyncRespond
    ) -> None:
        """Approve from the list, then show the list again as it is now."""
        await ack()
        outcome = await self._services.inflight.run(
            self._services.reviews.decide(
                str(action.get("value", "")),
                DecisionKind.APPROVE,
                reviewer=body["user"]["id"],
                source="pending",
            )
        )
        await self._respond_pending(respond, page_of(action), replace=True)
        if not outcome.won:
            await respond(
                text=blocks.outcome_text(outcome), response_type="ephemeral", replace_original=False
            )

    async def turn_page(self, ack: AsyncAck, action: dict[str, Any], respond: AsyncRespond) -> None:
        await ack()
        value = str(action.get("value", ""))
        await self._respond_pending(respond, int(value) if value.isdigit() else 0, replace=True)

    async def _respond_pending(
        self, respond: AsyncRespond, page: int, *, replace: bool = False
    ) -> None:
        listing = await page_blocks(self._store, self._services.directory, page, actions=_ACTIONS)
        await respond(
            text="Reviews waiting for a decision",
            blocks=[block.to_dict() for block in listing],
            response_type="ephemeral",
            replace_original=replace,
        )

    async def _status(self, given: str) -> str:
        execution = await self._find(given)
        if execution is None:
            return _unknown(given)
        lines = [f"*Execution `{mrkdwn.plain(execution.label)}`*" + _crew(execution)]
        by = f" by {who(execution.started_by)}" if execution.started_by else ""
        lines.append(
            f"Started{by} {blocks.slack_date(execution.created_at)} · reviews in"
            f" <#{execution.channel}> · our state: *{mrkdwn.plain(execution.state)}*"
        )
        reviews = await self._store.reviews_of(execution.ref)
        lines.append(f"*Reviews* ({len(reviews)})" if reviews else "*Reviews*: none yet")
        if len(reviews) > REVIEWS_SHOWN:
            lines.append(f"_The last {REVIEWS_SHOWN} of {len(reviews)}:_")
        for review in reviews[-REVIEWS_SHOWN:]:
            lines.append(await self._review_line(review))
        if execution.result:
            result = mrkdwn.truncate(mrkdwn.from_markdown(execution.result), 1500)
            lines.append(f"*Result* ({mrkdwn.plain(execution.state)}):\n{result}")
        lines.append(await self._amp_status(execution))
        return "\n".join(lines)

    async def _review_line(self, review: Review) -> str:
        task = mrkdwn.plain(cut(review.task_name or review.task_id, 80))
        head = f"• `{task}` attempt {review.attempt}: "
        if review.state is ReviewState.PENDING:
            return head + "waiting for a decision"
        if review.state is ReviewState.EXPIRED:
            return head + "⌛ expired with no decision"
        decision = await self._store.decision(review.decision_id)
        return head + blocks.decision_line(decision) + " · " + blocks.delivery_line(review)

    async def _amp_status(self, execution: Execution) -> str:
        """AMP's live status, read from either field AMP uses, or why it could not be read."""
        if execution.execution_id is None:
            return "*AMP says:* nothing yet; it has not confirmed this execution's id."
        try:
            status = await asyncio.wait_for(
                self._services.crewai.status(execution.execution_id), STATUS_TIMEOUT
            )
        except CrewAIError as exc:
            return (
                f"*AMP says:* {exc.status} {mrkdwn.plain(exc.error)}: {mrkdwn.plain(exc.message)}"
            )
        except CrewAIUnavailable as exc:
            return f"*AMP cannot be reached:* {mrkdwn.plain(exc.reason)}"
        except TimeoutError:
            return "*AMP did not answer* within a few seconds."
        text = f"*AMP says:* `{mrkdwn.plain(cut(status.state, 80))}`"
        current = status.raw.get("current_task")
        if isinstance(current, str) and current:
            text += f", current task {mrkdwn.plain(cut(current, 80))}"
        progress = status.raw.get("progress")
        if isinstance(progress, dict) and "completed_tasks" in progress:
            done, total = progress.get("completed_tasks"), progress.get("total_tasks", "?")
            text += f", {mrkdwn.plain(str(done))} of {mrkdwn.plain(str(total))} tasks done"
        return text

    async def _history(self, given: str | None) -> str:
        if given is None:
            entries = await self._store.decision_trail(limit=TRAIL_SHOWN)
            lines = ["*The latest decisions*"]
            lines += [f"• {trail_line(entry, execution=True)}" for entry in reversed(entries)]
            return "\n".join(lines) if entries else "No decision was taken yet."
        execution = await self._find(given)
        if execution is None:
            return _unknown(given)
        entries = await self._store.decision_trail(execution_ref=execution.ref, limit=TRAIL_SHOWN)
        label = mrkdwn.plain(execution.label)
        if not entries:
            return f"No decision was taken on execution `{label}` yet."
        lines = [f"*Decisions on execution `{label}`*" + _crew(execution)]
        lines += [f"• {trail_line(entry)}" for entry in reversed(entries)]
        return "\n".join(lines)

    async def _find(self, given: str) -> Execution | None:
        """An execution by AMP's id, or by the bot's own id for one AMP has not confirmed."""
        given = given.strip("`<>")
        return await self._store.execution_by_id(given) or await self._store.execution(given)


async def _answer(respond: AsyncRespond, text: str) -> None:
    """A private answer of `mrkdwn` text, in as many sections as it needs."""
    pieces = mrkdwn.split(mrkdwn.truncate(text, ANSWER_LIMIT), blocks.SECTION_LIMIT)
    sections: list[Block] = [SectionBlock(text=MarkdownTextObject(text=p)) for p in pieces]
    await respond(
        text=mrkdwn.truncate(text, 300),
        blocks=[section.to_dict() for section in sections],
        response_type="ephemeral",
        replace_original=False,
    )


def _crew(execution: Execution) -> str:
    return f" · {mrkdwn.plain(cut(execution.crew_name, 80))}" if execution.crew_name else ""


def _unknown(given: str) -> str:
    return f"I have no record of execution `{mrkdwn.plain(cut(given, 100))}`."


def _page_number(text: str) -> int | None:
    """A page as people count (1, 2, ...), 0-based; None when it is not one."""
    return int(text) - 1 if text.isdigit() and int(text) >= 1 else None


def _usage_problem(name: str, args: list[str]) -> str | None:
    """What is wrong with a command's words, or None when they make sense."""
    given = mrkdwn.plain(cut(" ".join(args), 60))
    match name:
        case "help" | "kickoff" if args:
            return f"`/crew {name}` takes nothing more, but got `{given}`."
        case "help" | "kickoff":
            return None
        case "pending" if len(args) > 1 or (args and _page_number(args[0]) is None):
            return f"`/crew pending` takes a page number (1, 2, …), not `{given}`."
        case "pending":
            return None
        case "status" if len(args) != 1:
            return "`/crew status` needs one execution id, e.g. `/crew status 7f3c…`."
        case "status":
            return None
        case "history" if len(args) > 1:
            return "`/crew history` takes at most one execution id."
        case "history":
            return None
    return f"`/crew {mrkdwn.plain(cut(name, 40))}` is not something I know."
