"""The bot assembled: its routes, its Slack listeners, its workers, and the lifespan that owns them.

Read this module as the table of contents: what the bot serves, what it listens to, what
runs in the background, and in which order resources are opened and closed.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable

import aiohttp
from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot import api, health, home, http, jobs, threads, webhooks
from bot.approvers import Approvers
from bot.commands import CrewCommand
from bot.crewai import CrewAIClient
from bot.directory import Directory
from bot.home import HomePublisher, HomeTab
from bot.kickoff import KickoffModal
from bot.listeners import ReviewListeners
from bot.metrics import CONTENT_TYPE, Metrics
from bot.outbox import Backoff, Handler, Outbox
from bot.poller import Poller
from bot.poster import Poster
from bot.records import Job
from bot.reminders import Reminders, Timing
from bot.resumer import Resumer
from bot.reviews import AnyoneMayDecide, Authorizer, Deadlines, ReviewService
from bot.seen_events import SeenEvents
from bot.services import SERVICES, Inflight, Services
from bot.settings import Settings
from bot.socket_mode import SocketMode
from bot.store import JobSpec, Store
from bot.threads import Confirmations, ThreadReplies

logger = logging.getLogger(__name__)

SETTINGS = web.AppKey("settings", Settings)
BOLT = web.AppKey("bolt", AsyncApp)
STARTED = web.AppKey("started", float)
METRICS = web.AppKey("metrics", Metrics)
POLLER = web.AppKey[Poller | None]("poller")
SOCKET_MODE = web.AppKey[SocketMode | None]("socket_mode")

# A stop (SIGTERM) must end within 10 s: aiohttp's 3 s for open requests, then these.
LISTENER_GRACE = 2.0
WORKER_GRACE = 3.0
SOCKET_GRACE = 1.0
SLACK_TIMEOUT = 30.0


def create_app(settings: Settings) -> web.Application:
    """The bot's aiohttp application; resources open when it starts and close when it stops.

    In Socket Mode, Slack's traffic comes over the websocket and `/slack/events` is not served.
    """
    metrics = Metrics()
    app = web.Application(
        client_max_size=settings.bot_max_body_bytes,
        middlewares=[
            metrics.count_requests,
            http.json_errors,
            http.body_limit(settings.bot_max_body_bytes),
        ],
    )
    app[SETTINGS] = settings
    app[METRICS] = metrics
    app.add_routes(
        [
            web.get("/healthz", healthz),
            web.get("/metrics", metrics_text),
            *([] if settings.socket_mode else [web.post("/slack/events", slack_events)]),
            *webhooks.routes(),
            *api.routes(),
        ]
    )
    app.cleanup_ctx.append(lifespan)
    return app


async def lifespan(app: web.Application) -> AsyncIterator[None]:
    """Opens the store, the clients and the workers in order, and closes them in reverse."""
    settings = app[SETTINGS]
    services = await open_services(settings, app[METRICS])
    app[SERVICES] = services
    app[BOLT] = _bolt_app(services)
    app[STARTED] = time.time()
    await services.outbox.start()
    reminders = _reminders(services)
    await reminders.start()
    app[POLLER] = poller = _poller(services)
    if poller is not None:
        await poller.start()
    app[SOCKET_MODE] = socket_mode = _socket_mode(settings, app[BOLT], services.slack)
    if socket_mode is not None:
        await socket_mode.start()
    logger.info(
        "Bot started: database %s (schema %d), review channel %s, Slack over %s",
        settings.bot_database,
        await services.store.schema_version(),
        settings.slack_review_channel,
        "Socket Mode" if socket_mode is not None else "HTTP",
    )

    yield

    if socket_mode is not None:
        await socket_mode.stop(SOCKET_GRACE)
    if poller is not None:
        await poller.stop()
    await reminders.stop()
    await services.inflight.drain(LISTENER_GRACE)
    await services.outbox.stop(WORKER_GRACE)
    await services.crewai.aclose()
    if services.slack.session is not None:
        await services.slack.session.close()
    await services.store.close()
    logger.info("Bot stopped")


async def open_services(settings: Settings, metrics: Metrics | None = None) -> Services:
    """The store, the clients, the domain core and the outbox, not yet started."""
    metrics = metrics or Metrics()
    store = await Store.open(settings.bot_database)
    crewai = CrewAIClient(
        settings.crewai_url,
        settings.crewai_token.get_secret_value(),
        timeout=settings.crewai_timeout,
        metrics=metrics,
    )
    # One session for every Web API call keeps connections alive; without it, each call
    # opens and closes a connection of its own.
    slack = AsyncWebClient(
        token=settings.slack_bot_token.get_secret_value(),
        base_url=settings.slack_api_url,
        session=aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=SLACK_TIMEOUT)),
    )
    deadlines = Deadlines(resume=settings.bot_resume_deadline, slack=settings.bot_slack_deadline)
    reviews = ReviewService(store, deadlines=deadlines, authorizer=_authorizer(settings, slack))
    directory = Directory(slack)
    outbox = _outbox(settings, reviews, slack, crewai, directory, metrics)
    return Services(
        settings=settings,
        store=store,
        reviews=reviews,
        crewai=crewai,
        slack=slack,
        outbox=outbox,
        inflight=Inflight(),
        directory=directory,
        metrics=metrics,
    )


def _authorizer(settings: Settings, slack: AsyncWebClient) -> Authorizer:
    """Who may decide: anyone, unless approvers or the self-approval rule are configured."""
    if not (settings.approvers or settings.channel_approvers or settings.bot_forbid_self_approval):
        return AnyoneMayDecide()
    return Approvers(
        slack,
        approvers=settings.approvers,
        per_channel=settings.channel_approvers,
        forbid_self_approval=settings.bot_forbid_self_approval,
    )


def _outbox(
    settings: Settings,
    reviews: ReviewService,
    slack: AsyncWebClient,
    crewai: CrewAIClient,
    directory: Directory,
    metrics: Metrics,
) -> Outbox:
    """The background worker, with the handler of each kind of job.

    Whenever a review message is posted or shows a new state, the Home tabs people look at
    and the review's thread confirmation follow.
    """
    poster = Poster(reviews, slack, default_channel=settings.slack_review_channel, metrics=metrics)
    resumer = Resumer(reviews, crewai)
    homes = HomePublisher(reviews, poster, directory)
    confirmations = Confirmations(reviews, poster)
    return Outbox(
        reviews.store,
        handlers={
            jobs.POST_REVIEW: _then(poster.post_review, homes.follow_ups),
            jobs.UPDATE_REVIEW: _then(
                poster.update_review, homes.follow_ups, confirmations.follow_ups
            ),
            jobs.POST_RESULT: poster.post_result,
            jobs.POST_NOTICE: poster.post_notice,
            jobs.RESUME: resumer.deliver,
            home.PUBLISH_HOME: homes.publish,
            threads.CONFIRM_DECISION: confirmations.confirm,
        },
        give_up={
            jobs.POST_REVIEW: poster.gave_up,
            jobs.POST_RESULT: poster.gave_up,
            jobs.RESUME: resumer.gave_up,
        },
        backoff=Backoff(settings.bot_retry_base, settings.bot_retry_cap),
    )


def _poller(services: Services) -> Poller | None:
    """The status poller of the executions the bot starts; none when the interval is 0."""
    settings = services.settings
    if settings.bot_poll_interval == 0:
        return None
    return Poller(
        services,
        interval=settings.bot_poll_interval,
        max_interval=settings.bot_poll_max_interval,
        deadline=settings.bot_poll_deadline,
    )


def _socket_mode(settings: Settings, bolt: AsyncApp, client: AsyncWebClient) -> SocketMode | None:
    """The Socket Mode connection when an app-level token is set; else Slack comes over HTTP."""
    if settings.slack_app_token is None:
        return None
    return SocketMode(bolt, app_token=settings.slack_app_token.get_secret_value(), client=client)


def _bolt_app(services: Services) -> AsyncApp:
    """The Slack side: Bolt verifies each request's signature, then the listeners run."""
    bolt = AsyncApp(
        client=services.slack,
        signing_secret=services.settings.slack_signing_secret.get_secret_value(),
        raise_error_for_unhandled_request=False,
    )
    bolt.middleware(SeenEvents(services.store).middleware)
    ReviewListeners(services).register(bolt)
    ThreadReplies(services).register(bolt)
    HomeTab(services).register(bolt)
    kickoff = KickoffModal(services)
    kickoff.register(bolt)
    CrewCommand(services, kickoff).register(bolt)
    return bolt


