"""The routes AMP calls: the human-input notification and the task, step and crew webhooks.

The human-input route authenticates with the execution's own bearer secret (or the shared
`BOT_WEBHOOK_TOKEN`); the legacy webhooks cannot authenticate, so each URL the bot hands out
carries an unguessable per-execution secret in its path. Every route answers at once: the
Slack side of the work runs from the outbox.
"""

from __future__ import annotations

import logging

from aiohttp import web

from bot import http
from bot.payloads import PayloadError, parse_crew_result, parse_json_object, parse_notification
from bot.records import Execution
from bot.services import SERVICES, Services

logger = logging.getLogger(__name__)

HUMAN_INPUT_PATH = "/amp/human-input"
EXECUTION_HUMAN_INPUT_PATH = "/amp/executions/{ref}/human-input"
LEGACY_PATH = "/amp/executions/{ref}/{secret}/{kind}"
LEGACY_KINDS = ("task", "step", "crew")


def human_input_url(public_url: str, execution: Execution) -> str:
    return public_url + EXECUTION_HUMAN_INPUT_PATH.format(ref=execution.ref)


def legacy_url(public_url: str, execution: Execution, kind: str) -> str:
    return public_url + LEGACY_PATH.format(
        ref=execution.ref, secret=execution.url_secret, kind=kind
    )


async def human_input(request: web.Request) -> web.Response:
    """A task waits for a human: store the review and answer; the post follows from the outbox."""
    services = request.app[SERVICES]
    ref = request.match_info.get("ref")
    token = http.bearer(request)
    shared = services.settings.bot_webhook_token
    by_shared_token = shared is not None and http.matches(token, shared.get_secret_value())

    execution = await services.store.execution(ref) if ref else None
    if execution is not None and not (by_shared_token or http.matches(token, execution.secret)):
        return http.unauthorized("Wrong or missing credentials for this execution.")
    if execution is None and ref is not None and not by_shared_token:
        return http.unauthorized("Wrong or missing credentials for this execution.")

    try:
        payload = parse_json_object(await request.read())
        notification = parse_notification(
            payload, execution_id=execution.execution_id if execution else None
        )
    except PayloadError as exc:
        return http.error(400, exc.error, exc.message)

    if execution is None:
        execution = await services.store.execution_by_id(notification.execution_id)
        if execution is None and not by_shared_token:
            return http.unauthorized()
        if execution is not None and not (by_shared_token or http.matches(token, execution.secret)):
            return http.unauthorized("Wrong or missing credentials for this execution.")
    if execution is None:
        execution = await _register_unknown(
            services, notification.execution_id, notification.crew_name
        )
    execution = await _learn_ids(
        services, execution, notification.execution_id, notification.crew_name
    )

    added = await services.reviews.receive(notification, execution)
    return web.json_response(
        {"ok": True, "review_id": added.review.id, "duplicate": not added.created}
    )


async def legacy_webhook(request: web.Request) -> web.Response:
    """The task, step or crew webhook of one execution, authenticated by its URL's secret."""
    services = request.app[SERVICES]
    kind = request.match_info["kind"]
    execution = await services.store.execution(request.match_info["ref"])
    if execution is None or not http.matches(request.match_info["secret"], execution.url_secret):
        return http.unauthorized("Unknown webhook URL.")
    if kind not in LEGACY_KINDS:
        return http.error(404, "not_found", f"No webhook of kind {kind!r}.")
    try:
        payload = parse_json_object(await request.read())
    except PayloadError as exc:
        return http.error(400, exc.error, exc.message)

    await services.store.add_event(execution.ref, kind, payload)
    if kind == "crew":
        result = parse_crew_result(payload)
        failed = isinstance(payload.get("error"), str) and not result.result
        await services.reviews.finish(
            execution, result.result or str(payload.get("error", "")), failed=failed
        )
    logger.debug("Webhook %s received for execution %s", kind, execution.label)
    return web.json_response({"ok": True})


async def _register_unknown(
    services: Services, execution_id: str, crew_name: str | None
) -> Execution:
    """An execution the bot never heard of, sent with the shared token: the default channel."""
    channel = services.settings.slack_review_channel
    return await services.store.create_execution(
        channel=channel,
        source="webhook",
        execution_id=execution_id,
        state="running",
        crew_name=crew_name,
    )


async def _learn_ids(
    services: Services, execution: Execution, execution_id: str, crew_name: str | None
) -> Execution:
    """Fill in AMP's id (a notification may come before the kickoff answer) and the crew name."""
    id_was_unknown = execution.execution_id is None
    if id_was_unknown:
        if not await services.store.claim_execution_id(execution.ref, execution_id):
            logger.warning("Execution id %s is claimed by another execution", execution_id)
    elif execution.execution_id != execution_id:
        logger.warning(
            "Notification for execution %s names execution %s; keeping the first",
            execution.execution_id,
            execution_id,
        )
    if crew_name and not execution.crew_name:
        return await services.store.update_execution(execution.ref, crew_name=crew_name)
    if not id_was_unknown:
        return execution
    found = await services.store.execution(execution.ref)
    assert found is not None
    return found


def routes() -> list[web.RouteDef]:
    return [
        web.post(HUMAN_INPUT_PATH, human_input),
        web.post(EXECUTION_HUMAN_INPUT_PATH, human_input),
        web.post(LEGACY_PATH, legacy_webhook),
    ]
