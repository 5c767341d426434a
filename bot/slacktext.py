"""Turning what people type in Slack into plain text that reads the way they saw it.

Slack sends a message's text with its own markup: `<@U123>` for a mention, `<#C1|name>` for
a channel, `<https://x|label>` for a link, and `&amp;`, `&lt;`, `&gt;` for the three characters
it reserves. Feedback for a crew should read like the message, so each becomes its text.
"""

from __future__ import annotations

import re

from bot.directory import Directory

_MARKUP = re.compile(r"<([^<>\n]+)>")
_ENTITIES = (("&lt;", "<"), ("&gt;", ">"), ("&amp;", "&"))


async def readable(text: str, directory: Directory) -> str:
    """`text` with mentions, channels and links as words, and Slack's escapes undone."""
    pieces: list[str] = []
    last = 0
    for match in _MARKUP.finditer(text):
        pieces.append(_unescape(text[last : match.start()]))
        pieces.append(await _markup(match.group(1), directory))
        last = match.end()
    pieces.append(_unescape(text[last:]))
    return "".join(pieces)


async def _markup(inner: str, directory: Directory) -> str:
    target, _, label = inner.partition("|")
    label = _unescape(label)
    if target.startswith("@"):
        user = target[1:]
        name = label or await directory.user_name(user) or user
        return "@" + name.removeprefix("@")
    if target.startswith("#"):
        return "#" + (label or target[1:])
    if target.startswith("!"):
        return _special(target[1:], label)
    url = _unescape(target)
    if not label or label in (url, url.removeprefix("mailto:")):
        return label or url
    return f"{label} ({url})"


def _special(command: str, label: str) -> str:
    """`<!here>`, `<!channel>`, `<!subteam^S1|@team>`, `<!date^...|fallback>` as their text."""
    if label:
        return label
    name = command.split("^", 1)[0]
    return "@" + name if name in ("here", "channel", "everyone") else name


def _unescape(text: str) -> str:
    for entity, character in _ENTITIES:
        text = text.replace(entity, character)
    return text
