"""The Slack fakes answer slack_sdk and feed slack_bolt the way Slack itself does."""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.http_retry.builtin_interval_calculators import FixedValueRetryIntervalCalculator
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from tests.fakes.slack import FakeSlack, SlackRequests

SIGNING_SECRET = "test-signing-secret"


def review_blocks(review_id: str = "r1") -> list[dict[str, Any]]:
    """A review message: its summary and the two decision buttons."""
    button = {"type": "button", "text": {"type": "plain_text", "text": "Approve"}}
    return [
        {"type": "section", "text": {"type": "mrkdwn", "text": "*Task output* ready for review"}},
        {
            "type": "actions",
            "block_id": "decision",
            "elements": [
                {**button, "action_id": "approve", "value": review_id, "style": "primary"},
                {
                    **button,
                    "action_id": "revise",
                    "value": review_id,
                    "text": {"type": "plain_text", "text": "Revise"},
                },
            ],
        },
    ]


def feedback_modal(*, blocks: int = 1, title: str = "Revise") -> dict[str, Any]:
    """A modal asking the reviewer for feedback."""
    feedback = {
        "type": "input",
        "block_id": "feedback",
        "label": {"type": "plain_text", "text": "Feedback"},
        "element": {"type": "plain_text_input", "action_id": "text", "multiline": True},
    }
    filler = [{"type": "divider"} for _ in range(blocks - 1)]
    return {
        "type": "modal",
        "callback_id": "feedback",
        "private_metadata": json.dumps({"review_id": "r1"}),
        "title": {"type": "plain_text", "text": title},
        "submit": {"type": "plain_text", "text": "Send"},
        "blocks": [feedback, *filler],
    }


def section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


@pytest.fixture(autouse=True)
def _no_oauth_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SLACK_CLIENT_ID", raising=False)
    monkeypatch.delenv("SLACK_CLIENT_SECRET", raising=False)


@pytest.fixture
async def slack() -> AsyncIterator[FakeSlack]:
    async with FakeSlack() as fake:
        yield fake


@pytest.fixture
def client(slack: FakeSlack) -> AsyncWebClient:
    return AsyncWebClient(token=slack.token, base_url=slack.base_url)


async def slack_error(call: Any) -> SlackApiError:
    """The SlackApiError an awaited Web API call raises."""
    with pytest.raises(SlackApiError) as raised:
        await call
    return raised.value


async def test_auth_test_names_the_bot(client: AsyncWebClient, slack: FakeSlack) -> None:
    response = await client.auth_test()

    assert response["user_id"] == "UBOT"
    assert response["bot_id"] == slack.bot_id
    assert response["team_id"] == "T1"
    assert response["url"].startswith("https://")
    assert slack.calls_to("auth.test")[0].headers["Authorization"] == f"Bearer {slack.token}"


async def test_post_update_and_thread_replies(client: AsyncWebClient, slack: FakeSlack) -> None:
    metadata = {"event_type": "review_posted", "event_payload": {"review_id": "r1"}}
    posted = await client.chat_postMessage(
        channel="C1", text="Review needed", blocks=review_blocks(), metadata=metadata
    )
    ts = posted["ts"]
    reply = await client.chat_postMessage(channel="C1", thread_ts=ts, text="Approved by <@U1>")
    await client.chat_update(channel="C1", ts=ts, text="Approved", blocks=[section("Approved")])

    assert posted["channel"] == "C1"
    assert re.fullmatch(r"\d{10}\.\d{6}", ts)
    assert float(reply["ts"]) > float(ts)
    assert posted["message"]["blocks"] == review_blocks()
    parent = slack.message("C1", ts)
    assert parent.text == "Approved"
    assert parent.blocks == [section("Approved")]
    assert parent.metadata == metadata
    assert parent.user == "UBOT"
    assert len(parent.edits) == 1
    assert [m.ts for m in slack.messages["C1"]] == [ts, reply["ts"]]
    assert slack.message("C1", reply["ts"]).thread_ts == ts

    replies = await client.conversations_replies(channel="C1", ts=ts)
    assert [m["ts"] for m in replies["messages"]] == [ts, reply["ts"]]
    assert replies["messages"][0]["reply_count"] == 1
    history = await client.conversations_history(channel="C1")
    assert [m["ts"] for m in history["messages"]] == [ts]


