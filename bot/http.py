"""Small pieces shared by the bot's own HTTP routes: JSON errors and bearer checks."""

from __future__ import annotations

import hmac
import logging
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

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


def body_limit(max_bytes: int) -> Middleware:
    """Refuse a body whose declared length is over `max_bytes` before reading any of it.

    A body without a declared length is capped while it is read (aiohttp's `client_max_size`).
    """

    @web.middleware
    async def limit(request: web.Request, handler: Handler) -> web.StreamResponse:
        length = request.content_length
        if length is not None and length > max_bytes:
            logger.warning(
                "Refused a %d-byte body on %s %s (limit %d)",
                length,
                request.method,
                request.path,
                max_bytes,
            )
            return too_large(max_bytes)
        return await handler(request)

    return limit


def too_large(max_bytes: int) -> web.Response:
    return error(
        413, "request_entity_too_large", f"The body is over the limit of {max_bytes} bytes."
    )


@web.middleware
async def json_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every error of the bot's routes as a JSON body, and never a traceback."""
    try:
        return await handler(request)
    except web.HTTPRequestEntityTooLarge:
        return too_large(request.client_max_size)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        reason = exc.reason.lower().replace(" ", "_")
        message = exc.text if exc.text and exc.text != f"{exc.status}: {exc.reason}" else exc.reason
        return error(exc.status, reason, message)
    except Exception:
        logger.exception("Request %s %s failed", request.method, request.path)
        return error(500, "internal_error", "The bot failed to handle this request.")
