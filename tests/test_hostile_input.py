"""Hostile and broken input: forged Slack requests, tampered buttons, crafted and huge bodies."""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode, urlparse

import pytest

from bot import blocks, reviews
from bot.states import ReviewState
from tests.conftest import CHANNEL, REVIEWER, WEBHOOK_TOKEN, Amp, Bot
from tests.fakes.slack import FakeSlack, Message, SlackSigner
from tests.flows import (
    kickoff,
    nth_review,
    private_replies,
    review_id_of,
    text_of,
    wait_for_text,
)
from tests.test_blocks import mrkdwn_texts

FORM = "application/x-www-form-urlencoded"


def approve_body(slack: FakeSlack, message: Message, value: str) -> str:
    """The form body of an Approve click on `message`, as Slack would send it."""
    payload: dict[str, Any] = {
        "type": "block_actions",
        "user": {"id": REVIEWER, "username": "reviewer", "team_id": slack.team_id},
        "api_app_id": slack.app_id,
        "token": "fake-verification-token",
        "trigger_id": slack.issue_trigger_id(),
        "team": {"id": slack.team_id, "domain": slack.team_domain},
        "container": {"type": "message", "message_ts": message.ts, "channel_id": CHANNEL},
        "channel": {"id": CHANNEL, "name": "reviews"},
        "message": slack.api_message(message),
        "response_url": slack.response_url(channel=CHANNEL, ts=message.ts),
        "actions": [
            {
                "type": "button",
                "action_id": blocks.APPROVE,
                "block_id": "review_actions",
                "value": value,
                "action_ts": f"{time.time():.6f}",
            }
        ],
    }
    return urlencode({"payload": json.dumps(payload)})


async def test_slack_requests_that_are_not_signed_right_are_401_and_do_nothing(
    bot: Bot, slack: FakeSlack, amp: Amp
) -> None:
    assert bot.slack is not None
    await kickoff(bot)
    message = await nth_review(slack, 1)
    review_id = review_id_of(message)
    body = approve_body(slack, message, review_id)
    signed = bot.slack.sign(body)
    stale = int(time.time()) - 6 * 60
    forged = {
        "no signature": {},
        "another secret": SlackSigner("not-the-signing-secret").sign(body),
        "older than 5 minutes": bot.slack.sign(body, timestamp=stale),
        "signature of another body": bot.slack.sign(approve_body(slack, message, "other")),
        "signature without timestamp": {"X-Slack-Signature": signed["X-Slack-Signature"]},
    }

    for name, headers in forged.items():
        response = await bot.slack.send_raw(body, headers, FORM)
        assert response.status_code == 401, name
    event = json.dumps({"type": "event_callback", "event_id": "Ev1", "event": {}})
    assert (await bot.slack.send_raw(event, {}, "application/json")).status_code == 401

    assert await bot.store.decisions_of(review_id) == []
    assert slack.responses == [] and amp.sim.resume_calls == []
    assert (await bot.store.review(review_id)).state is ReviewState.PENDING

    accepted = await bot.slack.send_raw(body, signed, FORM)
    assert accepted.status_code == 200
    await wait_for_text(slack, message, "Delivered to AMP")


TAMPERED = ["", "no-such-review", "x" * 2000, "' OR 1=1 --", "rev\n<!channel>", "%00../../etc"]


@pytest.mark.parametrize("action_id", [blocks.APPROVE, blocks.REVISE, blocks.RETRY])
async def test_tampered_button_values_decide_nothing_and_are_explained(
    bot: Bot, slack: FakeSlack, amp: Amp, action_id: str
) -> None:
    assert bot.slack is not None
    await kickoff(bot)
    message = await nth_review(slack, 1)

    for value in TAMPERED:
        response = await bot.slack.block_action(
            user=REVIEWER,
            action_id=action_id,
            value=value,
            channel=message.channel,
            message_ts=message.ts,
        )
        assert response.status_code == 200

    await slack.wait_for(lambda: len(slack.responses) == len(TAMPERED))
    assert private_replies(slack) == [blocks.UNKNOWN_REVIEW] * len(TAMPERED)
    assert {post.body["response_type"] for post in slack.responses} == {"ephemeral"}
    assert await bot.store.decisions_of(review_id_of(message)) == []
    assert slack.calls_to("views.open") == []
    assert (await bot.http.get(bot.url + "/healthz")).status_code == 200


async def test_a_click_on_a_review_of_another_channel_is_refused(
    bot: Bot, slack: FakeSlack, amp: Amp
) -> None:
    assert bot.slack is not None
    await kickoff(bot)
    message = await nth_review(slack, 1)

    for action_id in (blocks.APPROVE, blocks.REVISE):
        await bot.slack.block_action(
            user=REVIEWER,
            action_id=action_id,
            value=review_id_of(message),
            channel="CELSEWHERE",
            message_ts=message.ts,
        )

    await slack.wait_for(lambda: len(slack.responses) == 2)
    assert all(reviews.OTHER_CHANNEL in text for text in private_replies(slack))
    audit = await bot.store.decisions_of(review_id_of(message))
    assert [(d.kind, d.outcome) for d in audit] == [("approve", "refused"), ("revise", "refused")]
    assert slack.calls_to("views.open") == [] and amp.sim.resume_calls == []