async def test_posting_errors_match_slack(client: AsyncWebClient, slack: FakeSlack) -> None:
    missing = await slack_error(client.chat_update(channel="C1", ts="1700000000.999999", text="x"))
    unknown = await slack_error(client.chat_postMessage(channel="general", text="hi"))
    with pytest.warns(UserWarning, match="`text` argument is missing"):
        empty = await slack_error(client.chat_postMessage(channel="C1"))
    bad_thread = await slack_error(client.chat_postMessage(channel="C1", text="x", thread_ts="0"))
    slack.channels_member = {"C1"}
    outside = await slack_error(client.chat_postMessage(channel="C2", text="hi"))
    dm = await client.chat_postMessage(channel="U7", text="Your review is waiting")

    assert missing.response["error"] == "message_not_found"
    assert unknown.response["error"] == "channel_not_found"
    assert empty.response["error"] == "no_text"
    assert bad_thread.response["error"] == "invalid_thread_ts"
    assert outside.response["error"] == "not_in_channel"
    assert dm["channel"] == "D7"
    assert slack.messages["D7"][0].text == "Your review is waiting"


async def test_ephemeral_permalink_and_reactions(client: AsyncWebClient, slack: FakeSlack) -> None:
    ts = (await client.chat_postMessage(channel="C1", text="Review needed"))["ts"]

    ephemeral = await client.chat_postEphemeral(channel="C1", user="U1", text="Only you")
    permalink = await client.chat_getPermalink(channel="C1", message_ts=ts)
    await client.reactions_add(channel="C1", timestamp=ts, name="eyes")
    again = await slack_error(client.reactions_add(channel="C1", timestamp=ts, name="eyes"))

    assert re.fullmatch(r"\d+\.\d{6}", ephemeral["message_ts"])
    assert slack.ephemerals == [{"channel": "C1", "user": "U1", "text": "Only you"}]
    assert permalink["permalink"].endswith(f"/archives/C1/p{ts.replace('.', '')}")
    assert slack.message("C1", ts).reactions == {"eyes": ["UBOT"]}
    assert again.response["error"] == "already_reacted"


async def test_users_usergroups_and_conversations(client: AsyncWebClient, slack: FakeSlack) -> None:
    slack.users["U2"] = {"real_name": "Ada Lovelace", "profile": {"display_name": "ada"}}
    slack.usergroups["S1"] = ["U1", "U2"]

    default = await client.users_info(user="U1")
    known = await client.users_info(user="U2")
    group = await client.usergroups_users_list(usergroup="S1")
    no_group = await slack_error(client.usergroups_users_list(usergroup="S9"))
    info = await client.conversations_info(channel="C1")

    assert default["user"]["id"] == "U1"
    assert {"name", "real_name"} <= default["user"].keys()
    assert "display_name" in default["user"]["profile"]
    assert known["user"]["real_name"] == "Ada Lovelace"
    assert known["user"]["profile"]["display_name"] == "ada"
    assert group["users"] == ["U1", "U2"]
    assert no_group.response["error"] == "no_such_subteam"
    assert info["channel"]["id"] == "C1"
    assert info["channel"]["is_member"] is True


async def test_views_open_update_and_publish(client: AsyncWebClient, slack: FakeSlack) -> None:
    trigger_id = slack.issue_trigger_id()

    opened = await client.views_open(trigger_id=trigger_id, view=feedback_modal())
    view = opened["view"]
    updated = await client.views_update(
        view_id=view["id"], hash=view["hash"], view=feedback_modal(title="Sent")
    )
    stale = await slack_error(
        client.views_update(view_id=view["id"], hash=view["hash"], view=feedback_modal())
    )
    home = {"type": "home", "blocks": [section("Open reviews: 1")]}
    published = await client.views_publish(user_id="U1", view=home)

    assert view["id"].startswith("V")
    assert view["callback_id"] == "feedback"
    assert view["state"] == {"values": {}}
    assert updated["view"]["id"] == view["id"]
    assert updated["view"]["title"]["text"] == "Sent"
    assert stale.response["error"] == "hash_conflict"
    assert published["view"]["type"] == "home"
    assert slack.home_view("U1") == published["view"]
    assert [v["method"] for v in slack.views] == ["views.open", "views.update", "views.publish"]
    assert slack.views[0]["trigger_id"] == trigger_id


