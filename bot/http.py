"""Small pieces shared by the bot's own HTTP routes: JSON errors and bearer checks."""

from __future__ import annotations

import hmac
import logging
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Handler

logger = logging.getLogger(__name__)


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


@web.middleware
async def json_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every error of the bot's routes as a JSON body, and never a traceback."""
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        reason = exc.reason.lower().replace(" ", "_")
        message = exc.text if exc.text and exc.text != f"{exc.status}: {exc.reason}" else exc.reason
        return error(exc.status, reason, message)
    except Exception:
        logger.exception("Request %s %s failed", request.method, request.path)
        return error(500, "internal_error", "The bot failed to handle this request.")
