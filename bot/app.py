"""The bot assembled: its routes, its Slack listeners, its workers, and the lifespan that owns them.

Read this module as the table of contents: what the bot serves, what it listens to, what
runs in the background, and in which order resources are opened and closed.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator

import aiohttp
from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot import api, http, jobs, webhooks
from bot.crewai import CrewAIClient
from bot.listeners import ReviewListeners
from bot.outbox import Backoff, Outbox
from bot.poster import Poster
from bot.resumer import Resumer
from bot.reviews import Deadlines, ReviewService
from bot.services import SERVICES, Inflight, Services
from bot.settings import Settings
from bot.store import Store

logger = logging.getLogger(__name__)

SETTINGS = web.AppKey("settings", Settings)
BOLT = web.AppKey("bolt", AsyncApp)
STARTED = web.AppKey("started", float)

MAX_BODY = 1024 * 1024
STOP_TIMEOUT = 5.0
SLACK_TIMEOUT = 30.0


def create_app(settings: Settings) -> web.Application:
    """The bot's aiohttp application; resources open when it starts and close when it stops."""
    app = web.Application(client_max_size=MAX_BODY, middlewares=[http.json_errors])
    app[SETTINGS] = settings
    app.add_routes(
        [
            web.get("/healthz", healthz),
            web.post("/slack/events", slack_events),
            *webhooks.routes(),
            *api.routes(),
        ]
    )
    app.cleanup_ctx.append(lifespan)
    return app


async def lifespan(app: web.Application) -> AsyncIterator[None]:
    """Opens the store, the clients and the workers in order, and closes them in reverse."""
    settings = app[SETTINGS]
    services = await open_services(settings)
    app[SERVICES] = services
    app[BOLT] = _bolt_app(services)
    app[STARTED] = time.time()
    await services.outbox.start()
    logger.info(
        "Bot started: database %s (schema %d), review channel %s",
        settings.bot_database,
        await services.store.schema_version(),
        settings.slack_review_channel,
    )

    yield

    await services.inflight.drain(STOP_TIMEOUT)
    await services.outbox.stop(STOP_TIMEOUT)
    await services.crewai.aclose()
    if services.slack.session is not None:
        await services.slack.session.close()
    await services.store.close()
    logger.info("Bot stopped")


async def open_services(settings: Settings) -> Services:
    """The store, the clients, the domain core and the outbox, not yet started."""
    store = await Store.open(settings.bot_database)
    crewai = CrewAIClient(
        settings.crewai_url,
        settings.crewai_token.get_secret_value(),
        timeout=settings.crewai_timeout,
    )
    # One session for every Web API call keeps connections alive; without it, each call
    # opens and closes a connection of its own.
    slack = AsyncWebClient(
        token=settings.slack_bot_token.get_secret_value(),
        base_url=settings.slack_api_url,
        session=aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=SLACK_TIMEOUT)),
    )
    deadlines = Deadlines(resume=settings.bot_resume_deadline, slack=settings.bot_slack_deadline)
    reviews = ReviewService(store, deadlines=deadlines)
    outbox = _outbox(settings, reviews, slack, crewai)
    return Services(
        settings=settings,
        store=store,
        reviews=reviews,
        crewai=crewai,
        slack=slack,
        outbox=outbox,
        inflight=Inflight(),
    )


def _outbox(
    settings: Settings, reviews: ReviewService, slack: AsyncWebClient, crewai: CrewAIClient
) -> Outbox:
    """The background worker, with the handler of each kind of job."""
    poster = Poster(reviews, slack, default_channel=settings.slack_review_channel)
    resumer = Resumer(reviews, crewai)
    return Outbox(
        reviews.store,
        handlers={
            jobs.POST_REVIEW: poster.post_review,
            jobs.UPDATE_REVIEW: poster.update_review,
            jobs.POST_RESULT: poster.post_result,
            jobs.POST_NOTICE: poster.post_notice,
            jobs.RESUME: resumer.deliver,
        },
        give_up={
            jobs.POST_REVIEW: poster.gave_up,
            jobs.POST_RESULT: poster.gave_up,
            jobs.RESUME: resumer.gave_up,
        },
        backoff=Backoff(settings.bot_retry_base, settings.bot_retry_cap),
    )


def _bolt_app(services: Services) -> AsyncApp:
    """The Slack side: Bolt verifies each request's signature, then the listeners run."""
    bolt = AsyncApp(
        client=services.slack,
        signing_secret=services.settings.slack_signing_secret.get_secret_value(),
        raise_error_for_unhandled_request=False,
    )
    ReviewListeners(services).register(bolt)
    return bolt


async def slack_events(request: web.Request) -> web.Response:
    """Events, interactivity and slash commands, all on one URL as Slack sends them."""
    bolt = request.app[BOLT]
    response = await bolt.async_dispatch(await to_bolt_request(request))
    return await to_aiohttp_response(response)


async def healthz(request: web.Request) -> web.Response:
    services = request.app[SERVICES]
    ready = services.outbox.running
    body = {
        "ok": ready,
        "store": "open",
        "worker": "running" if ready else "stopped",
        "uptime_seconds": round(time.time() - request.app[STARTED], 1),
    }
    return web.json_response(body, status=200 if ready else 503)