async def test_views_refuse_what_slack_refuses(client: AsyncWebClient, slack: FakeSlack) -> None:
    slack.trigger_id_lifetime = 0.01
    expired_trigger = slack.issue_trigger_id()
    await asyncio.sleep(0.02)

    largest = await client.views_open(trigger_id="t1", view=feedback_modal(blocks=100))
    too_many = await slack_error(
        client.views_open(trigger_id="t2", view=feedback_modal(blocks=101))
    )
    long_title = await slack_error(
        client.views_open(trigger_id="t3", view=feedback_modal(title="x" * 25))
    )
    expired = await slack_error(
        client.views_open(trigger_id=expired_trigger, view=feedback_modal())
    )

    assert len(largest["view"]["blocks"]) == 100
    assert too_many.response["error"] == "invalid_arguments"
    assert "/view/blocks" in too_many.response["response_metadata"]["messages"][0]
    assert long_title.response["error"] == "invalid_arguments"
    assert expired.response["error"] == "expired_trigger_id"


async def test_files_upload_v2_into_a_thread(client: AsyncWebClient, slack: FakeSlack) -> None:
    ts = (await client.chat_postMessage(channel="C1", text="Review needed"))["ts"]
    output = "The full task output.\n" * 2_000

    uploaded = await client.files_upload_v2(
        channel="C1",
        thread_ts=ts,
        content=output,
        filename="output.md",
        title="Full output",
        initial_comment="The full output",
    )

    file_message = slack.messages["C1"][-1]
    assert uploaded["file"]["id"] == file_message.files[0].id
    assert file_message.thread_ts == ts
    assert file_message.text == "The full output"
    assert file_message.files[0].text == output
    assert file_message.files[0].title == "Full output"
    assert file_message.files[0].length == len(output.encode())
    replies = await client.conversations_replies(channel="C1", ts=ts)
    assert replies["messages"][-1]["files"][0]["name"] == "output.md"


async def test_tokens_are_checked(slack: FakeSlack) -> None:
    wrong = AsyncWebClient(token="xoxb-wrong", base_url=slack.base_url)
    anonymous = AsyncWebClient(base_url=slack.base_url)

    invalid = await slack_error(wrong.chat_postMessage(channel="C1", text="hi"))
    missing = await slack_error(anonymous.auth_test())
    form_token = await anonymous.api_call("auth.test", data={"token": slack.token})

    assert invalid.response["error"] == "invalid_auth"
    assert missing.response["error"] == "not_authed"
    assert form_token["user_id"] == "UBOT"
    assert slack.messages == {}


async def test_form_encoded_json_fields_are_decoded(
    client: AsyncWebClient, slack: FakeSlack
) -> None:
    data = {"channel": "C1", "text": "Review", "blocks": json.dumps(review_blocks())}

    await client.api_call("chat.postMessage", data=data)
    unknown = await slack_error(client.api_call("chat.frobnicate"))

    call = slack.calls_to("chat.postMessage")[0]
    assert call.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert call.args["blocks"] == review_blocks()
    assert slack.messages["C1"][0].blocks == review_blocks()
    assert unknown.response["error"] == "unknown_method"


async def test_fail_next_answers_the_error_once(client: AsyncWebClient, slack: FakeSlack) -> None:
    slack.fail_next("chat.postMessage", error="channel_is_archived")

    failed = await slack_error(client.chat_postMessage(channel="C1", text="hi"))
    await client.chat_postMessage(channel="C1", text="hi")

    assert failed.response["error"] == "channel_is_archived"
    assert failed.response.status_code == 200
    assert len(slack.messages["C1"]) == 1


async def test_429_is_retried_after_retry_after(slack: FakeSlack) -> None:
    retrying = AsyncWebClient(
        token=slack.token,
        base_url=slack.base_url,
        retry_handlers=[AsyncRateLimitErrorRetryHandler(max_retry_count=1)],
    )
    slack.fail_next("chat.update", status=429, retry_after=2)
    plain = AsyncWebClient(token=slack.token, base_url=slack.base_url)
    limited = await slack_error(plain.chat_update(channel="C1", ts="1.1", text="x"))
    slack.fail_next("chat.postMessage", status=429, retry_after=1)

    started = time.monotonic()
    posted = await retrying.chat_postMessage(channel="C1", text="hi")

    assert limited.response.status_code == 429
    assert limited.response.headers["Retry-After"] == "2"
    assert limited.response["error"] == "ratelimited"
    assert posted["ok"] is True
    assert time.monotonic() - started >= 1.0
    assert len(slack.calls_to("chat.postMessage")) == 2


