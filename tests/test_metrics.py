"""Watching the bot: `/metrics` in Prometheus text, `/healthz`, and the log formats."""

from __future__ import annotations

import json
import logging

import pytest
from prometheus_client.parser import text_string_to_metric_families

from bot import blocks, logs
from bot.metrics import Metrics
from tests.conftest import AMP_TOKEN, API_TOKEN, BOT_TOKEN, WEBHOOK_TOKEN, Amp, Bot
from tests.fakes.slack import FakeSlack
from tests.flows import click, kickoff, nth_review, wait_for_text


async def scrape(bot: Bot) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of `/metrics`, by name and sorted labels."""
    response = await bot.http.get(bot.url + "/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    for secret in (BOT_TOKEN, AMP_TOKEN, API_TOKEN, WEBHOOK_TOKEN):
        assert secret not in response.text
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


async def test_a_review_loop_shows_in_the_metrics(bot: Bot, slack: FakeSlack, amp: Amp) -> None:
    await kickoff(bot)
    message = await nth_review(slack, 1)
    before = await scrape(bot)
    assert before[("crew_review_reviews", (("state", "pending"),))] == 1

    await click(bot, message, blocks.APPROVE)
    await click(bot, message, blocks.APPROVE, user="ULATE")
    await wait_for_text(slack, message, "Delivered to AMP")
    after = await scrape(bot)

    assert after[("crew_review_reviews", (("state", "pending"),))] == 0
    assert after[("crew_review_reviews", (("state", "decided"),))] == 1
    assert after[("crew_review_resumes", (("delivery", "delivered"),))] == 1
    decisions = "crew_review_decisions_total"
    assert after[(decisions, (("kind", "approve"), ("outcome", "accepted")))] == 1
    assert after[(decisions, (("kind", "approve"), ("outcome", "too_late")))] == 1
    assert after[("crew_review_resume_attempts_total", (("outcome", "200"),))] == 1
    assert after[("crew_review_resume_seconds_count", ())] == 1
    assert after[("crew_review_amp_requests_total", (("call", "kickoff"), ("outcome", "200")))] == 1
    posts = ("crew_review_slack_calls_total", (("method", "chat.postMessage"), ("outcome", "ok")))
    assert after[posts] >= 1
    human_input = (("route", "/amp/executions/{ref}/human-input"), ("status", "200"))
    assert after[("crew_review_http_requests_total", human_input)] == 1
    slack_events = (("route", "/slack/events"), ("status", "200"))
    assert after[("crew_review_http_requests_total", slack_events)] >= 2
    assert after[("crew_review_outbox_jobs", (("state", "failed"),))] == 0


async def test_rate_limits_and_a_waiting_outbox_show_in_the_metrics(
    bot: Bot, slack: FakeSlack
) -> None:
    slack.fail_next("chat.postMessage", status=429, retry_after=0)
    slack.fail_next("chat.postMessage", status=503, times=1000)
    accepted = await bot.notify({"execution_id": "ex-1", "task_id": "t", "output": "o"})
    assert accepted.status_code == 200
    await slack.wait_for(lambda: len(slack.calls_to("chat.postMessage")) >= 3)

    samples = await scrape(bot)

    limited = ("crew_review_slack_rate_limited_total", (("method", "chat.postMessage"),))
    assert samples[limited] == 1
    failed = (
        "crew_review_slack_calls_total",
        (("method", "chat.postMessage"), ("outcome", "http_503")),
    )
    assert samples[failed] >= 1
    waiting = samples[("crew_review_outbox_jobs", (("state", "ready"),))]
    waiting += samples[("crew_review_outbox_jobs", (("state", "running"),))]
    assert waiting == 1
    assert samples[("crew_review_outbox_oldest_job_age_seconds", ())] > 0


def test_each_bot_has_a_registry_of_its_own() -> None:
    first, second = Metrics(), Metrics()
    first.slack_answered("chat.update", "ok")
    assert (
        first.registry.get_sample_value(
            "crew_review_slack_calls_total", {"method": "chat.update", "outcome": "ok"}
        )
        == 1
    )
    assert (
        second.registry.get_sample_value(
            "crew_review_slack_calls_total", {"method": "chat.update", "outcome": "ok"}
        )
        is None
    )


async def test_healthz_answers_503_with_the_reason_when_the_worker_stopped(bot: Bot) -> None:
    healthy = await bot.http.get(bot.url + "/healthz")
    assert healthy.status_code == 200
    assert healthy.json()["store"] == "open" and healthy.json()["worker"] == "running"

    await bot.services.outbox.stop(0.1)
    stopped = await bot.http.get(bot.url + "/healthz")

    assert stopped.status_code == 503
    assert stopped.json()["ok"] is False
    assert stopped.json()["reason"] == "the outbox worker is not running"


async def test_healthz_answers_503_with_the_reason_when_the_store_is_gone(bot: Bot) -> None:
    await bot.services.outbox.stop(0.1)
    await bot.store.close()

    gone = await bot.http.get(bot.url + "/healthz")

    assert gone.status_code == 503
    assert gone.json()["store"] == "unavailable"
    assert "the database does not answer" in gone.json()["reason"]


@pytest.fixture
def root_logging() -> object:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield root
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.mark.usefixtures("root_logging")
def test_json_lines_keep_secrets_out_of_the_message_and_the_traceback(
    capsys: pytest.CaptureFixture[str],
) -> None:
    logs.configure("INFO", [AMP_TOKEN], log_format="json")
    logger = logging.getLogger("bot.test")
    logger.debug("not shown")
    logger.info("Review %s posted with %s", "r-1", AMP_TOKEN)
    logger.info("Connecting to %s", "wss://wss.slack.test/link/?ticket=abc-123&app_id=A1")
    try:
        raise RuntimeError(f"token {AMP_TOKEN} refused")
    except RuntimeError:
        logger.exception("Resume of review %s failed", "r-2")

    lines = capsys.readouterr().err.strip().splitlines()

    assert len(lines) == 3
    first, ticket, second = (json.loads(line) for line in lines)
    assert (
        ticket["message"] == "Connecting to wss://wss.slack.test/link/?ticket=[redacted]&app_id=A1"
    )
    assert first["level"] == "INFO" and first["logger"] == "bot.test"
    assert first["message"] == "Review r-1 posted with [redacted]"
    assert second["message"] == "Resume of review r-2 failed"
    assert "RuntimeError: token [redacted] refused" in second["exception"]
    assert AMP_TOKEN not in "".join(lines)


@pytest.mark.usefixtures("root_logging")
def test_plain_lines_are_the_default(capsys: pytest.CaptureFixture[str]) -> None:
    logs.configure("WARNING", [])
    logging.getLogger("bot.test").warning("Execution %s unknown", "ex-9")

    line = capsys.readouterr().err.strip()

    assert line.endswith("WARNING bot.test: Execution ex-9 unknown")
