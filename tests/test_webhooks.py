"""AMP's calls to the bot: authentication, lenient parsing, duplicates, early arrivals."""

from __future__ import annotations

import pytest

from bot import blocks
from bot.simulator import COMPLETED, PAYLOAD_STYLES
from tests.conftest import CHANNEL, WEBHOOK_TOKEN, Amp, Bot
from tests.fakes.slack import FakeSlack
from tests.flows import click, kickoff, nth_review, review_messages, text_of, wait_for_text


@pytest.mark.parametrize("style", PAYLOAD_STYLES)
async def test_every_payload_style_of_the_simulator_makes_a_review(
    bot: Bot, slack: FakeSlack, amp: Amp, style: str
) -> None:
    amp.sim.payload_style = style
    kickoff_id = await kickoff(bot)
    message = await nth_review(slack, 1)
    assert "research_task" in text_of(message)
    await click(bot, message, blocks.APPROVE)
    await amp.sim.wait_for(lambda: amp.sim.executions[kickoff_id].state == COMPLETED)


@pytest.mark.parametrize(
    "payload",
    [
        {"execution_id": "ex-a", "task_id": "t1", "output": "out"},
        {"kickoff_id": "ex-a", "taskId": "t1", "task_output": "out"},
        {"executionId": "ex-a", "task_id": "t1", "result": "out"},
        {"execution_id": "ex-a", "taskId": "t1", "raw": "out"},
    ],
)
async def test_each_alias_is_accepted_over_http(
    bot: Bot, slack: FakeSlack, payload: dict[str, str]
) -> None:
    response = await bot.notify(payload)
    assert response.status_code == 200, response.text
    message = await nth_review(slack, 1)
    assert "out" in text_of(message) and "t1" in text_of(message)
    assert "nobody registered" in text_of(message)


async def test_the_same_notification_twice_makes_one_review(bot: Bot, slack: FakeSlack) -> None:
    payload = {"execution_id": "ex-dup", "task_id": "t1", "output": "same"}
    first = await bot.notify(payload)
    second = await bot.notify(payload)
    assert first.json()["review_id"] == second.json()["review_id"]
    assert second.json()["duplicate"] is True
    await nth_review(slack, 1)
    assert len(review_messages(slack)) == 1


@pytest.mark.parametrize("token", [None, "wrong-token"])
async def test_wrong_or_missing_credentials_are_refused(
    bot: Bot, slack: FakeSlack, token: str | None
) -> None:
    response = await bot.notify(
        {"execution_id": "ex-x", "task_id": "t", "output": "o"}, token=token
    )
    assert response.status_code == 401
    assert response.json()["error"] == "unauthorized"
    assert await bot.store.execution_by_id("ex-x") is None


async def test_an_execution_secret_works_only_for_its_own_execution(
    bot: Bot, slack: FakeSlack, amp: Amp
) -> None:
    await kickoff(bot)
    await nth_review(slack, 1)
    hook = amp.sim.kickoff_calls[0]["humanInputWebhook"]
    own_token = hook["authentication"]["token"]
    path = hook["url"].removeprefix(bot.settings.bot_public_url)

    other = await bot.notify(
        {"execution_id": "ex-other", "task_id": "t", "output": "o"}, token=own_token
    )
    assert other.status_code == 401
    wrong = await bot.notify({"task_id": "t", "output": "o2"}, token="nope", path=path)
    assert wrong.status_code == 401


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (b"{not json", "invalid_json"),
        (b"[]", "invalid_json"),
        (b'{"task_id": "t", "output": "o"}', "missing_execution_id"),
        (b'{"execution_id": "e", "output": "o"}', "missing_task_id"),
    ],
)
async def test_a_bad_body_is_a_400_naming_the_problem(bot: Bot, body: bytes, error: str) -> None:
    response = await bot.http.post(
        bot.url + "/amp/human-input",
        content=body,
        headers={"Authorization": f"Bearer {WEBHOOK_TOKEN}", "Content-Type": "application/json"},
    )
    assert response.status_code == 400
    assert response.json()["error"] == error
    assert response.json()["message"]


