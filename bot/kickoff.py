"""Starting the crew from Slack: `/crew kickoff` opens a form built from AMP's inputs.

The modal opens at once with the command's trigger_id (it lives 3 s), saying that AMP is
being asked; AMP's `GET /inputs` then fills it in, or the modal says that AMP cannot be
reached. Submitting it posts a short "started" message in the chosen channel, which becomes
the execution's thread, and kicks off through the same path as `POST /api/kickoff`.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import aiohttp
from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.models.blocks import (
    Block,
    ConversationFilter,
    ConversationSelectElement,
    InputBlock,
    MarkdownTextObject,
    PlainTextInputElement,
    PlainTextObject,
    SectionBlock,
)
from slack_sdk.models.views import View
from slack_sdk.web.async_client import AsyncWebClient

from bot import api, blocks, mrkdwn
from bot.crewai import CrewAIError, CrewAIUnavailable
from bot.listings import cut
from bot.services import Services

logger = logging.getLogger(__name__)

KICKOFF_VIEW = "crew_kickoff"
CHANNEL_BLOCK = "channel"
CHANNEL_INPUT = "channel"
INPUT_VALUE = "value"
INPUTS_TIMEOUT = 5.0
MAX_INPUTS = 90
_TITLE = "Start the crew"
_SLACK_ERRORS = (SlackApiError, aiohttp.ClientError, TimeoutError)


class KickoffModal:
    """Opens the kickoff form for `/crew kickoff` and starts the crew when it is submitted."""

    def __init__(self, services: Services) -> None:
        self._services = services

    def register(self, app: AsyncApp) -> None:
        app.view_submission(KICKOFF_VIEW)(self.submitted)

    async def open(self, ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        """Ack, open a waiting modal with the trigger_id, then show the form AMP's inputs make."""
        await ack()
        try:
            opened = await client.views_open(
                trigger_id=body["trigger_id"],
                view=blocks.info_modal(_TITLE, "Asking AMP for the crew's inputs…"),
            )
        except _SLACK_ERRORS as exc:
            logger.warning("Could not open the kickoff form for %s: %s", body.get("user_id"), exc)
            return
        view = await self._form(str(body.get("channel_id") or ""))
        try:
            await client.views_update(view_id=opened["view"]["id"], view=view)
        except _SLACK_ERRORS as exc:
            logger.warning("Could not show the kickoff form: %s", exc)

    async def _form(self, channel: str) -> View:
        try:
            names = await asyncio.wait_for(self._services.crewai.inputs(), INPUTS_TIMEOUT)
        except CrewAIError as exc:
            return _problem(f"AMP refused to list the crew's inputs ({exc.status}: {exc.message}).")
        except CrewAIUnavailable as exc:
            return _problem(f"AMP cannot be reached right now ({exc.reason}).")
        except TimeoutError:
            return _problem("AMP did not list the crew's inputs in time.")
        if len(names) > MAX_INPUTS or len(json.dumps(names)) > 2900:
            return _problem(f"The crew has {len(names)} inputs, more than a Slack form can hold.")
        return kickoff_form(names, channel)

    async def submitted(
        self, ack: AsyncAck, body: dict[str, Any], view: dict[str, Any], client: AsyncWebClient
    ) -> None:
        """Check the form, then start the crew; the modal shows how the kickoff went."""
        values = view.get("state", {}).get("values", {})
        names = json.loads(view.get("private_metadata") or "[]")
        inputs: dict[str, str] = {}
        errors: dict[str, str] = {}
        for index, name in enumerate(names):
            field = values.get(f"input_{index}", {}).get(INPUT_VALUE, {})
            value = str(field.get("value") or "").strip()
            if value:
                inputs[name] = value
            else:
                errors[f"input_{index}"] = "The crew needs this input."
        picked = values.get(CHANNEL_BLOCK, {}).get(CHANNEL_INPUT, {})
        channel = picked.get("selected_conversation") or picked.get("selected_channel")
        if not channel:
            errors[CHANNEL_BLOCK] = "Pick the channel for the reviews."
        if errors:
            await ack(response_action="errors", errors=errors)
            return
        await ack(response_action="update", view=blocks.info_modal(_TITLE, "Starting the crew…"))
        user = body["user"]["id"]
        await self._services.inflight.run(
            self._start(
                client, view_id=body["view"]["id"], user=user, channel=channel, inputs=inputs
            )
        )

    async def _start(
        self,
        client: AsyncWebClient,
        *,
        view_id: str,
        user: str,
        channel: str,
        inputs: dict[str, str],
    ) -> None:
        try:
            posted = await client.chat_postMessage(
                channel=channel, text=f"🚀 <@{user}> is starting the crew…"
            )
        except _SLACK_ERRORS as exc:
            reason = _slack_error(exc)
            await _show(
                client,
                view_id,
                f"⚠️ I cannot post in <#{channel}> ({reason}), so the crew was not started."
                " Invite me there (`/invite @Crew Review`) and try again.",
            )
            return
        ts = str(posted["ts"])
        try:
            kickoff_id = await api.start_execution(
                self._services, inputs=inputs, channel=channel, started_by=user, thread_ts=ts
            )
        except CrewAIError as exc:
            problem = f"AMP refused the kickoff ({exc.status}: {mrkdwn.plain(exc.message)})"
            missing = exc.details.get("missing_inputs")
            if isinstance(missing, list) and missing:
                problem += ": missing " + ", ".join(f"`{mrkdwn.plain(str(m))}`" for m in missing)
            await self._report(client, view_id, channel, ts, f"⚠️ {problem}.", user=user)
            return
        except CrewAIUnavailable as exc:
            text = (
                f"⚠️ AMP did not confirm the kickoff ({mrkdwn.plain(exc.reason)}). It may have"
                " started anyway: if so, its reviews will come to this channel."
            )
            await self._report(client, view_id, channel, ts, text, user=user)
            return
        label = mrkdwn.plain(kickoff_id)
        await self._report(
            client,
            view_id,
            channel,
            ts,
            f"🚀 <@{user}> started the crew: execution `{label}`. Its reviews are posted in"
            " this channel, and its result in this thread.",
            user=user,
        )

    async def _report(
        self, client: AsyncWebClient, view_id: str, channel: str, ts: str, text: str, *, user: str
    ) -> None:
        """Show how the kickoff went in the started message and in the modal."""
        message = blocks.notice(text)
        try:
            await client.chat_update(
                channel=channel, ts=ts, text=message.text, blocks=message.blocks
            )
        except _SLACK_ERRORS as exc:
            logger.warning("Could not update the kickoff message of %s: %s", user, exc)
        await _show(client, view_id, text)


