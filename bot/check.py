"""`python -m bot check`: whether the settings, Slack, AMP and the public URL are fit to run.

Each check prints one line: `ok` with what was found, or `FAIL` with what to fix. Nothing is
posted anywhere: the review channel is checked with `conversations.info` (the bot must be a
member), and Socket Mode's token with `apps.connections.open`, whose URL is left unused.
"""

from __future__ import annotations

import asyncio
import ipaddress
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.web.async_slack_response import AsyncSlackResponse

from bot.crewai import CrewAIClient, CrewAIError, CrewAIUnavailable
from bot.settings import Settings, SettingsError, load_settings

_LOCAL_SUFFIXES = (".localhost", ".local", ".internal", ".lan", ".home.arpa")
_SLACK_TIMEOUT = 10


@dataclass(frozen=True)
class Check:
    """The outcome of one check: what was found, or what is wrong and how to fix it."""

    name: str
    ok: bool
    detail: str
    fix: str = ""

    def line(self) -> str:
        if self.ok:
            return f"ok    {self.name}: {self.detail}"
        return f"FAIL  {self.name}: {self.detail}" + (f"; fix: {self.fix}" if self.fix else "")


def main(*, allow_private_url: bool = False) -> int:
    """Run every check and print one line for each; 1 when any failed."""
    try:
        settings = load_settings()
    except SettingsError as exc:
        for problem in exc.problems:
            print(Check("settings", False, problem, "set it in the environment or .env").line())
        return 1
    print(Check("settings", True, "every required setting is set and well-formed").line())

    checks = asyncio.run(run_checks(settings, allow_private_url=allow_private_url))
    for check in checks:
        print(check.line(), flush=True)
    return 0 if all(check.ok for check in checks) else 1


async def run_checks(settings: Settings, *, allow_private_url: bool = False) -> list[Check]:
    """Every check after the settings, in the order they are printed."""
    checks = [
        database_check(settings.bot_database),
        public_url_check(settings.bot_public_url, allow_private_url=allow_private_url),
    ]
    slack = AsyncWebClient(
        token=settings.slack_bot_token.get_secret_value(),
        base_url=settings.slack_api_url,
        timeout=_SLACK_TIMEOUT,
    )
    checks += await slack_checks(settings, slack)
    crewai = CrewAIClient(
        settings.crewai_url,
        settings.crewai_token.get_secret_value(),
        timeout=min(settings.crewai_timeout, 15.0),
    )
    try:
        checks += await amp_checks(crewai, settings.crewai_url)
    finally:
        await crewai.aclose()
    return checks


def database_check(path: Path) -> Check:
    """The database's folder (or the nearest one that exists) must be writable."""
    folder = path.resolve().parent
    while not folder.exists():
        folder = folder.parent
    if os.access(folder, os.W_OK):
        return Check("database", True, f"{path} (its folder {folder} is writable)")
    return Check(
        "database",
        False,
        f"{folder} is not writable, so {path.name} cannot be created or changed",
        "make the folder writable for the bot's user, or point BOT_DATABASE elsewhere",
    )


def public_url_check(url: str, *, allow_private_url: bool = False) -> Check:
    """BOT_PUBLIC_URL must be an HTTPS URL that AMP, calling from the internet, can reach."""
    problem = public_url_problem(url)
    if problem is None:
        return Check("public URL", True, f"{url} is an https URL on a public host name")
    if allow_private_url:
        return Check("public URL", True, f"{url}: {problem}, allowed by --allow-private-url")
    return Check(
        "public URL",
        False,
        f"AMP cannot use {url}: {problem}",
        "set BOT_PUBLIC_URL to the https address of the bot's reverse proxy"
        " (or pass --allow-private-url when AMP runs on your network, as the simulator does)",
    )


def public_url_problem(url: str) -> str | None:
    """Why AMP could not call `url`, or None.

    AMP runs in CrewAI's cloud: it calls the bot's webhooks from the internet, so a loopback,
    private or local host is out of its reach, and the bearer secret it sends with each
    human-input notification must not cross the internet over plain http.
    """
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if parts.scheme != "https":
        return "it is not https, and AMP would send each execution's secret in clear"
    if not host:
        return "it has no host"
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        if host == "localhost" or host.endswith(_LOCAL_SUFFIXES):
            return f"{host} is a local name"
        if "." not in host:
            return f"{host} is a name only your network knows"
        return None
    if not address.is_global:
        return f"{host} is a loopback, private or reserved address"
    return None


