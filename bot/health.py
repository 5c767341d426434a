"""Readiness: whether the bot can take work and carry it out, and if not, why."""

from __future__ import annotations

import time
from typing import Any

from bot.poller import Poller
from bot.services import Services
from bot.socket_mode import SocketMode


async def report(
    services: Services, *, started: float, poller: Poller | None, socket: SocketMode | None
) -> tuple[bool, dict[str, Any]]:
    """Whether the bot is ready, and what `/healthz` shows: the store, the workers, Slack.

    The Socket Mode connection is shown but does not decide readiness: AMP's webhooks and the
    API still work while it reconnects, and what they accept waits in the outbox.
    """
    problems = []
    try:
        await services.store.schema_version()
        store = "open"
    except Exception as exc:
        store = "unavailable"
        problems.append(f"the database does not answer ({type(exc).__name__}: {exc})")

    worker = "running" if services.outbox.running else "stopped"
    if not services.outbox.running:
        problems.append("the outbox worker is not running")

    polling = "off" if poller is None else "running" if poller.running else "stopped"
    if polling == "stopped":
        problems.append("the status poller is not running")

    if socket is None:
        slack = "http"
    else:
        slack = "socket mode, connected" if await socket.connected() else "socket mode, connecting"

    body: dict[str, Any] = {
        "ok": not problems,
        "store": store,
        "worker": worker,
        "poller": polling,
        "slack": slack,
        "uptime_seconds": round(time.time() - started, 1),
    }
    if problems:
        body["reason"] = "; ".join(problems)
    return not problems, body