def _reminders(services: Services) -> Reminders:
    """The loop that reminds reviewers of reviews that wait, and expires them where set."""
    settings = services.settings
    timing = Timing(
        remind_after=settings.bot_remind_after,
        remind_again_after=settings.bot_remind_again_after,
        expire_after=settings.bot_expire_after,
    )
    return Reminders(services.reviews, timing, reviewers=settings.reviewers())


def _then(handler: Handler, *follow_ups: Callable[[Job], Awaitable[Iterable[JobSpec]]]) -> Handler:
    """`handler`, whose success also enqueues the jobs each of `follow_ups` names for the job."""

    async def run(job: Job) -> Iterable[JobSpec]:
        specs = list(await handler(job) or ())
        for follow_up in follow_ups:
            specs += await follow_up(job)
        return specs

    return run


async def slack_events(request: web.Request) -> web.Response:
    """Events, interactivity and slash commands, all on one URL as Slack sends them."""
    bolt = request.app[BOLT]
    response = await bolt.async_dispatch(await to_bolt_request(request))
    return await to_aiohttp_response(response)


async def healthz(request: web.Request) -> web.Response:
    """Readiness: 200 when the store and the workers are up, else 503 with the reason."""
    app = request.app
    ready, body = await health.report(
        app[SERVICES], started=app[STARTED], poller=app[POLLER], socket=app[SOCKET_MODE]
    )
    return web.json_response(body, status=200 if ready else 503)


async def metrics_text(request: web.Request) -> web.Response:
    """The metrics in Prometheus' text format, with the store's numbers read now."""
    services = request.app[SERVICES]
    text = request.app[METRICS].render(await services.store.counts())
    return web.Response(body=text, headers={"Content-Type": CONTENT_TYPE})