async def test_a_notification_before_the_kickoff_answer_is_kept(
    bot: Bot, slack: FakeSlack, amp: Amp
) -> None:
    amp.sim.notify_before_kickoff_answer = True
    kickoff_id = await kickoff(bot)
    message = await nth_review(slack, 1)
    execution = await bot.store.execution_by_id(kickoff_id)
    assert execution is not None and execution.source == "kickoff"
    await click(bot, message, blocks.APPROVE)
    await amp.sim.wait_for(lambda: amp.sim.executions[kickoff_id].state == COMPLETED)


async def test_a_registered_execution_posts_to_its_channel_and_resumes_with_its_urls(
    bot: Bot, slack: FakeSlack, amp: Amp
) -> None:
    urls = {
        "taskWebhookUrl": "https://hooks.example.com/task",
        "crewWebhookUrl": "https://hooks.example.com/crew",
    }
    registered = await bot.api(
        "/api/executions", {"execution_id": "ex-reg", "channel": "COTHER", **urls}
    )
    assert registered.status_code == 201, registered.text

    await bot.notify({"execution_id": "ex-reg", "task_id": "t1", "output": "draft"})
    message = await nth_review(slack, 1, channel="COTHER")
    await click(bot, message, blocks.APPROVE)

    await amp.sim.wait_for(lambda: len(amp.sim.resume_calls) == 1)
    resume = amp.sim.resume_calls[0]
    assert resume["execution_id"] == "ex-reg"
    assert {k: resume.get(k) for k in urls} == urls
    assert "stepWebhookUrl" not in resume
    assert review_messages(slack, CHANNEL) == []
    await wait_for_text(slack, message, "Not delivered to AMP")  # the simulator never ran it


async def test_the_crew_webhook_needs_the_url_secret(bot: Bot, slack: FakeSlack, amp: Amp) -> None:
    await kickoff(bot)
    await nth_review(slack, 1)
    crew_url = amp.sim.kickoff_calls[0]["crewWebhookUrl"]
    forged = crew_url.rsplit("/", 2)[0] + "/not-the-secret/crew"
    response = await bot.http.post(forged, json={"result": "forged"})
    assert response.status_code == 401


async def test_a_body_over_the_size_limit_is_refused(bot: Bot) -> None:
    response = await bot.http.post(
        bot.url + "/amp/human-input",
        content=b"{" + b" " * (1024 * 1024 + 10) + b"}",
        headers={"Authorization": f"Bearer {WEBHOOK_TOKEN}", "Content-Type": "application/json"},
    )
    assert response.status_code == 413


async def test_errors_of_the_server_itself_are_json(bot: Bot) -> None:
    too_big = await bot.http.post(
        bot.url + "/amp/human-input",
        content=b"x" * (1024 * 1024 + 10),
        headers={"Authorization": f"Bearer {WEBHOOK_TOKEN}"},
    )
    assert too_big.status_code == 413 and too_big.json()["error"] == "request_entity_too_large"
    missing = await bot.http.get(bot.url + "/nowhere")
    assert missing.status_code == 404 and missing.json()["error"] == "not_found"


@pytest.mark.parametrize("registered", [False, True])
async def test_the_crew_name_of_a_notification_shows_in_the_review(
    bot: Bot, slack: FakeSlack, registered: bool
) -> None:
    if registered:
        answer = await bot.api("/api/executions", {"execution_id": "ex-crew"})
        assert answer.status_code == 201, answer.text
    payload = {"execution_id": "ex-crew", "task_id": "t1", "output": "o", "crew_name": "Writers"}
    assert (await bot.notify(payload)).status_code == 200

    message = await nth_review(slack, 1)
    assert "*Crew:* Writers" in text_of(message)
    execution = await bot.store.execution_by_id("ex-crew")
    assert execution is not None and execution.crew_name == "Writers"
