"""Slack's markup in what people type, read back as the words they saw."""

from __future__ import annotations

import pytest
from slack_sdk.web.async_client import AsyncWebClient

from bot.directory import Directory
from bot.slacktext import readable
from tests.conftest import BOT_TOKEN
from tests.fakes.slack import FakeSlack


@pytest.mark.parametrize(
    ("typed", "read"),
    [
        ("ask <@UALICE>", "ask @alice"),
        ("ask <@UALICE|al>", "ask @al"),
        ("ask <@XNOBODY>", "ask @XNOBODY"),
        ("in <#C123|research> and <#C456>", "in #research and #C456"),
        (
            "see <https://a.example/x?y=1&amp;z=2|the doc>",
            "see the doc (https://a.example/x?y=1&z=2)",
        ),
        ("see <https://a.example/>", "see https://a.example/"),
        ("mail <mailto:a@b.example|a@b.example>", "mail a@b.example"),
        (
            "<!here> and <!subteam^S1|@writers> by <!date^1700000000^{date}|Nov 14>",
            "@here and @writers by Nov 14",
        ),
        ("1 &lt; 2 &amp;&amp; 3 &gt; 2, not &amp;lt;", "1 < 2 && 3 > 2, not &lt;"),
    ],
)
async def test_markup_reads_as_text(slack: FakeSlack, typed: str, read: str) -> None:
    slack.users["UALICE"] = {"profile": {"display_name": "alice"}}
    directory = Directory(AsyncWebClient(token=BOT_TOKEN, base_url=slack.base_url))

    assert await readable(typed, directory) == read


async def test_names_are_looked_up_once(slack: FakeSlack) -> None:
    directory = Directory(AsyncWebClient(token=BOT_TOKEN, base_url=slack.base_url))

    await readable("<@UBOB> <@UBOB>", directory)
    await readable("<@UBOB>", directory)

    assert len(slack.calls_to("users.info")) == 1
