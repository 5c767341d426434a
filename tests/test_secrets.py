"""Secrets never leave: not in logs, Slack messages or answers, through a whole review loop."""

from __future__ import annotations

import json
from pathlib import Path

from bot import blocks, logs
from bot.simulator import COMPLETED
from tests.conftest import (
    AMP_TOKEN,
    API_TOKEN,
    BOT_TOKEN,
    CHANNEL,
    SIGNING_SECRET,
    WEBHOOK_TOKEN,
    Amp,
)
from tests.fakes.slack import FakeSlack
from tests.flows import nth_review, text_of, wait_for_text
from tests.processes import bot_process


async def test_no_secret_appears_anywhere_through_a_whole_review_loop(
    tmp_path: Path, slack: FakeSlack, amp: Amp
) -> None:
    answers: list[str] = []
    async with bot_process(tmp_path, slack, amp, BOT_LOG_LEVEL="DEBUG") as bot:
        kickoff = await bot.api("/api/kickoff", {"inputs": {"topic": "AI"}, "started_by": "U1"})
        answers.append(kickoff.text)
        kickoff_id = kickoff.json()["kickoff_id"]
        sent = amp.sim.kickoff_calls[0]
        first = await nth_review(slack, 1)
        amp.sim.fail_next(
            "resume",
            status=400,
            body={
                "error": "Invalid Request",
                "message": f"cannot reach {sent['crewWebhookUrl']} with Bearer "
                + sent["humanInputWebhook"]["authentication"]["token"],
            },
        )

        await bot.click(first, blocks.REVISE)
        await slack.wait_for(lambda: len(slack.calls_to("views.open")) == 1)
        submitted = await bot.slack.view_submission(
            user="UREVIEWER",
            values={blocks.FEEDBACK_BLOCK: {blocks.FEEDBACK_INPUT: "Add sources."}},
        )
        answers.append(submitted.text)
        failed = await wait_for_text(slack, first, "Not delivered to AMP")
        assert "/amp/executions/" in text_of(failed) and "[redacted]" in text_of(failed)
        await bot.click(failed, blocks.RETRY)
        second = await nth_review(slack, 2)
        await bot.click(second, blocks.APPROVE)
        await amp.sim.wait_for(lambda: amp.sim.executions[kickoff_id].state == COMPLETED)
        await slack.wait_for(
            lambda: any("The crew finished" in m.text for m in slack.messages[CHANNEL])
        )
        assert await bot.terminate() == 0
        execution_secrets = [
            value
            for row in bot.query("SELECT secret, url_secret FROM executions")
            for value in (row["secret"], row["url_secret"])
        ]
        logged = bot.logs()

    assert "DEBUG" in logged and "Review" in logged
    seen_by_slack = json.dumps([call.args for call in slack.calls], ensure_ascii=False)
    told = json.dumps([post.body for post in slack.responses], ensure_ascii=False)
    secrets = [BOT_TOKEN, SIGNING_SECRET, AMP_TOKEN, API_TOKEN, WEBHOOK_TOKEN, *execution_secrets]
    for place, text in {
        "logs": logged,
        "slack": seen_by_slack,
        "private": told,
        "answers": "".join(answers),
    }.items():
        for secret in secrets:
            assert secret not in text, f"a secret is in the {place}"


def test_urls_are_shown_without_their_secrets() -> None:
    secret = "Zx9-" * 8
    assert (
        logs.redact_url(f"https://bot.example.com/amp/executions/ref12345/{secret}/crew")
        == "https://bot.example.com/amp/executions/ref12345/[redacted]/crew"
    )
    assert (
        logs.redact_url("https://user:pw@hooks.example.com:8443/in/abc?token=s3cr3t")
        == "https://hooks.example.com:8443/in/abc?[redacted]"
    )


def test_the_log_filter_removes_known_secrets_and_any_bearer_token() -> None:
    line = "Calling with Authorization: Bearer abc.def-123 and xoxb-known-token"
    assert logs.redact(line, ["xoxb-known-token"]) == (
        "Calling with Authorization: Bearer [redacted] and [redacted]"
    )
