"""Turning agent Markdown and untrusted text into Slack `mrkdwn` that means only what it says.

Slack reads `<...>` as links, mentions and broadcasts (`<!channel>`), so every `&`, `<` and
`>` of untrusted text is escaped first; the only markup left is what the conversion adds.
"""

from __future__ import annotations

import re

_CODE_FENCE = re.compile(r"^\s*```")
_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+(.*?)\s*#*\s*$")
_BULLET = re.compile(r"^(\s*)[-*+]\s+(.*)$")
_BOLD = re.compile(r"(\*\*|__)(?=\S)(.+?)(?<=\S)\1")
_ITALIC = re.compile(r"(?<![*\w])\*(?=\S)([^*\n]+?)(?<=\S)\*(?![*\w])")
_STRIKE = re.compile(r"~~(?=\S)(.+?)(?<=\S)~~")
_LINK = re.compile(r"\[([^\]\n]+)\]\((https?://[^\s)]+)\)")
_INLINE_CODE = re.compile(r"(`[^`\n]+`)")
_RULE = re.compile(r"^\s*([-*_])(\s*\1){2,}\s*$")


def escape(text: str) -> str:
    """Escape the three characters Slack gives meaning to, so text shows as it is."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def plain(text: str) -> str:
    """Untrusted text for a `mrkdwn` field, escaped and with no formatting of its own."""
    return escape(text)


def from_markdown(markdown: str) -> str:
    """Agent Markdown as readable Slack `mrkdwn`: headings, emphasis, lists, links, code."""
    lines: list[str] = []
    in_code = False
    for line in markdown.replace("\r\n", "\n").split("\n"):
        if _CODE_FENCE.match(line):
            in_code = not in_code
            lines.append("```")
            continue
        if in_code:
            lines.append(escape(line))
            continue
        lines.append(_convert_line(line))
    if in_code:
        lines.append("```")
    return "\n".join(lines)


def _convert_line(line: str) -> str:
    if _RULE.match(line):
        return "──────────"
    heading = _HEADING.match(line)
    if heading:
        return f"*{_inline(heading.group(1))}*" if heading.group(1) else ""
    bullet = _BULLET.match(line)
    if bullet:
        indent = "    " * (len(bullet.group(1).expandtabs(4)) // 2)
        return f"{indent}• {_inline(bullet.group(2))}"
    return _inline(line)


def _inline(text: str) -> str:
    """Convert emphasis and links outside inline code spans."""
    parts = _INLINE_CODE.split(text)
    out = []
    for index, part in enumerate(parts):
        if index % 2:
            out.append(escape(part))
            continue
        part = escape(part)
        part = _LINK.sub(lambda m: f"<{m.group(2)}|{m.group(1).replace('|', '¦')}>", part)
        part = _BOLD.sub(lambda m: f"\x00{m.group(2)}\x00", part)
        part = _ITALIC.sub(lambda m: f"_{m.group(1)}_", part)
        part = _STRIKE.sub(lambda m: f"~{m.group(1)}~", part)
        out.append(part.replace("\x00", "*"))
    return "".join(out)


def truncate(text: str, limit: int, *, marker: str = "…") -> str:
    """`text` cut to at most `limit` characters, at a line or word end where one is near."""
    if len(text) <= limit:
        return text
    room = limit - len(marker) - len("\n```")
    cut = text[:room]
    for boundary in ("\n", " "):
        at = cut.rfind(boundary)
        if at > room * 0.8:
            cut = cut[:at]
            break
    return _close_code(_no_broken_entity(cut)) + marker


def _no_broken_entity(text: str) -> str:
    """Drop a trailing `&amp;`-style entity that the cut split in half."""
    at = text.rfind("&")
    if at != -1 and ";" not in text[at:] and len(text) - at < 6:
        return text[:at]
    return text


def _close_code(text: str) -> str:
    if text.count("```") % 2:
        return text + "\n```"
    return text


def split(text: str, size: int) -> list[str]:
    """`text` in pieces of at most `size` characters, broken at line ends where possible.

    A code block that a break falls into is closed at the end of one piece and opened again
    at the start of the next, so that each piece renders on its own.
    """
    fence = "```"
    room = size - 2 * (len(fence) + 1)
    pieces: list[str] = []
    while len(text) > size:
        at = text.rfind("\n", 0, room)
        if at < room // 2:
            at = text.rfind(" ", 0, room)
        if at < room // 2:
            at = room
        piece = _no_broken_entity(text[:at])
        text = text[len(piece) :].lstrip("\n")
        if piece.count(fence) % 2:
            piece += "\n" + fence
            text = fence + "\n" + text
        pieces.append(piece)
    if text:
        pieces.append(text)
    return pieces
