"""The command line: serve the bot, simulate a crew, check the settings, print the manifest."""

from __future__ import annotations

import argparse
import logging
import os
import sqlite3
import sys
from pathlib import Path

from aiohttp import web

from bot import logs
from bot.settings import SettingsError, load_settings
from bot.store import StoreError

logger = logging.getLogger("bot")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["simulate"]:
        # The simulator has options of its own, --help among them.
        from bot import simulator

        return simulator.main(argv[1:])
    args = _parser().parse_args(argv)
    if args.command == "check":
        from bot import check

        return check.main(allow_private_url=args.allow_private_url)
    if args.command == "manifest":
        from bot import manifest

        return manifest.main(url=args.url, socket_mode=args.socket_mode, file=args.file)
    return serve()


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bot",
        description="A Slack app that puts a human in the loop of CrewAI AMP executions."
        " Settings come from the environment or a .env file (see the README).",
    )
    commands = parser.add_subparsers(dest="command", metavar="command")
    commands.add_parser(
        "serve",
        help="serve Slack, the AMP webhooks and the API (the default)",
        description="Serve Slack (HTTP or Socket Mode), AMP's webhooks, the API, /healthz and"
        " /metrics until SIGTERM or Ctrl-C.",
    )
    simulate = commands.add_parser(
        "simulate",
        help="serve a local AMP crew simulator (see simulate --help)",
        add_help=False,
    )
    simulate.add_argument("rest", nargs=argparse.REMAINDER)
    check = commands.add_parser(
        "check",
        help="check the settings, Slack, AMP and BOT_PUBLIC_URL; exit 1 if any fails",
        description="Check the settings, the Slack token and review channel, AMP's health and"
        " inputs, and that BOT_PUBLIC_URL is an https URL AMP can reach. One line per check;"
        " nothing is posted anywhere.",
    )
    check.add_argument(
        "--allow-private-url",
        action="store_true",
        help="accept a BOT_PUBLIC_URL that only this machine or network reaches"
        " (the simulator, or an AMP on your network)",
    )
    manifest = commands.add_parser(
        "manifest",
        help="print manifest.yml with the request URLs filled in",
        description="Print the Slack app manifest with its request URLs pointing at --url.",
    )
    manifest.add_argument("--url", required=True, help="the bot's public https URL")
    manifest.add_argument(
        "--socket-mode",
        action="store_true",
        help="set settings.socket_mode_enabled: true (for SLACK_APP_TOKEN)",
    )
    manifest.add_argument("--file", type=Path, help="the manifest to start from")
    return parser


def serve() -> int:
    """Run the bot until SIGTERM or SIGINT; exit 2 with one line when a setting is wrong."""
    try:
        settings = load_settings()
    except SettingsError as exc:
        print(f"bot: cannot start: {exc}", file=sys.stderr)
        return 2
    logs.configure(settings.bot_log_level, settings.secrets(), log_format=settings.bot_log_format)
    if os.environ.pop("SLACK_CLIENT_ID", None) and os.environ.pop("SLACK_CLIENT_SECRET", None):
        logger.warning("SLACK_CLIENT_ID and SLACK_CLIENT_SECRET are ignored: one workspace only")

    from bot.app import create_app

    try:
        web.run_app(
            create_app(settings),
            host=settings.bot_host,
            port=settings.bot_port,
            shutdown_timeout=3.0,
            print=lambda text: None,
            access_log=None,
        )
    except (StoreError, sqlite3.Error) as exc:
        print(f"bot: cannot open BOT_DATABASE {settings.bot_database}: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(
            f"bot: cannot listen on {settings.bot_host}:{settings.bot_port}: {exc.strerror}",
            file=sys.stderr,
        )
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
