"""The bot's Prometheus metrics, kept in a registry of each bot's own.

Counters of outbound calls are recorded where the calls are made (the AMP client, the Slack
poster); what the store holds (reviews, decisions, outbox jobs) is read from it at each scrape,
so those numbers survive a restart.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator

from aiohttp import web
from aiohttp.typedefs import Handler
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from bot.states import DecisionKind, Delivery, ReviewState
from bot.store import StoreCounts

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
RESUME_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
_JOB_STATES = ("ready", "running", "failed")
_DECISION_OUTCOMES = ("accepted", "too_late", "refused")


class Metrics:
    """Every metric of one bot, and the `/metrics` text they render to."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.resume_attempts = Counter(
            "crew_review_resume_attempts",
            "Calls of AMP's /resume, by outcome: the HTTP status, or unreachable / no_answer.",
            ["outcome"],
            registry=self.registry,
        )
        self.resume_seconds = Histogram(
            "crew_review_resume_seconds",
            "How long each call of AMP's /resume took, whatever its outcome.",
            buckets=RESUME_BUCKETS,
            registry=self.registry,
        )
        self.amp_requests = Counter(
            "crew_review_amp_requests",
            "Calls of AMP's API (health, inputs, kickoff, status, resume), by outcome.",
            ["call", "outcome"],
            registry=self.registry,
        )
        self.slack_calls = Counter(
            "crew_review_slack_calls",
            "Slack Web API calls of the outbox jobs, by method and outcome (ok or Slack's error).",
            ["method", "outcome"],
            registry=self.registry,
        )
        self.slack_rate_limited = Counter(
            "crew_review_slack_rate_limited",
            "Slack Web API calls answered 429 (rate limited), by method.",
            ["method"],
            registry=self.registry,
        )
        self.http_requests = Counter(
            "crew_review_http_requests",
            "Requests the bot served (AMP webhooks, its API, Slack), by route and status.",
            ["route", "status"],
            registry=self.registry,
        )
        self._counts = StoreCounts()
        self.registry.register(_StoreCollector(self))

    def amp_answered(self, call: str, outcome: str, seconds: float) -> None:
        """One AMP call finished: `outcome` is the HTTP status, or why there was none."""
        self.amp_requests.labels(call=call, outcome=outcome).inc()
        if call == "resume":
            self.resume_attempts.labels(outcome=outcome).inc()
            self.resume_seconds.observe(seconds)

    def slack_answered(self, method: str, outcome: str) -> None:
        """One Slack Web API call finished: `outcome` is `ok` or Slack's error."""
        self.slack_calls.labels(method=method, outcome=outcome).inc()
        if outcome == "ratelimited":
            self.slack_rate_limited.labels(method=method).inc()

    def render(self, counts: StoreCounts) -> bytes:
        """The Prometheus text of every metric, with the store's numbers as given."""
        self._counts = counts
        return generate_latest(self.registry)

    @web.middleware
    async def count_requests(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """Count each request by its route's template (never its secrets) and status."""
        resource = request.match_info.route.resource
        route = resource.canonical if resource is not None else "unmatched"
        try:
            response = await handler(request)
        except web.HTTPException as exc:
            self.http_requests.labels(route=route, status=str(exc.status)).inc()
            raise
        self.http_requests.labels(route=route, status=str(response.status)).inc()
        return response


class _StoreCollector(Collector):
    """The store's numbers from the last scrape, as Prometheus metrics."""

    def __init__(self, metrics: Metrics) -> None:
        self._metrics = metrics

    def describe(self) -> Iterable[Metric]:
        return ()

    def collect(self) -> Iterator[Metric]:
        counts = self._metrics._counts
        reviews = GaugeMetricFamily(
            "crew_review_reviews", "Reviews in the store, by state.", labels=["state"]
        )
        for state in ReviewState:
            reviews.add_metric([state.value], counts.reviews.get(state.value, 0))
        yield reviews

        deliveries = GaugeMetricFamily(
            "crew_review_resumes",
            "Decided reviews by the delivery state of their resume.",
            labels=["delivery"],
        )
        for delivery in Delivery:
            if delivery is not Delivery.NONE:
                deliveries.add_metric([delivery.value], counts.deliveries.get(delivery.value, 0))
        yield deliveries

        decisions = CounterMetricFamily(
            "crew_review_decisions",
            "Decisions recorded, by kind and outcome (accepted, too_late, refused).",
            labels=["kind", "outcome"],
        )
        for kind in DecisionKind:
            for outcome in _DECISION_OUTCOMES:
                decisions.add_metric(
                    [kind.value, outcome], counts.decisions.get((kind.value, outcome), 0)
                )
        yield decisions

        jobs = GaugeMetricFamily(
            "crew_review_outbox_jobs", "Outbox jobs in the store, by state.", labels=["state"]
        )
        for job_state in _JOB_STATES:
            jobs.add_metric([job_state], counts.jobs.get(job_state, 0))
        yield jobs

        oldest = counts.oldest_job_created_at
        yield GaugeMetricFamily(
            "crew_review_outbox_oldest_job_age_seconds",
            "Age of the oldest outbox job not yet done (0 when there is none).",
            value=0.0 if oldest is None else max(0.0, time.time() - oldest),
        )