async def test_server_errors_are_plain_and_retryable(slack: FakeSlack) -> None:
    quick = FixedValueRetryIntervalCalculator(fixed_internal=0.01)
    plain = AsyncWebClient(token=slack.token, base_url=slack.base_url)
    retrying = AsyncWebClient(
        token=slack.token,
        base_url=slack.base_url,
        retry_handlers=[AsyncServerErrorRetryHandler(max_retry_count=2, interval_calculator=quick)],
    )
    slack.fail_next("views.publish", status=503)
    unavailable = await slack_error(plain.views_publish(user_id="U1", view={"type": "home"}))
    slack.fail_next("chat.postMessage", status=500, times=2)

    posted = await retrying.chat_postMessage(channel="C1", text="hi")

    assert unavailable.response.status_code == 503
    assert posted["ok"] is True
    assert len(slack.calls_to("chat.postMessage")) == 3


async def test_hang_next_delays_the_answer(client: AsyncWebClient, slack: FakeSlack) -> None:
    slack.hang_next("users.info", seconds=0.3)

    started = time.monotonic()
    await client.users_info(user="U1")
    hung = time.monotonic() - started
    started = time.monotonic()
    await client.users_info(user="U1")

    assert hung >= 0.3
    assert time.monotonic() - started < 0.3


async def test_per_channel_rate_limit(client: AsyncWebClient, slack: FakeSlack) -> None:
    slack.rate_limit_per_channel = 1.0
    retrying = AsyncWebClient(
        token=slack.token,
        base_url=slack.base_url,
        retry_handlers=[AsyncRateLimitErrorRetryHandler(max_retry_count=1)],
    )

    await client.chat_postMessage(channel="C1", text="first")
    limited = await slack_error(client.chat_postMessage(channel="C1", text="second"))
    await client.chat_postMessage(channel="C2", text="elsewhere")
    await retrying.chat_postMessage(channel="C1", text="second, later")

    assert limited.response.status_code == 429
    assert limited.response["error"] == "ratelimited"
    assert limited.response.headers["Retry-After"] == "1"
    assert [m.text for m in slack.messages["C1"]] == ["first", "second, later"]


@pytest.mark.parametrize(
    ("blocks", "error"),
    [
        ([section("x")] * 50, None),
        ([section("x")] * 51, "invalid_blocks"),
        ([section("x" * 3000)], None),
        ([section("x" * 3001)], "invalid_blocks"),
        ([{"type": "header", "text": {"type": "plain_text", "text": "x" * 150}}], None),
        ([{"type": "header", "text": {"type": "plain_text", "text": "x" * 151}}], "invalid_blocks"),
        ([section("x" * 2900)] * 5, "msg_blocks_too_long"),
        ([{"type": "chart"}], "invalid_blocks"),
    ],
    ids=[
        "50-blocks",
        "51-blocks",
        "section-3000",
        "section-3001",
        "header-150",
        "header-151",
        "over-13200-chars",
        "unknown-type",
    ],
)
async def test_message_block_limits(
    client: AsyncWebClient, blocks: list[dict[str, Any]], error: str | None
) -> None:
    call = client.chat_postMessage(channel="C1", text="Review", blocks=blocks)

    if error is None:
        assert (await call)["ok"] is True
    else:
        refused = await slack_error(call)
        assert refused.response["error"] == error


async def test_button_value_limit(client: AsyncWebClient) -> None:
    blocks = review_blocks()
    blocks[1]["elements"][0]["value"] = "x" * 2001

    too_long = await slack_error(client.chat_postMessage(channel="C1", text="x", blocks=blocks))

    assert too_long.response["error"] == "invalid_blocks"
    pointer = "[json-pointer:/blocks/1/elements/0/value]"
    assert pointer in too_long.response["response_metadata"]["messages"][0]


async def test_response_url_replaces_the_original(client: AsyncWebClient, slack: FakeSlack) -> None:
    ts = (await client.chat_postMessage(channel="C1", text="Review", blocks=review_blocks()))["ts"]
    url = slack.response_url(channel="C1", ts=ts)

    answer = await AsyncWebhookClient(url).send(text="Approved", replace_original=True)

    assert answer.status_code == 200
    assert answer.body == "ok"
    assert slack.responses_to(url) == [{"text": "Approved", "replace_original": True}]
    assert slack.message("C1", ts).text == "Approved"
    assert slack.message("C1", ts).blocks == []


