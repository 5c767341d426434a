"""Logging for an operator: one line per event, and no secret in any line."""

from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import Iterable
from datetime import UTC, datetime
from urllib.parse import urlsplit

_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
_URL_SECRET = re.compile(r"(/amp/executions/[\w-]+/)[\w-]{20,}(/)")
_BEARER = re.compile(r"(Bearer\s+)[\w.~+/=-]{6,}", re.IGNORECASE)
_SECRET_LIKE = re.compile(r"[\w-]{20,}")
# The one-time ticket of a Socket Mode websocket URL.
_TICKET = re.compile(r"(ticket=)[\w-]+")


class Redact(logging.Filter):
    """Replaces every known secret, and the secret part of the bot's webhook URLs."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self._secrets = [secret for secret in secrets if len(secret) >= 6]

    def add(self, secret: str) -> None:
        if len(secret) >= 6:
            self._secrets.append(secret)

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = redact(message, self._secrets)
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text, self._secrets)
        if redacted != message:
            record.msg, record.args = redacted, None
        return True


def redact(text: str, secrets: Iterable[str]) -> str:
    """`text` with each secret, and any bearer token, replaced by `[redacted]`."""
    for secret in secrets:
        text = text.replace(secret, "[redacted]")
    text = _BEARER.sub(r"\1[redacted]", text)
    text = _URL_SECRET.sub(r"\1[redacted]\2", text)
    return _TICKET.sub(r"\1[redacted]", text)


def redact_url(url: str) -> str:
    """A URL fit to show: no credentials, no query, no path part long enough to be a secret."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port is not None:
        host += f":{parts.port}"
    path = "/".join(
        "[redacted]" if _SECRET_LIKE.fullmatch(part) else part for part in parts.path.split("/")
    )
    query = "?[redacted]" if parts.query else ""
    return f"{parts.scheme}://{host}{path}{query}"


class JsonLines(logging.Formatter):
    """One JSON object per line: time, level, logger, message, and the traceback if any."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            line["exception"] = record.exc_text
        if record.stack_info:
            line["stack"] = self.formatStack(record.stack_info)
        return json.dumps(line, ensure_ascii=False)


def configure(level: str, secrets: Iterable[str], *, log_format: str = "plain") -> Redact:
    """Log to stderr at `level`, as plain lines or JSON lines, through the redacting filter."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonLines() if log_format == "json" else logging.Formatter(_FORMAT))
    redacting = Redact(secrets)
    handler.addFilter(redacting)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    # Its DEBUG lines carry every SQL statement with its values, secrets included.
    logging.getLogger("aiosqlite").setLevel(logging.INFO)
    return redacting
