"""The bot's own API: start an execution through the bot, or register one started elsewhere.

Both routes take `Authorization: Bearer BOT_API_TOKEN`. A body that does not fit answers 422
with one entry per wrong field; an AMP error comes back with AMP's status and message.
"""

from __future__ import annotations

import json
import logging
import re
from typing import Any, TypeVar

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from bot import http
from bot.crewai import CrewAIError, CrewAIUnavailable
from bot.records import Execution, WebhookUrls
from bot.services import SERVICES, Services
from bot.webhooks import human_input_url, legacy_url

logger = logging.getLogger(__name__)

M = TypeVar("M", bound=BaseModel)

_CHANNEL_ID = re.compile(r"^[CGD][A-Z0-9]{2,}$")
_URL = re.compile(r"^https?://\S+$")


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    channel: str | None = None
    task_webhook_url: str | None = Field(default=None, alias="taskWebhookUrl")
    step_webhook_url: str | None = Field(default=None, alias="stepWebhookUrl")
    crew_webhook_url: str | None = Field(default=None, alias="crewWebhookUrl")

    @field_validator("channel")
    @classmethod
    def _channel(cls, value: str | None) -> str | None:
        if value is not None and not _CHANNEL_ID.match(value):
            raise ValueError("must be a Slack channel ID such as C0123456789")
        return value

    @field_validator("task_webhook_url", "step_webhook_url", "crew_webhook_url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value is not None and not _URL.match(value):
            raise ValueError("must be an http:// or https:// URL")
        return value

    def webhooks(self) -> WebhookUrls:
        return WebhookUrls(
            task=self.task_webhook_url, step=self.step_webhook_url, crew=self.crew_webhook_url
        )


class KickoffBody(_Body):
    """`POST /api/kickoff`: the crew's inputs, optional meta, channel and webhook URLs."""

    inputs: dict[str, Any]
    meta: dict[str, Any] | None = None
    started_by: str | None = Field(default=None, max_length=200)


class RegisterBody(_Body):
    """`POST /api/executions`: an execution kicked off elsewhere, with its webhook URLs."""

    execution_id: str = Field(min_length=1, max_length=200)


async def kickoff(request: web.Request) -> web.Response:
    services = request.app[SERVICES]
    if not _authorized(request, services):
        return http.unauthorized()
    body = await _parse(request, KickoffBody)
    if isinstance(body, web.Response):
        return body
    try:
        kickoff_id = await start_execution(
            services,
            inputs=body.inputs,
            meta=body.meta,
            channel=body.channel,
            webhooks=body.webhooks(),
            started_by=body.started_by,
        )
    except CrewAIError as exc:
        status = exc.status if 400 <= exc.status <= 599 else 502
        return http.error(status, exc.error, exc.message, details=exc.details)
    except CrewAIUnavailable as exc:
        return http.error(502, "amp_unavailable", f"AMP did not take the kickoff: {exc.reason}.")
    return web.json_response({"kickoff_id": kickoff_id})


async def start_execution(
    services: Services,
    *,
    inputs: dict[str, Any],
    meta: dict[str, Any] | None = None,
    channel: str | None = None,
    webhooks: WebhookUrls | None = None,
    started_by: str | None = None,
    thread_ts: str | None = None,
) -> str:
    """Kick off an execution whose pauses come to the bot, and return AMP's kickoff id.

    The execution is stored before AMP is called, so a notification that arrives before
    AMP's answer finds it. The webhook URLs the caller left out point at the bot. A given
    `thread_ts` (a message already posted in `channel`) becomes the execution's thread.
    """
    settings = services.settings
    execution = await services.store.create_execution(
        channel=channel or settings.slack_review_channel,
        source="kickoff",
        started_by=started_by,
        inputs=inputs,
    )
    if thread_ts is not None:
        await services.store.set_thread(execution.ref, thread_ts)
    given = webhooks or WebhookUrls()
    public = settings.bot_public_url
    sent = WebhookUrls(
        task=given.task or legacy_url(public, execution, "task"),
        step=given.step or legacy_url(public, execution, "step"),
        crew=given.crew or legacy_url(public, execution, "crew"),
    )
    execution = await services.store.update_execution(execution.ref, webhooks=sent)
    amp_body: dict[str, Any] = {
        "inputs": inputs,
        "humanInputWebhook": {
            "url": human_input_url(public, execution),
            "authentication": {"strategy": "bearer", "token": execution.secret},
        },
        **sent.as_amp_fields(),
    }
    if meta:
        amp_body["meta"] = meta
    try:
        kickoff_id = await services.crewai.kickoff(amp_body)
    except CrewAIError as exc:
        await services.store.update_execution(execution.ref, state="kickoff_failed")
        logger.warning("Kickoff refused by AMP (%d %s): %s", exc.status, exc.error, exc.message)
        raise
    except CrewAIUnavailable:
        # AMP may have started it anyway: the execution stays, so its notifications still work.
        await services.store.update_execution(execution.ref, state="kickoff_unconfirmed")
        raise
    if not await services.store.claim_execution_id(execution.ref, kickoff_id):
        logger.warning("AMP answered kickoff id %s, which another execution has", kickoff_id)
    await _mark_running(services, execution)
    logger.info("Execution %s kicked off (channel %s)", kickoff_id, execution.channel)
    return kickoff_id


async def _mark_running(services: Services, execution: Execution) -> None:
    current = await services.store.execution(execution.ref)
    if current is not None and current.state == "starting":
        await services.store.update_execution(execution.ref, state="running")


async def register(request: web.Request) -> web.Response:
    services = request.app[SERVICES]
    if not _authorized(request, services):
        return http.unauthorized()
    body = await _parse(request, RegisterBody)
    if isinstance(body, web.Response):
        return body
    store = services.store
    channel = body.channel or services.settings.slack_review_channel
    existing = await store.execution_by_id(body.execution_id)
    if existing is None:
        execution = await store.create_execution(
            channel=channel,
            source="registered",
            execution_id=body.execution_id,
            webhooks=body.webhooks(),
            state="running",
        )
        status = 201
    else:
        execution = await store.update_execution(
            existing.ref, channel=channel, webhooks=body.webhooks()
        )
        status = 200
    logger.info("Execution %s registered (channel %s)", execution.label, execution.channel)
    return web.json_response(
        {"execution_id": execution.execution_id, "channel": execution.channel}, status=status
    )


def _authorized(request: web.Request, services: Services) -> bool:
    return http.matches(http.bearer(request), services.settings.bot_api_token.get_secret_value())


async def _parse(request: web.Request, model: type[M]) -> M | web.Response:
    try:
        raw = json.loads(await request.read())
    except (ValueError, UnicodeDecodeError):
        return http.error(400, "invalid_json", "The body is not valid JSON.")
    except RecursionError:
        return http.error(400, "invalid_json", "The body's JSON is nested too deeply.")
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        fields = [
            {
                "field": ".".join(str(part) for part in error["loc"]) or "body",
                "message": error["msg"],
            }
            for error in exc.errors()
        ]
        return http.error(
            422, "invalid_body", "The body has wrong or missing fields.", fields=fields
        )


def routes() -> list[web.RouteDef]:
    return [web.post("/api/kickoff", kickoff), web.post("/api/executions", register)]