async def test_hostile_text_in_a_notification_is_shown_as_text(bot: Bot, slack: FakeSlack) -> None:
    hostile = "<!channel> <!here|here> <@U0BOSS> <#C0SECRET> <https://evil.example|Click> &amp;"
    response = await bot.notify(
        {
            "execution_id": f"ex-{hostile}",
            "task_id": f"task {hostile}",
            "task_name": f"Name {hostile}",
            "crew_name": f"Crew {hostile}",
            "output": f"# Out {hostile}\n\n- item {hostile}\n\n`{hostile}`\n```\n{hostile}\n```",
        }
    )
    assert response.status_code == 200

    message = await nth_review(slack, 1)
    shown = " ".join([*mrkdwn_texts(message.blocks), message.text])
    for markup in ("<!", "<@", "<#", "<https://evil"):
        assert markup not in shown
    assert "&lt;!channel&gt;" in shown and "&amp;amp;" in shown
    assert "nobody registered" in text_of(message)
    assert message.channel == CHANNEL


async def test_a_declared_length_over_the_limit_is_413_before_the_body_is_sent(bot: Bot) -> None:
    port = urlparse(bot.url).port
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(
        b"POST /amp/human-input HTTP/1.1\r\nHost: bot\r\n"
        b"Authorization: Bearer " + WEBHOOK_TOKEN.encode() + b"\r\n"
        b"Content-Type: application/json\r\nContent-Length: 104857600\r\n\r\n{"
    )
    await writer.drain()

    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
    length = int(re.search(rb"Content-Length: (\d+)", head, re.IGNORECASE).group(1))  # type: ignore[union-attr]
    answer = json.loads(await reader.readexactly(length))
    writer.close()

    assert head.startswith(b"HTTP/1.1 413")
    assert answer["error"] == "request_entity_too_large" and "1048576" in answer["message"]


async def test_a_streamed_body_is_cut_off_at_the_configured_limit(
    make_bot: Callable[..., Bot],
) -> None:
    bot = make_bot(bot_max_body_bytes=4096)
    await bot.start()
    try:
        port = urlparse(bot.url).port
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(
            b"POST /amp/human-input HTTP/1.1\r\nHost: bot\r\n"
            b"Authorization: Bearer " + WEBHOOK_TOKEN.encode() + b"\r\n"
            b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
        )
        chunk = b" " * 1024
        for _ in range(5):
            writer.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        await writer.drain()

        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
        writer.close()
        assert head.startswith(b"HTTP/1.1 413")

        small = {"execution_id": "ex-small", "task_id": "t", "output": "x" * 3000}
        assert (await bot.notify(small)).status_code == 200
        large = {**small, "output": "x" * 5000}
        too_large = await bot.notify(large)
        assert too_large.status_code == 413
        assert too_large.json()["error"] == "request_entity_too_large"
    finally:
        await bot.stop()
        await bot.http.aclose()


@pytest.mark.parametrize("path", ["/api/kickoff", "/api/executions"])
@pytest.mark.parametrize(
    "authorization", [None, "Bearer wrong-token", "Bearer", "Basic dXNlcjpwYXNz", "wrong-token"]
)
async def test_the_api_refuses_a_missing_or_wrong_bearer(
    bot: Bot, amp: Amp, path: str, authorization: str | None
) -> None:
    headers = {} if authorization is None else {"Authorization": authorization}
    response = await bot.http.post(
        bot.url + path, json={"inputs": {"topic": "x"}, "execution_id": "ex-1"}, headers=headers
    )
    assert response.status_code == 401
    assert set(response.json()) == {"error", "message"}
    assert amp.sim.kickoff_calls == [] and await bot.store.execution_by_id("ex-1") is None


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        (b"{not json", 400, None),
        (b"[1, 2]", 422, "body"),
        (b'{"execution_id": ""}', 422, "execution_id"),
        (b'{"execution_id": 5}', 422, "execution_id"),
        (b'{"execution_id": "e", "channel": "general"}', 422, "channel"),
    ],
)
async def test_a_malformed_api_body_names_what_is_wrong(
    bot: Bot, body: bytes, status: int, field: str | None
) -> None:
    response = await bot.http.post(
        bot.url + "/api/executions",
        content=body,
        headers={"Authorization": f"Bearer {bot.settings.bot_api_token.get_secret_value()}"},
    )
    assert response.status_code == status
    answer = response.json()
    assert answer["error"] and answer["message"]
    if field is not None:
        assert field in [error["field"] for error in answer["fields"]]
