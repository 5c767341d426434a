"""`python -m bot manifest`: the Slack app manifest with the bot's request URLs filled in.

The manifest is the repository's `manifest.yml`, whose request URLs name the placeholder
`https://bot.example.com`. One key tells Slack the connection mode:
`settings.socket_mode_enabled` (`--socket-mode` sets it to true).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from urllib.parse import urlsplit

PLACEHOLDER = "https://bot.example.com"
FILE_NAME = "manifest.yml"
_SOCKET_MODE_KEY = re.compile(r"^(\s*socket_mode_enabled:)\s*\w+\s*$", re.MULTILINE)


class ManifestError(Exception):
    """The manifest cannot be made: a bad URL, or no manifest file to start from."""


def render(template: str, url: str, *, socket_mode: bool = False) -> str:
    """`template` with the placeholder replaced by `url`, and the connection mode set."""
    parts = urlsplit(url)
    if parts.scheme != "https" or not parts.hostname:
        raise ManifestError(f"{url!r} is not an https URL; Slack only calls https request URLs")
    if PLACEHOLDER not in template:
        raise ManifestError(f"the manifest has no {PLACEHOLDER} request URLs to fill in")
    lines = template.splitlines(keepends=True)
    while lines and lines[0].startswith("#"):
        lines.pop(0)
    body = "".join(lines).replace(PLACEHOLDER, url.rstrip("/"))
    mode = "true" if socket_mode else "false"
    body, found = _SOCKET_MODE_KEY.subn(rf"\g<1> {mode}", body)
    if not found:
        raise ManifestError("the manifest has no settings.socket_mode_enabled key")
    header = f"# Slack app manifest for {url.rstrip('/')}"
    header += " (Socket Mode)\n" if socket_mode else " (HTTP mode)\n"
    return header + body


def find_template() -> Path:
    """The repository's manifest.yml, beside the `bot` package or in the working directory."""
    for folder in (Path(__file__).resolve().parent.parent, Path.cwd()):
        if (folder / FILE_NAME).is_file():
            return folder / FILE_NAME
    raise ManifestError(f"no {FILE_NAME} beside the bot package or here; pass --file")


def main(*, url: str, socket_mode: bool = False, file: Path | None = None) -> int:
    """Print the manifest; exit 2 with one line when it cannot be made."""
    try:
        template = (file or find_template()).read_text(encoding="utf-8")
        sys.stdout.write(render(template, url, socket_mode=socket_mode))
    except (ManifestError, OSError) as exc:
        print(f"bot manifest: {exc}", file=sys.stderr)
        return 2
    return 0