async def slack_checks(settings: Settings, slack: AsyncWebClient) -> list[Check]:
    """The bot token (`auth.test`), the review channel, and Socket Mode's token if set."""
    auth = await _slack("slack auth", slack.auth_test)
    if not isinstance(auth, dict):
        return [auth, _not_checked("review channel", "auth.test failed")]
    checks = [
        Check(
            "slack auth",
            True,
            f"bot @{auth.get('user')} ({auth.get('user_id')}) in {auth.get('team')}"
            f" ({auth.get('team_id')})",
        ),
        await _channel_check(settings.slack_review_channel, slack, str(auth.get("user", "bot"))),
    ]
    if settings.slack_app_token is not None:
        app_token = settings.slack_app_token.get_secret_value()
        opened = await _slack(
            "socket mode", lambda: slack.apps_connections_open(app_token=app_token)
        )
        if isinstance(opened, dict):
            opened = Check("socket mode", True, "SLACK_APP_TOKEN opens Socket Mode connections")
        checks.append(opened)
    return checks


async def amp_checks(crewai: CrewAIClient, url: str) -> list[Check]:
    """AMP's `GET /` and `GET /inputs`, with the crew's token."""
    try:
        health = await crewai.health()
    except (CrewAIError, CrewAIUnavailable) as exc:
        return [_amp_failure("amp health", exc), _not_checked("amp inputs", "AMP did not answer")]
    if health.lower() != "healthy":
        checks = [Check("amp health", False, f"{url} answered {health[:80]!r}, not 'Healthy'")]
    else:
        checks = [Check("amp health", True, f"{url} answered 'Healthy'")]
    try:
        inputs = await crewai.inputs()
    except (CrewAIError, CrewAIUnavailable) as exc:
        return [*checks, _amp_failure("amp inputs", exc)]
    listed = ", ".join(inputs) if inputs else "no inputs"
    return [*checks, Check("amp inputs", True, f"the crew takes {listed}")]


async def _channel_check(channel: str, slack: AsyncWebClient, bot_name: str) -> Check:
    """Membership, read with `conversations.info`: posting to check would spam the channel."""
    info = await _slack("review channel", lambda: slack.conversations_info(channel=channel))
    if not isinstance(info, dict):
        return info
    found = info.get("channel")
    if not isinstance(found, dict):
        found = {}
    name = f"#{found.get('name', channel)} ({channel})"
    if found.get("is_archived"):
        return Check(
            "review channel", False, f"{name} is archived", "choose another SLACK_REVIEW_CHANNEL"
        )
    if not found.get("is_member"):
        return Check(
            "review channel",
            False,
            f"the bot is not a member of {name}",
            f"invite it: /invite @{bot_name} in {name}",
        )
    return Check("review channel", True, f"{name}: the bot is a member and may post there")


async def _slack(
    name: str, call: Callable[[], Awaitable[AsyncSlackResponse]]
) -> dict[str, object] | Check:
    """The data of a Web API call, or a failed check saying what to fix."""
    try:
        response = await call()
    except SlackApiError as exc:
        error = str(exc.response.get("error") or exc.response.status_code)
        return Check(name, False, f"Slack answered {error}", _slack_fix(name, error, exc))
    except (TimeoutError, aiohttp.ClientError) as exc:
        return Check(
            name,
            False,
            f"cannot reach Slack ({type(exc).__name__})",
            "check the network, and SLACK_API_URL if set",
        )
    data: dict[str, object] = response.data if isinstance(response.data, dict) else {}
    return data


def _slack_fix(name: str, error: str, exc: SlackApiError) -> str:
    if error == "missing_scope":
        needed = exc.response.get("needed") or "the scope it names"
        return f"add {needed} to the app's scopes (manifest.yml) and reinstall the app"
    if name == "socket mode":
        return "check SLACK_APP_TOKEN: an app-level token (xapp-) with connections:write"
    if error == "channel_not_found":
        return "check SLACK_REVIEW_CHANNEL; a private channel is found once the bot is invited"
    if error in {"invalid_auth", "not_authed", "token_revoked", "account_inactive"}:
        return "check SLACK_BOT_TOKEN: the Bot User OAuth Token (xoxb-) of the installed app"
    return "see Slack's error above"


def _amp_failure(name: str, exc: CrewAIError | CrewAIUnavailable) -> Check:
    if isinstance(exc, CrewAIUnavailable):
        return Check(name, False, exc.reason, "check CREWAI_URL")
    detail = f"AMP answered {exc.status} {exc.error}: {exc.message}"
    if exc.status in (401, 403):
        return Check(name, False, detail, "check CREWAI_TOKEN: the crew's Bearer Token")
    if exc.status == 404:
        return Check(name, False, detail, "check CREWAI_URL: the crew's base URL")
    return Check(name, False, detail, "check the crew's status in AMP")


def _not_checked(name: str, why: str) -> Check:
    return Check(name, False, f"not checked: {why}", "fix the check above first")
