"""The bot's own API: kickoff through the bot and registration of outside executions."""

from __future__ import annotations

import pytest

from tests.conftest import Amp, Bot


async def test_kickoff_sends_the_inputs_meta_and_a_human_input_webhook(bot: Bot, amp: Amp) -> None:
    response = await bot.api(
        "/api/kickoff",
        {
            "inputs": {"topic": "AI"},
            "meta": {"requested_by": "ops"},
            "taskWebhookUrl": "https://mine.example.com/task",
        },
    )
    assert response.status_code == 200, response.text
    kickoff_id = response.json()["kickoff_id"]

    sent = amp.sim.kickoff_calls[0]
    assert sent["inputs"] == {"topic": "AI"} and sent["meta"] == {"requested_by": "ops"}
    assert sent["taskWebhookUrl"] == "https://mine.example.com/task"
    public = bot.settings.bot_public_url
    for name in ("stepWebhookUrl", "crewWebhookUrl"):
        assert sent[name].startswith(public + "/amp/executions/")
    hook = sent["humanInputWebhook"]
    assert hook["url"].startswith(public) and hook["authentication"]["strategy"] == "bearer"
    assert len(hook["authentication"]["token"]) >= 32

    execution = await bot.store.execution_by_id(kickoff_id)
    assert execution.webhooks.task == "https://mine.example.com/task"
    assert execution.webhooks.crew == sent["crewWebhookUrl"]


async def test_amp_validation_errors_come_back_with_amps_status(bot: Bot) -> None:
    response = await bot.api("/api/kickoff", {"inputs": {"wrong": "x"}})
    assert response.status_code == 422
    body = response.json()
    assert body["message"] == "Missing required inputs"
    assert body["details"]["missing_inputs"] == ["topic"]


async def test_amp_refusing_the_token_is_a_401_with_amps_message(bot: Bot, amp: Amp) -> None:
    amp.sim.fail_next(
        "kickoff", status=401, body={"error": "Unauthorized", "message": "Invalid bearer token"}
    )
    response = await bot.api("/api/kickoff", {"inputs": {"topic": "AI"}})
    assert response.status_code == 401
    assert response.json() == {
        "error": "Unauthorized",
        "message": "Invalid bearer token",
        "details": {},
    }


async def test_amp_unreachable_is_a_502(bot: Bot, amp: Amp) -> None:
    amp.sim.drop_next("kickoff")
    response = await bot.api("/api/kickoff", {"inputs": {"topic": "AI"}})
    assert response.status_code == 502
    assert response.json()["error"] == "amp_unavailable"


async def test_a_wrong_bearer_is_refused(bot: Bot, amp: Amp) -> None:
    response = await bot.api("/api/kickoff", {"inputs": {}}, token="nope")
    assert response.status_code == 401
    assert amp.sim.kickoff_calls == []


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/api/kickoff", {}, "inputs"),
        ("/api/kickoff", {"inputs": "text"}, "inputs"),
        ("/api/kickoff", {"inputs": {}, "channel": "#general"}, "channel"),
        ("/api/kickoff", {"inputs": {}, "crewWebhookUrl": "ftp://x"}, "crewWebhookUrl"),
        ("/api/executions", {}, "execution_id"),
        ("/api/executions", {"execution_id": "x", "unknown": 1}, "unknown"),
    ],
)
async def test_malformed_bodies_are_422_with_field_errors(
    bot: Bot, path: str, body: dict[str, object], field: str
) -> None:
    response = await bot.api(path, body)
    assert response.status_code == 422
    assert field in [error["field"] for error in response.json()["fields"]]


async def test_registering_twice_updates_the_channel(bot: Bot) -> None:
    first = await bot.api("/api/executions", {"execution_id": "ex-1", "channel": "CAAA1"})
    again = await bot.api("/api/executions", {"execution_id": "ex-1", "channel": "CBBB1"})
    assert (first.status_code, again.status_code) == (201, 200)
    execution = await bot.store.execution_by_id("ex-1")
    assert execution.channel == "CBBB1"


async def test_healthz_answers_once_started(bot: Bot) -> None:
    response = await bot.http.get(bot.url + "/healthz")
    assert response.status_code == 200
    assert response.json()["store"] == "open" and response.json()["worker"] == "running"
