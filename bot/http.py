"""Small pieces shared by the bot's own HTTP routes: JSON errors and bearer checks."""

from __future__ import annotations

import hmac
from typing import Any

from aiohttp import web


def error(status: int, error: str, message: str, **extra: Any) -> web.Response:
    """A JSON error body `{"error", "message", ...}` with `status`."""
    return web.json_response({"error": error, "message": message, **extra}, status=status)


def bearer(request: web.Request) -> str | None:
    """The bearer token of a request, if it has one."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def matches(given: str | None, expected: str | None) -> bool:
    """Constant-time comparison of a presented secret with the expected one."""
    if not given or not expected:
        return False
    return hmac.compare_digest(given.encode(), expected.encode())


def unauthorized(message: str = "Missing or wrong bearer token.") -> web.Response:
    return error(401, "unauthorized", message)