def kickoff_form(names: list[str], channel: str) -> View:
    """The kickoff modal: one required field per crew input, and the channel for reviews."""
    fields: list[Block] = [
        InputBlock(
            block_id=f"input_{index}",
            label=PlainTextObject(text=cut(name, 2000)),
            element=PlainTextInputElement(action_id=INPUT_VALUE, max_length=3000),
        )
        for index, name in enumerate(names)
    ]
    picker = ConversationSelectElement(
        action_id=CHANNEL_INPUT,
        initial_conversation=channel if channel[:1] in ("C", "G") else None,
        filter=ConversationFilter(include=["public", "private"], exclude_bot_users=True),
    )
    about = "The crew's inputs, as AMP lists them." if names else "The crew takes no inputs."
    return View(
        type="modal",
        callback_id=KICKOFF_VIEW,
        private_metadata=json.dumps(names),
        title=PlainTextObject(text=_TITLE),
        submit=PlainTextObject(text="Start"),
        close=PlainTextObject(text="Cancel"),
        blocks=[
            SectionBlock(text=MarkdownTextObject(text=about)),
            *fields,
            InputBlock(
                block_id=CHANNEL_BLOCK,
                label=PlainTextObject(text="Post its reviews in"),
                element=picker,
            ),
        ],
    )


def _problem(text: str) -> View:
    return blocks.info_modal(_TITLE, f"⚠️ {mrkdwn.plain(text)} Try again in a moment.")


async def _show(client: AsyncWebClient, view_id: str, text: str) -> None:
    try:
        await client.views_update(view_id=view_id, view=blocks.info_modal(_TITLE, text))
    except _SLACK_ERRORS as exc:
        logger.warning("Could not update the kickoff modal: %s", exc)


def _slack_error(exc: Exception) -> str:
    if isinstance(exc, SlackApiError):
        return str(exc.response.get("error") or "error")
    return type(exc).__name__