async def test_wait_for_times_out_naming_the_condition(slack: FakeSlack) -> None:
    with pytest.raises(TimeoutError, match=r"still false after 0.05s: .*never_posted"):
        await slack.wait_for(lambda: bool(slack.messages["never_posted"]), timeout=0.05)


@dataclass
class Bolt:
    """A minimal Bolt app on loopback, with what its listeners saw."""

    app: AsyncApp
    requests: SlackRequests
    seen: dict[str, list[Any]] = field(default_factory=dict)

    def saw(self, kind: str) -> list[Any]:
        return self.seen.setdefault(kind, [])


@pytest.fixture
async def bolt(slack: FakeSlack) -> AsyncIterator[Bolt]:
    client = AsyncWebClient(token=slack.token, base_url=slack.base_url)
    app = AsyncApp(client=client, signing_secret=SIGNING_SECRET)
    server = web.Application()

    async def slack_events(request: web.Request) -> web.Response:
        return await to_aiohttp_response(await app.async_dispatch(await to_bolt_request(request)))

    server.router.add_post("/slack/events", slack_events)
    runner = web.AppRunner(server, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    url = f"http://127.0.0.1:{runner.addresses[0][1]}/slack/events"
    async with SlackRequests(url, SIGNING_SECRET, slack=slack) as requests:
        harness = Bolt(app, requests)
        _listen(harness)
        yield harness
    await runner.cleanup()


def _listen(bolt: Bolt) -> None:
    app = bolt.app

    @app.action("approve")
    async def approve(ack: Any, body: dict[str, Any], respond: Any) -> None:
        await ack()
        bolt.saw("action").append(body)
        await respond(text="Approved", replace_original=True)

    @app.action("refresh")
    async def refresh(ack: Any, body: dict[str, Any]) -> None:
        await ack()
        bolt.saw("home action").append(body)

    @app.view("feedback")
    async def feedback(ack: Any, body: dict[str, Any], view: dict[str, Any]) -> None:
        await ack()
        bolt.saw("view").append(view)

    @app.event("message")
    async def message(event: dict[str, Any], request: Any) -> None:
        retry = request.headers.get("x-slack-retry-num", [None])[0]
        bolt.saw("message").append({**event, "retry": retry})

    @app.command("/crew")
    async def crew(ack: Any, command: dict[str, Any], respond: Any, client: Any) -> None:
        await ack()
        bolt.saw("command").append(command)
        await client.views_open(trigger_id=command["trigger_id"], view=feedback_modal())
        await respond(text="Opening the review")


async def test_block_action_reaches_the_listener(
    bolt: Bolt, client: AsyncWebClient, slack: FakeSlack
) -> None:
    ts = (await client.chat_postMessage(channel="C1", text="Review", blocks=review_blocks()))["ts"]

    click = {"user": "U1", "action_id": "approve", "value": "r1", "channel": "C1", "message_ts": ts}
    answer = await bolt.requests.block_action(**click)
    await slack.wait_for(lambda: slack.message("C1", ts).text == "Approved")
    await bolt.requests.block_action(**click)
    await slack.wait_for(lambda: len(bolt.saw("action")) == 2)

    body, again = bolt.saw("action")
    assert body["trigger_id"] != again["trigger_id"]
    assert answer.status_code == 200
    assert body["type"] == "block_actions"
    assert body["user"] == {"id": "U1", "username": "u1", "name": "u1", "team_id": "T1"}
    assert body["team"]["id"] == "T1"
    assert body["api_app_id"] == "A1"
    assert body["container"] == {
        "type": "message",
        "message_ts": ts,
        "channel_id": "C1",
        "is_ephemeral": False,
    }
    assert body["channel"]["id"] == "C1"
    assert body["message"]["ts"] == ts
    assert body["message"]["blocks"] == review_blocks()
    action = body["actions"][0]
    assert (action["action_id"], action["block_id"], action["value"]) == (
        "approve",
        "decision",
        "r1",
    )
    assert action["type"] == "button"
    assert action["text"]["text"] == "Approve"
    assert body["trigger_id"]
    assert body["response_url"].startswith(slack.url or "")


async def test_home_tab_block_action_carries_the_view(
    bolt: Bolt, client: AsyncWebClient, slack: FakeSlack
) -> None:
    refresh = {"type": "plain_text", "text": "Refresh"}
    button = {"type": "button", "action_id": "refresh", "text": refresh}
    home = {
        "type": "home",
        "blocks": [{"type": "actions", "block_id": "top", "elements": [button]}],
    }
    view_id = (await client.views_publish(user_id="U1", view=home))["view"]["id"]

    await bolt.requests.block_action(user="U1", action_id="refresh", value="", container="view")
    await slack.wait_for(lambda: bool(bolt.saw("home action")))

    (body,) = bolt.saw("home action")
    assert body["container"] == {"type": "view", "view_id": view_id}
    assert body["view"]["type"] == "home"
    assert body["actions"][0]["block_id"] == "top"
    assert "channel" not in body


async def test_command_then_view_submission(bolt: Bolt, slack: FakeSlack) -> None:
    answer = await bolt.requests.command(user="U1", channel="C1", text="review r1")
    await slack.wait_for(lambda: bool(slack.responses) and bool(slack.views))
    submitted = await bolt.requests.view_submission(
        user="U1", values={"feedback": {"text": "Cite the sources"}}
    )
    await slack.wait_for(lambda: bool(bolt.saw("view")))

    (command,) = bolt.saw("command")
    assert answer.status_code == 200
    assert command["command"] == "/crew"
    assert command["text"] == "review r1"
    assert (command["team_id"], command["channel_id"], command["user_id"]) == ("T1", "C1", "U1")
    assert command["user_name"] == "u1"
    assert slack.views[0]["trigger_id"] == command["trigger_id"]
    assert slack.responses[0].url == command["response_url"]
    assert slack.responses[0].body["text"] == "Opening the review"

    (view,) = bolt.saw("view")
    assert submitted.status_code == 200
    assert view["id"] == slack.views[0]["view_id"]
    assert view["callback_id"] == "feedback"
    assert json.loads(view["private_metadata"]) == {"review_id": "r1"}
    assert view["state"]["values"]["feedback"]["text"]["value"] == "Cite the sources"
    assert view["hash"]


async def test_message_events_reach_the_listener_but_own_ones_do_not(
    bolt: Bolt, client: AsyncWebClient, slack: FakeSlack
) -> None:
    parent = (await client.chat_postMessage(channel="C1", text="Review"))["ts"]

    await bolt.requests.message(user="UBOT", channel="C1", text="my own", bot_id=slack.bot_id)
    await bolt.requests.message(user="U1", channel="C1", text="Looks good", thread_ts=parent)
    await slack.wait_for(lambda: bool(bolt.saw("message")))

    (event,) = bolt.saw("message")
    assert event["text"] == "Looks good"
    assert event["thread_ts"] == parent
    assert event["ts"] != parent
    assert event["parent_user_id"] == "UBOT"
    assert event["channel_type"] == "channel"
    assert event["retry"] is None
    assert slack.thread("C1", parent)[-1].text == "Looks good"


async def test_event_retries_carry_slack_headers(bolt: Bolt, slack: FakeSlack) -> None:
    event = {"type": "message", "user": "U1", "channel": "C1", "text": "hi", "ts": "1.000001"}

    answer = await bolt.requests.event(event, event_id="Ev1", retry_num=1)
    await slack.wait_for(lambda: bool(bolt.saw("message")))

    assert answer.status_code == 200
    assert bolt.saw("message")[0]["retry"] == "1"


async def test_unsigned_tampered_and_stale_requests_get_401(bolt: Bolt) -> None:
    event = {"type": "message", "user": "U1", "channel": "C1", "text": "hi", "ts": "1.000001"}
    body = json.dumps({"type": "event_callback", "team_id": "T1", "event": event})
    good = bolt.requests.sign(body)
    signature = good["X-Slack-Signature"]
    tampered = {
        **good,
        "X-Slack-Signature": signature[:-1] + ("1" if signature[-1] == "0" else "0"),
    }
    stale = bolt.requests.sign(body, timestamp=int(time.time()) - 6 * 60)

    signed = await bolt.requests.send_raw(body, good, "application/json")
    unsigned = await bolt.requests.send_raw(body, {}, "application/json")
    wrong = await bolt.requests.send_raw(body, tampered, "application/json")
    old = await bolt.requests.send_raw(body, stale, "application/json")

    assert signed.status_code == 200
    assert (unsigned.status_code, wrong.status_code, old.status_code) == (401, 401, 401)
