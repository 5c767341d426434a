"""`python -m bot check`: one line per check, what to fix, and exit 1 when any fails."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest

from bot.check import public_url_problem
from tests.conftest import (
    AMP_TOKEN,
    API_TOKEN,
    APP_TOKEN,
    BOT_TOKEN,
    CHANNEL,
    SIGNING_SECRET,
    WEBHOOK_TOKEN,
    Amp,
)
from tests.fakes.slack import FakeSlack
from tests.test_cli import clean_env

SECRETS = (BOT_TOKEN, APP_TOKEN, SIGNING_SECRET, AMP_TOKEN, API_TOKEN, WEBHOOK_TOKEN)


def check_env(tmp_path: Path, slack: FakeSlack, amp: Amp, **values: str) -> dict[str, str]:
    env = {
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": slack.base_url,
        "SLACK_REVIEW_CHANNEL": CHANNEL,
        "CREWAI_URL": amp.url,
        "CREWAI_TOKEN": AMP_TOKEN,
        "BOT_PUBLIC_URL": "https://review.example.com",
        "BOT_API_TOKEN": API_TOKEN,
        "BOT_DATABASE": str(tmp_path / "data" / "bot.db"),
        **values,
    }
    return clean_env(**env)


async def run_check(env: dict[str, str], cwd: Path, *args: str) -> tuple[int, list[str]]:
    """Run the command while the fakes keep answering in this event loop."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "check",
        *args,
        env=env,
        cwd=cwd,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=60)
    assert b"Traceback" not in stderr, stderr.decode()
    output = stdout.decode() + stderr.decode()
    for secret in SECRETS:
        assert secret not in output
    assert process.returncode is not None
    return process.returncode, stdout.decode().splitlines()


async def test_every_check_passes_without_posting_anything(
    tmp_path: Path, slack: FakeSlack, amp: Amp
) -> None:
    env = check_env(tmp_path, slack, amp, SLACK_APP_TOKEN=APP_TOKEN)

    code, lines = await run_check(env, tmp_path)

    assert code == 0, lines
    names = [line.split(":")[0].split(maxsplit=1) for line in lines]
    assert names == [
        ["ok", "settings"],
        ["ok", "database"],
        ["ok", "public URL"],
        ["ok", "slack auth"],
        ["ok", "review channel"],
        ["ok", "socket mode"],
        ["ok", "amp health"],
        ["ok", "amp inputs"],
    ]
    assert "the crew takes topic" in lines[-1]
    assert [call.method for call in slack.calls] == [
        "auth.test",
        "conversations.info",
        "apps.connections.open",
    ]
    assert slack.calls_to("conversations.info")[0].args["channel"] == CHANNEL


async def test_each_failure_says_what_to_fix_and_exits_1(
    tmp_path: Path, slack: FakeSlack, amp: Amp
) -> None:
    slack.channels_member = set()
    env = check_env(
        tmp_path, slack, amp, CREWAI_TOKEN="wrong-token", BOT_PUBLIC_URL="http://localhost:3000"
    )

    code, lines = await run_check(env, tmp_path)

    assert code == 1
    failed = {line.split(":")[0].removeprefix("FAIL  "): line for line in lines if "FAIL" in line}
    assert set(failed) == {"public URL", "review channel", "amp health", "amp inputs"}
    assert "not https" in failed["public URL"] and "fix: set BOT_PUBLIC_URL" in failed["public URL"]
    assert f"fix: invite it: /invite @{slack.bot_name}" in failed["review channel"]
    assert "401" in failed["amp health"] and "fix: check CREWAI_TOKEN" in failed["amp health"]


async def test_a_private_url_passes_when_allowed(
    tmp_path: Path, slack: FakeSlack, amp: Amp
) -> None:
    env = check_env(tmp_path, slack, amp, BOT_PUBLIC_URL="http://127.0.0.1:3000")

    refused, _ = await run_check(env, tmp_path)
    allowed, lines = await run_check(env, tmp_path, "--allow-private-url")

    assert (refused, allowed) == (1, 0)
    assert any("allowed by --allow-private-url" in line for line in lines)


async def test_bad_settings_are_one_line_each(tmp_path: Path) -> None:
    env = clean_env(SLACK_BOT_TOKEN="not-a-bot-token", SLACK_APP_TOKEN="xoxb-wrong-kind")

    code, lines = await run_check(env, tmp_path)

    assert code == 1
    assert all(line.startswith("FAIL  settings: ") for line in lines)
    assert any("SLACK_APP_TOKEN must be an app-level token" in line for line in lines)
    assert any("CREWAI_URL is not set" in line for line in lines)


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("https://review.example.com", None),
        ("https://review.example.com:8443/bot", None),
        ("https://203.0.113.7", "reserved"),
        ("https://8.8.8.8", None),
        ("http://review.example.com", "not https"),
        ("https://localhost:3000", "local name"),
        ("https://bot.localhost", "local name"),
        ("https://crew-bot.internal", "local name"),
        ("https://127.0.0.1", "loopback"),
        ("https://10.1.2.3", "private"),
        ("https://192.168.1.10", "private"),
        ("https://[::1]", "loopback"),
        ("https://reviewbox", "only your network"),
    ],
)
def test_public_url_problems(url: str, problem: str | None) -> None:
    found = public_url_problem(url)
    if problem is None:
        assert found is None
    else:
        assert found is not None and problem in found
