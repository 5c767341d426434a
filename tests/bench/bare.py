"""A bare Bolt app whose only listener acks an Approve click, served as the bot serves its own.

It is the yardstick of the ack latency: the same `AsyncApp` construction, the same aiohttp
adapter and route, the same `web.run_app` call and log setup as `python -m bot`, and nothing
after the ack.
"""

from __future__ import annotations

import argparse
import os

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot import blocks, logs

BOLT = web.AppKey("bolt", AsyncApp)


def create_app(slack_url: str, token: str, signing_secret: str) -> web.Application:
    """An aiohttp app serving one `AsyncApp` on `/slack/events`, like the bot's."""
    bolt = AsyncApp(
        client=AsyncWebClient(token=token, base_url=slack_url),
        signing_secret=signing_secret,
        raise_error_for_unhandled_request=False,
    )

    @bolt.action(blocks.APPROVE)
    async def approve(ack: AsyncAck) -> None:
        await ack()

    app = web.Application(client_max_size=1024 * 1024)
    app[BOLT] = bolt
    app.add_routes([web.post("/slack/events", _slack_events), web.get("/healthz", _healthz)])
    return app


async def _slack_events(request: web.Request) -> web.Response:
    response = await request.app[BOLT].async_dispatch(await to_bolt_request(request))
    return await to_aiohttp_response(response)


async def _healthz(request: web.Request) -> web.Response:
    return web.json_response({"ok": True})


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.bench.bare")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--slack-url", required=True)
    args = parser.parse_args()
    token = os.environ["SLACK_BOT_TOKEN"]
    secret = os.environ["SLACK_SIGNING_SECRET"]
    logs.configure(os.environ.get("BOT_LOG_LEVEL", "INFO"), [token, secret])
    web.run_app(
        create_app(args.slack_url, token, secret),
        host="127.0.0.1",
        port=args.port,
        shutdown_timeout=3.0,
        print=lambda text: None,
        access_log=None,
    )


if __name__ == "__main__":
    main()
