"""The Slack listeners: review buttons, the feedback modal, and the full-output pages.

Each listener acks first (a `trigger_id` is opened at once), then hands the decision to the
domain core. Button values only name a review in the bot's store; execution ids, task ids
and webhook URLs always come from the store, never from a Slack payload.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot import blocks
from bot.reviews import Outcome
from bot.services import Services
from bot.states import DecisionKind, ReviewState

logger = logging.getLogger(__name__)


class ReviewListeners:
    """Listeners for everything a reviewer clicks or submits on a review."""

    def __init__(self, services: Services) -> None:
        self._services = services
        self._store = services.store
        self._reviews = services.reviews

    def register(self, app: AsyncApp) -> None:
        app.action(blocks.APPROVE)(self.approve)
        app.action(blocks.REVISE)(self.revise)
        app.action(blocks.RETRY)(self.retry)
        app.action(blocks.FULL_OUTPUT)(self.full_output)
        app.action(re.compile(f"^{blocks.FULL_OUTPUT_PAGE}_"))(self.full_output_page)
        app.view_submission(blocks.FEEDBACK_VIEW)(self.feedback_submitted)

    async def approve(
        self,
        ack: AsyncAck,
        body: dict[str, Any],
        action: dict[str, Any],
        respond: AsyncRespond,
        client: AsyncWebClient,
    ) -> None:
        await ack()
        outcome = await self._services.inflight.run(
            self._reviews.decide(
                str(action.get("value", "")),
                DecisionKind.APPROVE,
                reviewer=body["user"]["id"],
                source="button",
                channel=_channel_of(body),
            )
        )
        await _tell_outcome(outcome, body, respond, client)

    async def revise(
        self,
        ack: AsyncAck,
        body: dict[str, Any],
        action: dict[str, Any],
        respond: AsyncRespond,
        client: AsyncWebClient,
    ) -> None:
        await ack()
        review_id = str(action.get("value", ""))
        refused = await self._services.inflight.run(
            self._reviews.screen(
                review_id,
                DecisionKind.REVISE,
                reviewer=body["user"]["id"],
                source="button",
                channel=_channel_of(body),
            )
        )
        if refused is not None:
            await _tell(body, respond, client, blocks.outcome_text(refused))
            return
        review = await self._store.review(review_id)
        assert review is not None
        if review.state is ReviewState.DECIDED:
            decision = await self._store.decision(review.decision_id)
            await _tell(body, respond, client, "Already decided: " + blocks.decision_line(decision))
            return
        execution = await self._store.execution(review.execution_ref)
        assert execution is not None
        await client.views_open(
            trigger_id=body["trigger_id"], view=blocks.feedback_modal(review, execution)
        )

    async def feedback_submitted(
        self, ack: AsyncAck, body: dict[str, Any], view: dict[str, Any]
    ) -> None:
        """Validate the feedback, then record it; the modal shows an inline error if empty."""
        values = view.get("state", {}).get("values", {})
        feedback = values.get(blocks.FEEDBACK_BLOCK, {}).get(blocks.FEEDBACK_INPUT, {})
        text = str(feedback.get("value") or "").strip()
        if not text:
            await ack(
                response_action="errors",
                errors={blocks.FEEDBACK_BLOCK: "Tell the crew what to change."},
            )
            return
        outcome = await self._services.inflight.run(
            self._reviews.decide(
                str(view.get("private_metadata", "")),
                DecisionKind.REVISE,
                reviewer=body["user"]["id"],
                feedback=text,
                source="modal",
            )
        )
        if outcome.won:
            await ack()
        else:
            text = blocks.outcome_text(outcome)
            await ack(response_action="update", view=blocks.info_modal("Not recorded", text))

    async def retry(
        self,
        ack: AsyncAck,
        body: dict[str, Any],
        action: dict[str, Any],
        respond: AsyncRespond,
        client: AsyncWebClient,
    ) -> None:
        await ack()
        review_id, user = str(action.get("value", "")), body["user"]["id"]
        refused = await self._services.inflight.run(
            self._reviews.screen(
                review_id, None, reviewer=user, source="retry", channel=_channel_of(body)
            )
        )
        if refused is not None:
            await _tell(body, respond, client, blocks.outcome_text(refused))
            return
        review = await self._services.inflight.run(
            self._reviews.retry_resume(review_id, reviewer=user)
        )
        if review is None:
            await _tell(body, respond, client, "There is no failed resume to retry on this review.")

    async def full_output(
        self,
        ack: AsyncAck,
        body: dict[str, Any],
        action: dict[str, Any],
        respond: AsyncRespond,
        client: AsyncWebClient,
    ) -> None:
        await ack()
        review = await self._store.review(str(action.get("value", "")))
        if review is None:
            await _tell(body, respond, client, blocks.UNKNOWN_REVIEW)
            return
        await client.views_open(trigger_id=body["trigger_id"], view=blocks.output_modal(review))

    async def full_output_page(
        self, ack: AsyncAck, body: dict[str, Any], action: dict[str, Any], client: AsyncWebClient
    ) -> None:
        await ack()
        review_id, _, page = str(action.get("value", "")).rpartition(":")
        review = await self._store.review(review_id)
        if review is None or not page.isdigit():
            return
        await client.views_update(
            view_id=body["view"]["id"], view=blocks.output_modal(review, int(page))
        )


def _channel_of(body: dict[str, Any]) -> str | None:
    """The channel of the message a button was clicked on; None for a click in a view."""
    channel = (body.get("channel") or {}).get("id")
    return str(channel) if channel else None


async def _tell_outcome(
    outcome: Outcome, body: dict[str, Any], respond: AsyncRespond, client: AsyncWebClient
) -> None:
    """Tell the person privately why their decision was not recorded, if it was not."""
    if not outcome.won:
        await _tell(body, respond, client, blocks.outcome_text(outcome))


async def _tell(
    body: dict[str, Any], respond: AsyncRespond, client: AsyncWebClient, text: str
) -> None:
    """Tell the person who clicked, and only them."""
    try:
        if body.get("response_url"):
            await respond(text=text, response_type="ephemeral", replace_original=False)
            return
        channel = (body.get("channel") or {}).get("id")
        if channel:
            await client.chat_postEphemeral(channel=channel, user=body["user"]["id"], text=text)
        else:
            await client.chat_postMessage(channel=body["user"]["id"], text=text)
    except (SlackApiError, OSError) as exc:
        logger.warning("Could not tell %s privately: %s", body["user"]["id"], exc)
