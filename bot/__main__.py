"""The command line: `python -m bot` serves the bot; `python -m bot simulate` serves a crew."""

from __future__ import annotations

import argparse
import logging
import os
import sys

from aiohttp import web

from bot import logs
from bot.settings import SettingsError, load_settings

logger = logging.getLogger("bot")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bot",
        description="A Slack app that puts a human in the loop of CrewAI AMP executions.",
    )
    commands = parser.add_subparsers(dest="command", metavar="command")
    commands.add_parser("serve", help="serve Slack, the AMP webhooks and the API (the default)")
    simulate = commands.add_parser(
        "simulate", help="serve a local AMP crew simulator", add_help=False
    )
    simulate.add_argument("rest", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)

    if args.command == "simulate":
        from bot import simulator

        return simulator.main(args.rest)
    return serve()


def serve() -> int:
    """Run the bot until SIGTERM or SIGINT; exit 2 with one line when a setting is wrong."""
    try:
        settings = load_settings()
    except SettingsError as exc:
        print(f"bot: cannot start: {exc}", file=sys.stderr)
        return 2
    logs.configure(settings.bot_log_level, settings.secrets())
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
    except OSError as exc:
        print(
            f"bot: cannot listen on {settings.bot_host}:{settings.bot_port}: {exc.strerror}",
            file=sys.stderr,
        )
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
