"""Loopback fakes of Slack: the Web API the bot calls, and the signed requests Slack sends it."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import inspect
import itertools
import json
import math
import re
import secrets
import time
import uuid
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import httpx
from aiohttp import WSMsgType, web

__all__ = [
    "MESSAGE_BLOCKS_MAX_CHARS",
    "MESSAGE_MAX_BLOCKS",
    "TRIGGER_ID_LIFETIME",
    "VIEW_MAX_BLOCKS",
    "FakeSlack",
    "Message",
    "ResponsePost",
    "SlackCall",
    "SlackRequests",
    "SlackSigner",
    "SocketModeServer",
    "UploadedFile",
]

MESSAGE_MAX_BLOCKS = 50
VIEW_MAX_BLOCKS = 100
# Undocumented; measured as json.dumps(blocks, ensure_ascii=False).
MESSAGE_BLOCKS_MAX_CHARS = 13_200
MESSAGE_TEXT_MAX_CHARS = 40_000
MARKDOWN_BLOCKS_MAX_CHARS = 12_000
TRIGGER_ID_LIFETIME = 3.0

_FIRST_TS_MICROS = 1_700_000_000_000_000
_TS_STEP_MICROS = 100
_TS_PATTERN = re.compile(r"\d+\.\d+")
_JSON_ARGS = frozenset({"attachments", "blocks", "files", "metadata", "view"})

_BLOCK_TYPES = frozenset(
    {
        "actions",
        "context",
        "context_actions",
        "divider",
        "file",
        "header",
        "image",
        "input",
        "markdown",
        "rich_text",
        "section",
        "table",
        "video",
    }
)
_ELEMENT_TYPES = frozenset(
    {
        "button",
        "channels_select",
        "checkboxes",
        "conversations_select",
        "datepicker",
        "datetimepicker",
        "email_text_input",
        "external_select",
        "file_input",
        "image",
        "multi_channels_select",
        "multi_conversations_select",
        "multi_external_select",
        "multi_static_select",
        "multi_users_select",
        "number_input",
        "overflow",
        "plain_text_input",
        "radio_buttons",
        "rich_text_input",
        "static_select",
        "timepicker",
        "url_text_input",
        "users_select",
        "workflow_button",
    }
)
_OPTION_LIMITS = {
    "static_select": 100,
    "multi_static_select": 100,
    "overflow": 5,
    "checkboxes": 10,
    "radio_buttons": 10,
}


@dataclass
class SlackCall:
    """One Web API call the fake received, with its arguments decoded."""

    method: str
    args: dict[str, Any]
    headers: dict[str, str]


@dataclass
class UploadedFile:
    """A file uploaded through files.getUploadURLExternal and files.completeUploadExternal."""

    id: str
    filename: str
    length: int
    upload_url: str
    alt_txt: str | None = None
    snippet_type: str | None = None
    title: str | None = None
    content: bytes | None = None

    @property
    def text(self) -> str:
        """The uploaded bytes decoded as UTF-8."""
        return (self.content or b"").decode()

    def to_api(self, *, user: str) -> dict[str, Any]:
        """The file object as the Web API returns it."""
        return {
            "id": self.id,
            "name": self.filename,
            "title": self.title or self.filename,
            "mimetype": "text/plain",
            "filetype": self.snippet_type or "text",
            "user": user,
            "size": len(self.content or b""),
            "url_private": f"https://files.slack.com/files-pri/{self.id}/{self.filename}",
        }


@dataclass
class Message:
    """A message the fake workspace holds, with every chat.update already applied."""

    channel: str
    ts: str
    text: str
    user: str
    blocks: list[dict[str, Any]] = field(default_factory=list)
    thread_ts: str | None = None
    metadata: dict[str, Any] | None = None
    bot_id: str | None = None
    subtype: str | None = None
    attachments: list[dict[str, Any]] = field(default_factory=list)
    files: list[UploadedFile] = field(default_factory=list)
    reactions: dict[str, list[str]] = field(default_factory=dict)
    # The arguments of each chat.update or replace_original response, oldest first.
    edits: list[dict[str, Any]] = field(default_factory=list)

    @property
    def is_reply(self) -> bool:
        """Whether the message sits in a thread under another message."""
        return self.thread_ts is not None and self.thread_ts != self.ts

    def to_api(self, *, team_id: str) -> dict[str, Any]:
        """The message object as conversations.history and chat.postMessage return it."""
        data: dict[str, Any] = {
            "type": "message",
            "user": self.user,
            "text": self.text,
            "ts": self.ts,
            "team": team_id,
        }
        optional = {
            "subtype": self.subtype,
            "bot_id": self.bot_id,
            "thread_ts": self.thread_ts,
            "metadata": self.metadata,
            "blocks": self.blocks or None,
            "attachments": self.attachments or None,
        }
        data.update({key: value for key, value in optional.items() if value is not None})
        if self.files:
            data["files"] = [file.to_api(user=self.user) for file in self.files]
            data["upload"] = True
        if self.reactions:
            data["reactions"] = [
                {"name": name, "users": users, "count": len(users)}
                for name, users in self.reactions.items()
            ]
        if self.edits:
            data["edited"] = {"user": self.user, "ts": self.ts}
        return data


@dataclass
class ResponsePost:
    """One body the app POSTed to a response_url."""

    url: str
    body: dict[str, Any]


@dataclass
class _Fault:
    error: str | None
    status: int
    retry_after: int | None

    def response(self) -> web.Response:
        if self.status >= 500:
            return web.Response(status=self.status, text=f"{self.status} server error")
        headers: dict[str, str] = {}
        error = self.error
        if self.status == 429:
            headers["Retry-After"] = str(1 if self.retry_after is None else self.retry_after)
            error = error or "ratelimited"
        body = {"ok": False, "error": error or "internal_error"}
        return web.json_response(body, status=self.status, headers=headers)


class _SlackError(Exception):
    """A Web API call refused the way Slack refuses it."""

    def __init__(
        self,
        error: str,
        *,
        status: int = 200,
        headers: dict[str, str] | None = None,
        messages: list[str] | None = None,
    ) -> None:
        super().__init__(error)
        self.error = error
        self.status = status
        self.headers = headers or {}
        self.messages = messages

    def response(self) -> web.Response:
        body: dict[str, Any] = {"ok": False, "error": self.error}
        if self.messages:
            body["response_metadata"] = {"messages": self.messages}
        return web.json_response(body, status=self.status, headers=self.headers)


class _InvalidBlocks(Exception):
    """A block Slack would refuse, described with Slack's json-pointer wording."""

    def __init__(self, pointer: str, reason: str) -> None:
        super().__init__(f"[ERROR] {reason} [json-pointer:{pointer}]")


def _check_string(value: Any, pointer: str, limit: int, *, required: bool = True) -> None:
    if not isinstance(value, str):
        raise _InvalidBlocks(pointer, "must be a string")
    if required and not value:
        raise _InvalidBlocks(pointer, "must be more than 0 characters")
    if len(value) > limit:
        raise _InvalidBlocks(pointer, f"must be less than {limit + 1} characters")


def _check_list(value: Any, pointer: str, limit: int, *, required: bool = True) -> list[Any]:
    if not isinstance(value, list):
        raise _InvalidBlocks(pointer, "must be an array")
    if required and not value:
        raise _InvalidBlocks(pointer, "must provide at least 1 item")
    if len(value) > limit:
        raise _InvalidBlocks(pointer, f"must be less than {limit + 1} items")
    return value


class _BlockChecker:
    """Checks blocks and views against the Block Kit limits Slack enforces."""

    def __init__(self) -> None:
        self._block_ids: set[str] = set()
        self._markdown_chars = 0

    def blocks(self, blocks: Any, pointer: str, *, max_blocks: int) -> None:
        for index, block in enumerate(_check_list(blocks, pointer, max_blocks, required=False)):
            self.block(block, f"{pointer}/{index}")

    def view(self, view: dict[str, Any], *, types: tuple[str, ...]) -> None:
        if view.get("type") not in types:
            raise _InvalidBlocks("/view/type", "failed to match all allowed schemas")
        blocks = view.get("blocks")
        self.blocks(blocks, "/view/blocks", max_blocks=VIEW_MAX_BLOCKS)
        if view["type"] == "modal":
            self.text(view.get("title"), "/view/title", 24, plain_only=True)
            for key in ("submit", "close"):
                if view.get(key) is not None:
                    self.text(view[key], f"/view/{key}", 24, plain_only=True)
            has_input = any(block.get("type") == "input" for block in blocks)
            if has_input and view.get("submit") is None:
                raise _InvalidBlocks("/view/submit", "is required when the view has input blocks")
        for key, limit in (("private_metadata", 3000), ("callback_id", 255), ("external_id", 255)):
            if key in view:
                _check_string(view[key], f"/view/{key}", limit, required=False)

    def block(self, block: Any, pointer: str) -> None:
        if not isinstance(block, dict) or block.get("type") not in _BLOCK_TYPES:
            raise _InvalidBlocks(pointer, "failed to match all allowed schemas")
        block_id = block.get("block_id")
        if block_id is not None:
            _check_string(block_id, f"{pointer}/block_id", 255)
            if block_id in self._block_ids:
                raise _InvalidBlocks(f"{pointer}/block_id", "duplicate block_id")
            self._block_ids.add(block_id)
        check = getattr(self, f"_{block['type']}", None)
        if check is not None:
            check(block, pointer, set())

    def text(self, obj: Any, pointer: str, limit: int, *, plain_only: bool = False) -> None:
        allowed = ("plain_text",) if plain_only else ("plain_text", "mrkdwn")
        if not isinstance(obj, dict) or obj.get("type") not in allowed:
            raise _InvalidBlocks(pointer, "failed to match all allowed schemas")
        _check_string(obj.get("text"), f"{pointer}/text", limit)

    def element(self, element: Any, pointer: str, action_ids: set[str]) -> None:
        if not isinstance(element, dict) or element.get("type") not in _ELEMENT_TYPES:
            raise _InvalidBlocks(pointer, "failed to match all allowed schemas")
        action_id = element.get("action_id")
        if action_id is not None:
            _check_string(action_id, f"{pointer}/action_id", 255)
            if action_id in action_ids:
                raise _InvalidBlocks(f"{pointer}/action_id", "duplicate action_id")
            action_ids.add(action_id)
        kind = element["type"]
        if kind == "button":
            self.text(element.get("text"), f"{pointer}/text", 75, plain_only=True)
            if "value" in element:
                _check_string(element["value"], f"{pointer}/value", 2000, required=False)
            if "url" in element:
                _check_string(element["url"], f"{pointer}/url", 3000)
            if element.get("style") not in (None, "primary", "danger"):
                raise _InvalidBlocks(f"{pointer}/style", "must be one of primary, danger")
        elif kind == "image":
            _check_string(element.get("alt_text"), f"{pointer}/alt_text", 2000)
        elif kind == "plain_text_input":
            for key in ("min_length", "max_length"):
                value = element.get(key)
                if value is not None and (not isinstance(value, int) or not 0 <= value <= 3000):
                    raise _InvalidBlocks(f"{pointer}/{key}", "must be between 0 and 3000")
        if kind in _OPTION_LIMITS and "options" in element:
            options = _check_list(element["options"], f"{pointer}/options", _OPTION_LIMITS[kind])
            for index, option in enumerate(options):
                self._option(option, f"{pointer}/options/{index}")
        if isinstance(element.get("placeholder"), dict):
            self.text(element["placeholder"], f"{pointer}/placeholder", 150, plain_only=True)

    def _option(self, option: Any, pointer: str) -> None:
        if not isinstance(option, dict):
            raise _InvalidBlocks(pointer, "must be an object")
        self.text(option.get("text"), f"{pointer}/text", 75)
        _check_string(option.get("value"), f"{pointer}/value", 150)

    def _section(self, block: dict[str, Any], pointer: str, action_ids: set[str]) -> None:
        if block.get("text") is None and not block.get("fields"):
            raise _InvalidBlocks(pointer, "must provide either text or fields")
        if block.get("text") is not None:
            self.text(block["text"], f"{pointer}/text", 3000)
        if block.get("fields") is not None:
            for index, item in enumerate(_check_list(block["fields"], f"{pointer}/fields", 10)):
                self.text(item, f"{pointer}/fields/{index}", 2000)
        if block.get("accessory") is not None:
            self.element(block["accessory"], f"{pointer}/accessory", action_ids)

    def _header(self, block: dict[str, Any], pointer: str, action_ids: set[str]) -> None:
        self.text(block.get("text"), f"{pointer}/text", 150, plain_only=True)

    def _actions(self, block: dict[str, Any], pointer: str, action_ids: set[str]) -> None:
        for index, element in enumerate(_check_list(block.get("elements"), pointer, 25)):
            self.element(element, f"{pointer}/elements/{index}", action_ids)

    def _context(self, block: dict[str, Any], pointer: str, action_ids: set[str]) -> None:
        for index, element in enumerate(_check_list(block.get("elements"), pointer, 10)):
            item = f"{pointer}/elements/{index}"
            if isinstance(element, dict) and element.get("type") == "image":
                self.element(element, item, action_ids)
            else:
                self.text(element, item, 3000)

    def _image(self, block: dict[str, Any], pointer: str, action_ids: set[str]) -> None:
        _check_string(block.get("alt_text"), f"{pointer}/alt_text", 2000)
        if "image_url" in block:
            _check_string(block["image_url"], f"{pointer}/image_url", 3000)
        elif "slack_file" not in block:
            raise _InvalidBlocks(pointer, "must provide either image_url or slack_file")
        if block.get("title") is not None:
            self.text(block["title"], f"{pointer}/title", 2000, plain_only=True)

    def _input(self, block: dict[str, Any], pointer: str, action_ids: set[str]) -> None:
        self.text(block.get("label"), f"{pointer}/label", 2000, plain_only=True)
        if block.get("hint") is not None:
            self.text(block["hint"], f"{pointer}/hint", 2000, plain_only=True)
        if block.get("element") is None:
            raise _InvalidBlocks(f"{pointer}/element", "missing required field: element")
        self.element(block["element"], f"{pointer}/element", action_ids)

    def _markdown(self, block: dict[str, Any], pointer: str, action_ids: set[str]) -> None:
        _check_string(block.get("text"), f"{pointer}/text", MARKDOWN_BLOCKS_MAX_CHARS)
        self._markdown_chars += len(block["text"])
        if self._markdown_chars > MARKDOWN_BLOCKS_MAX_CHARS:
            limit = MARKDOWN_BLOCKS_MAX_CHARS
            raise _InvalidBlocks(pointer, f"markdown blocks exceed {limit} characters in total")

    def _rich_text(self, block: dict[str, Any], pointer: str, action_ids: set[str]) -> None:
        _check_list(block.get("elements"), f"{pointer}/elements", 100)


def _check_message_blocks(blocks: Any) -> None:
    """Refuse message blocks the way chat.postMessage and chat.update do."""
    if not isinstance(blocks, list):
        raise _SlackError("invalid_blocks_format")
    if len(json.dumps(blocks, ensure_ascii=False)) > MESSAGE_BLOCKS_MAX_CHARS:
        raise _SlackError("msg_blocks_too_long")
    try:
        _BlockChecker().blocks(blocks, "/blocks", max_blocks=MESSAGE_MAX_BLOCKS)
    except _InvalidBlocks as exc:
        raise _SlackError("invalid_blocks", messages=[str(exc)]) from None


def _check_view(view: Any, *, types: tuple[str, ...]) -> dict[str, Any]:
    """Refuse a view the way views.open, views.update and views.publish do."""
    if not isinstance(view, dict):
        raise _SlackError("invalid_arguments", messages=["[ERROR] missing required field: view"])
    try:
        _BlockChecker().view(view, types=types)
    except _InvalidBlocks as exc:
        raise _SlackError("invalid_arguments", messages=[str(exc)]) from None
    return view


def _check_thread_ts(value: Any) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str) or not _TS_PATTERN.fullmatch(value):
        raise _SlackError(
            "invalid_thread_ts", messages=[f"[ERROR] {value} is not a valid thread_ts"]
        )
    return value


def _truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value.lower() in ("1", "true")
    return bool(value)


def _page(items: list[Any], args: dict[str, Any]) -> tuple[list[Any], str]:
    """One page of items by Slack's limit and cursor arguments, with the next cursor."""
    start = int(args.get("cursor") or 0)
    limit = int(args.get("limit") or 100)
    end = start + limit
    return items[start:end], (str(end) if end < len(items) else "")


def _describe(predicate: Callable[[], bool]) -> str:
    try:
        return inspect.getsource(predicate).strip()
    except (OSError, TypeError):
        return getattr(predicate, "__qualname__", repr(predicate))


async def _read_args(request: web.Request) -> dict[str, Any]:
    """The call's arguments from its query string and body, JSON-encoded fields decoded."""
    args: dict[str, Any] = dict(request.query)
    if request.body_exists:
        if request.content_type == "application/json":
            body = await request.json()
            if not isinstance(body, dict):
                raise ValueError("the JSON body is not an object")
            args.update(body)
        else:
            form = await request.post()
            args.update({key: value for key, value in form.items() if isinstance(value, str)})
    args = {key: value for key, value in args.items() if value is not None}
    for key in _JSON_ARGS & args.keys():
        if isinstance(args[key], str):
            with contextlib.suppress(ValueError):
                args[key] = json.loads(args[key])
    return args


class SocketModeServer:
    """Slack's side of Socket Mode on the fake: the websockets apps.connections.open hands out.

    Each URL carries a one-time ticket. A connection is greeted with `hello`; `send` delivers
    an envelope on the newest open connection, and `ack` waits for the app's answer to it.
    """

    def __init__(self, slack: FakeSlack) -> None:
        self.slack = slack
        self.connections: list[web.WebSocketResponse] = []
        self.acks: dict[str, dict[str, Any]] = {}
        self.received: list[dict[str, Any]] = []
        self._tickets: set[str] = set()

    @property
    def connected(self) -> bool:
        """Whether an app holds an open websocket."""
        return any(not ws.closed for ws in self.connections)

    def open_url(self) -> str:
        """A new ws:// URL on the fake, as apps.connections.open returns it."""
        ticket = secrets.token_urlsafe(16)
        self._tickets.add(ticket)
        root = self.slack._root().replace("http://", "ws://", 1)
        return f"{root}/link/?ticket={ticket}&app_id={self.slack.app_id}"

    async def handle(self, request: web.Request) -> web.StreamResponse:
        """One websocket: hello, then the app's acks until either side closes it."""
        ticket = request.query.get("ticket", "")
        if ticket not in self._tickets:
            return web.Response(status=401, text="invalid ticket")
        self._tickets.discard(ticket)
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self.connections.append(ws)
        await ws.send_json(
            {
                "type": "hello",
                "num_connections": len([c for c in self.connections if not c.closed]),
                "debug_info": {"host": "applink-fake", "approximate_connection_time": 18060},
                "connection_info": {"app_id": self.slack.app_id},
            }
        )
        async for message in ws:
            if message.type != WSMsgType.TEXT:
                continue
            data = json.loads(message.data)
            self.received.append(data)
            if isinstance(data, dict) and "envelope_id" in data:
                self.acks[str(data["envelope_id"])] = data
        return ws

    async def send(self, kind: str, payload: dict[str, Any], *, retry_attempt: int = 0) -> str:
        """Deliver an envelope (`interactive`, `events_api`, `slash_commands`); its id."""
        open_connections = [ws for ws in self.connections if not ws.closed]
        if not open_connections:
            raise RuntimeError("no app is connected over Socket Mode")
        envelope_id = str(uuid.uuid4())
        await open_connections[-1].send_json(
            {
                "envelope_id": envelope_id,
                "payload": payload,
                "type": kind,
                "accepts_response_payload": kind != "events_api",
                "retry_attempt": retry_attempt,
                "retry_reason": "timeout" if retry_attempt else "",
            }
        )
        return envelope_id

    async def ack(self, envelope_id: str, timeout: float = 5.0) -> dict[str, Any]:  # noqa: ASYNC109
        """The app's ack of one envelope, once it arrives."""
        await self.slack.wait_for(lambda: envelope_id in self.acks, timeout)
        return self.acks[envelope_id]

    async def close(self) -> None:
        """Close every websocket, as Slack does when it goes away."""
        for ws in self.connections:
            await ws.close()


class FakeSlack:
    """A Slack Web API on loopback that answers the bot's AsyncWebClient the way Slack does."""

    def __init__(
        self,
        *,
        token: str = "xoxb-test-token",
        app_token: str = "xapp-1-A1-test-token",
        bot_user_id: str = "UBOT",
        team_id: str = "T1",
        bot_id: str = "BBOT",
        app_id: str = "A1",
        bot_name: str = "crew-review",
        team_domain: str = "example",
    ) -> None:
        self.token = token
        self.app_token = app_token
        self.bot_user_id = bot_user_id
        self.team_id = team_id
        self.bot_id = bot_id
        self.app_id = app_id
        self.bot_name = bot_name
        self.team_domain = team_domain

        self.calls: list[SlackCall] = []
        self.messages: defaultdict[str, list[Message]] = defaultdict(list)
        self.ephemerals: list[dict[str, Any]] = []
        self.views: list[dict[str, Any]] = []
        self.responses: list[ResponsePost] = []
        self.files: dict[str, UploadedFile] = {}
        self.open_views: dict[str, dict[str, Any]] = {}
        self.socket_mode = SocketModeServer(self)

        # What a test sets up: usergroup members, users.info overrides, the channels the bot is
        # in (None: every channel), and chat.postMessage calls allowed per second per channel.
        self.usergroups: dict[str, list[str]] = {}
        self.users: dict[str, dict[str, Any]] = {}
        self.channels_member: set[str] | None = None
        self.rate_limit_per_channel: float | None = None
        self.trigger_id_lifetime = TRIGGER_ID_LIFETIME

        self.url: str | None = None
        self._ts = itertools.count(1)
        self._ids = itertools.count(1)
        self._faults: defaultdict[str, list[_Fault]] = defaultdict(list)
        self._hangs: defaultdict[str, list[float]] = defaultdict(list)
        self._last_post: dict[str, float] = {}
        self._trigger_ids: dict[str, float] = {}
        self._home_views: dict[str, str] = {}
        self._uploads: dict[str, str] = {}
        self._response_urls: dict[str, tuple[str | None, str | None]] = {}
        self._app: web.Application | None = None
        self._runner: web.AppRunner | None = None
        self._closing = asyncio.Event()
        self._methods: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
            "apps.connections.open": self._apps_connections_open,
            "auth.test": self._auth_test,
            "chat.postMessage": self._chat_post_message,
            "chat.update": self._chat_update,
            "chat.delete": self._chat_delete,
            "chat.postEphemeral": self._chat_post_ephemeral,
            "chat.getPermalink": self._chat_get_permalink,
            "conversations.info": self._conversations_info,
            "conversations.open": self._conversations_open,
            "conversations.replies": self._conversations_replies,
            "conversations.history": self._conversations_history,
            "reactions.add": self._reactions_add,
            "users.info": self._users_info,
            "usergroups.users.list": self._usergroups_users_list,
            "views.open": self._views_open,
            "views.push": self._views_push,
            "views.update": self._views_update,
            "views.publish": self._views_publish,
            "files.getUploadURLExternal": self._files_get_upload_url,
            "files.completeUploadExternal": self._files_complete_upload,
            "files.upload": self._files_upload_v1,
        }

    async def __aenter__(self) -> FakeSlack:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    @property
    def base_url(self) -> str:
        """The Web API base URL, as AsyncWebClient(base_url=...) takes it."""
        return f"{self._root()}/api/"

    def web_app(self) -> web.Application:
        """The aiohttp application serving /api/<method>, file uploads and response URLs."""
        if self._app is None:
            self._app = web.Application()
            self._app.router.add_route("*", "/api/{method}", self._handle_api)
            self._app.router.add_post("/upload/v1/{upload_id}", self._handle_upload)
            self._app.router.add_post("/response/{response_id}", self._handle_response)
            self._app.router.add_get("/link/", self.socket_mode.handle)
        return self._app

    async def start(self) -> str:
        """Serve on a free loopback port and return the Web API base URL."""
        self._closing.clear()
        self._runner = web.AppRunner(self.web_app(), access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}"
        return self.base_url

    async def stop(self) -> None:
        """Stop serving; calls still hanging are released first."""
        self._closing.set()
        await self.socket_mode.close()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def calls_to(self, method: str) -> list[SlackCall]:
        """The calls to one Web API method, in order."""
        return [call for call in self.calls if call.method == method]

    def message(self, channel: str, ts: str) -> Message:
        """The message at ts in channel; KeyError names what the channel holds otherwise."""
        found = self.find(channel, ts)
        if found is None:
            held = [message.ts for message in self.messages.get(channel, [])]
            raise KeyError(f"no message {ts} in {channel}; it holds {held}")
        return found

    def find(self, channel: str, ts: str) -> Message | None:
        """The message at ts in channel, or None."""
        return next((m for m in self.messages.get(channel, []) if m.ts == ts), None)

    def api_message(self, message: Message) -> dict[str, Any]:
        """The message as the Web API returns it, with its thread's reply fields."""
        data = message.to_api(team_id=self.team_id)
        if message.bot_id is not None:
            data["app_id"] = self.app_id
        replies = [m for m in self.thread(message.channel, message.ts) if m.is_reply]
        if not message.is_reply and replies:
            data["thread_ts"] = message.ts
            data["reply_count"] = len(replies)
            data["reply_users"] = sorted({m.user for m in replies})
            data["latest_reply"] = replies[-1].ts
        return data

    def user_info(self, user_id: str) -> dict[str, Any] | None:
        """The users.info user for an id: users overrides the defaults; None if unknown."""
        known = self.users.get(user_id)
        if known is None and (not user_id or user_id[0] not in "UW"):
            return None
        is_bot = user_id == self.bot_user_id
        name = self.bot_name if is_bot else user_id.lower()
        real_name = self.bot_name if is_bot else f"User {user_id}"
        user: dict[str, Any] = {
            "id": user_id,
            "team_id": self.team_id,
            "name": name,
            "real_name": real_name,
            "deleted": False,
            "is_bot": is_bot,
            "tz": "UTC",
            "profile": {"display_name": name, "real_name": real_name},
        }
        for key, value in (known or {}).items():
            if key == "profile" and isinstance(value, dict):
                user["profile"].update(value)
            else:
                user[key] = value
        return user

    def thread(self, channel: str, ts: str) -> list[Message]:
        """The parent at ts and its replies, oldest first."""
        in_channel = self.messages.get(channel, [])
        thread = [m for m in in_channel if m.ts == ts or m.thread_ts == ts]
        return sorted(thread, key=lambda m: float(m.ts))

    def view(self, view_id: str) -> dict[str, Any]:
        """The current state of a view the bot opened, pushed, updated or published."""
        return self.open_views[view_id]

    def home_view(self, user_id: str) -> dict[str, Any] | None:
        """The Home tab last published for a user, if any."""
        view_id = self._home_views.get(user_id)
        return None if view_id is None else self.open_views[view_id]

    def add_message(
        self,
        channel: str,
        text: str,
        *,
        user: str,
        ts: str | None = None,
        thread_ts: str | None = None,
        bot_id: str | None = None,
        subtype: str | None = None,
        blocks: list[dict[str, Any]] | None = None,
    ) -> Message:
        """Put a message someone else wrote into the workspace, as a user's post would be."""
        message = Message(
            channel=channel,
            ts=ts or self.next_ts(),
            text=text,
            user=user,
            blocks=blocks or [],
            thread_ts=thread_ts,
            bot_id=bot_id,
            subtype=subtype,
        )
        self.messages[channel].append(message)
        return message

    def next_ts(self) -> str:
        """A new message timestamp, unique and later than every earlier one."""
        micros = _FIRST_TS_MICROS + next(self._ts) * _TS_STEP_MICROS
        seconds, fraction = divmod(micros, 1_000_000)
        return f"{seconds}.{fraction:06d}"

    def issue_trigger_id(self) -> str:
        """A trigger_id that views.open accepts for trigger_id_lifetime seconds."""
        trigger_id = f"{next(self._ids)}{int(time.time())}.{self.team_id}.{secrets.token_hex(16)}"
        self._trigger_ids[trigger_id] = time.monotonic()
        return trigger_id

    def response_url(self, *, channel: str | None = None, ts: str | None = None) -> str:
        """A response_url on this fake; bound to a message, replace_original edits it."""
        response_id = secrets.token_hex(8)
        self._response_urls[response_id] = (channel, ts)
        return f"{self._root()}/response/{response_id}"

    def responses_to(self, url: str) -> list[dict[str, Any]]:
        """The bodies POSTed to one response_url, in order."""
        return [post.body for post in self.responses if post.url == url]

    async def wait_for(
        self,
        predicate: Callable[[], bool],
        timeout: float = 5.0,  # noqa: ASYNC109 - bounds the polling, as callers expect
        *,
        interval: float = 0.01,
    ) -> None:
        """Poll until predicate() holds; TimeoutError names it and the calls seen so far."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            if predicate():
                return
            if loop.time() >= deadline:
                methods = [call.method for call in self.calls]
                raise TimeoutError(
                    f"still false after {timeout}s: {_describe(predicate)}; "
                    f"Web API calls so far: {methods}"
                )
            await asyncio.sleep(interval)

    def fail_next(
        self,
        method: str,
        *,
        error: str | None = None,
        status: int = 200,
        retry_after: int | None = None,
        times: int = 1,
    ) -> None:
        """Make the next calls to method fail; 429 carries Retry-After, 5xx a plain body."""
        self._faults[method].extend(_Fault(error, status, retry_after) for _ in range(times))

    def clear_faults(self) -> None:
        """Forget every failure and delay still waiting to happen."""
        self._faults.clear()
        self._hangs.clear()

    def hang_next(self, method: str, *, seconds: float, times: int = 1) -> None:
        """Make the next calls to method wait before they are answered."""
        self._hangs[method].extend(seconds for _ in range(times))

    def _root(self) -> str:
        if self.url is None:
            raise RuntimeError("FakeSlack is not started")
        return self.url

    def _new_id(self, prefix: str) -> str:
        return f"{prefix}{next(self._ids):09d}"

    async def _handle_api(self, request: web.Request) -> web.StreamResponse:
        method = request.match_info["method"]
        try:
            args = await _read_args(request)
        except ValueError:
            self.calls.append(SlackCall(method, {}, dict(request.headers)))
            return _SlackError("invalid_json").response()
        self.calls.append(SlackCall(method, args, dict(request.headers)))

        if self._hangs[method]:
            seconds = self._hangs[method].pop(0)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._closing.wait(), seconds)
        if self._faults[method]:
            return self._faults[method].pop(0).response()

        try:
            handler = self._methods.get(method)
            if handler is None:
                raise _SlackError("unknown_method")
            self._authenticate(request, args, app_level=method == "apps.connections.open")
            return web.json_response({"ok": True, **handler(args)})
        except _SlackError as exc:
            return exc.response()

    async def _handle_upload(self, request: web.Request) -> web.StreamResponse:
        file_id = self._uploads.get(request.match_info["upload_id"])
        if file_id is None:
            return web.Response(status=404, text="upload URL not found")
        content = await request.read()
        self.files[file_id].content = content
        return web.Response(text=f"OK - {len(content)}")

    async def _handle_response(self, request: web.Request) -> web.StreamResponse:
        binding = self._response_urls.get(request.match_info["response_id"])
        if binding is None:
            return web.Response(status=404, text="no_active_hooks")
        try:
            body = await request.json()
        except ValueError:
            return web.Response(status=400, text="invalid_payload")
        self.responses.append(ResponsePost(f"{self._root()}{request.path}", body))
        try:
            self._apply_response(body, *binding)
        except _SlackError as exc:
            return web.Response(status=400, text=exc.error)
        return web.Response(text="ok")

    def _apply_response(self, body: dict[str, Any], channel: str | None, ts: str | None) -> None:
        original = None if channel is None or ts is None else self.find(channel, ts)
        if _truthy(body.get("delete_original")):
            if original is not None:
                self.messages[original.channel].remove(original)
            return
        text, blocks = self._content(body)
        if _truthy(body.get("replace_original")) and original is not None:
            original.text, original.blocks = text, blocks
            original.edits.append(body)
        elif body.get("response_type") == "in_channel" and channel is not None:
            message = Message(
                channel=channel,
                ts=self.next_ts(),
                text=text,
                user=self.bot_user_id,
                blocks=blocks,
                thread_ts=_check_thread_ts(body.get("thread_ts")),
                bot_id=self.bot_id,
            )
            self.messages[channel].append(message)

    def _authenticate(
        self, request: web.Request, args: dict[str, Any], *, app_level: bool = False
    ) -> None:
        """Check the bot token, or for an app-level method the app-level token."""
        header = request.headers.get("Authorization", "")
        if header.startswith("Bearer "):
            token = header.removeprefix("Bearer ").strip()
        else:
            token = str(args.get("token") or "")
        if not token:
            raise _SlackError("not_authed")
        expected, other = (self.app_token, self.token) if app_level else (self.token, None)
        if token == other:
            raise _SlackError("not_allowed_token_type")
        if token != expected:
            raise _SlackError("invalid_auth")

    def _channel(self, args: dict[str, Any], key: str = "channel", *, posting: bool) -> str:
        """The channel a call names; a user id posts into the DM with that user."""
        channel = args.get(key)
        if not isinstance(channel, str) or not channel:
            raise _SlackError("channel_not_found")
        if posting and channel[0] in "UW":
            channel = f"D{channel[1:]}"
        if channel[0] not in "CGD":
            raise _SlackError("channel_not_found")
        member = self.channels_member
        if member is not None and channel[0] != "D" and channel not in member:
            raise _SlackError("not_in_channel")
        return channel

    def _message_at(self, channel: str, ts: Any) -> Message:
        if not isinstance(ts, str) or not _TS_PATTERN.fullmatch(ts):
            raise _SlackError("message_not_found")
        found = self.find(channel, ts)
        if found is None:
            raise _SlackError("message_not_found")
        return found

    def _content(self, args: dict[str, Any]) -> tuple[str, list[dict[str, Any]]]:
        """The text and blocks of a message, refused like Slack refuses them."""
        text = args.get("text") or args.get("markdown_text") or ""
        blocks = args.get("blocks", [])
        if not text and not blocks and not args.get("attachments"):
            raise _SlackError("no_text")
        _check_message_blocks(blocks)
        return str(text)[:MESSAGE_TEXT_MAX_CHARS], blocks

    def _metadata(self, args: dict[str, Any]) -> dict[str, Any] | None:
        metadata = args.get("metadata")
        if metadata is None:
            return None
        valid = (
            isinstance(metadata, dict)
            and isinstance(metadata.get("event_type"), str)
            and isinstance(metadata.get("event_payload", {}), dict)
        )
        if not valid:
            raise _SlackError("invalid_metadata_format")
        return metadata

    def _check_rate(self, channel: str) -> None:
        if not self.rate_limit_per_channel:
            return
        interval = 1.0 / self.rate_limit_per_channel
        last = self._last_post.get(channel)
        elapsed = time.monotonic() - last if last is not None else math.inf
        if elapsed < interval:
            retry_after = str(max(1, math.ceil(interval - elapsed)))
            raise _SlackError("ratelimited", status=429, headers={"Retry-After": retry_after})

    def _apps_connections_open(self, args: dict[str, Any]) -> dict[str, Any]:
        return {"url": self.socket_mode.open_url()}

    def _auth_test(self, args: dict[str, Any]) -> dict[str, Any]:
        return {
            "url": f"https://{self.team_domain}.slack.com/",
            "team": self.team_domain.capitalize(),
            "user": self.bot_name,
            "team_id": self.team_id,
            "user_id": self.bot_user_id,
            "bot_id": self.bot_id,
            "is_enterprise_install": False,
        }

    def _chat_post_message(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self._channel(args, posting=True)
        self._check_rate(channel)
        text, blocks = self._content(args)
        message = Message(
            channel=channel,
            ts=self.next_ts(),
            text=text,
            user=self.bot_user_id,
            blocks=blocks,
            thread_ts=_check_thread_ts(args.get("thread_ts")),
            metadata=self._metadata(args),
            bot_id=self.bot_id,
            attachments=args.get("attachments") or [],
        )
        self.messages[channel].append(message)
        self._last_post[channel] = time.monotonic()
        return {"channel": channel, "ts": message.ts, "message": self.api_message(message)}

    def _chat_update(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self._channel(args, posting=False)
        message = self._message_at(channel, args.get("ts"))
        if message.user != self.bot_user_id:
            raise _SlackError("cant_update_message")
        content = ("text", "markdown_text", "attachments", "file_ids")
        if "blocks" not in args and not any(args.get(key) for key in content):
            raise _SlackError("no_text")
        if "blocks" in args:
            _check_message_blocks(args["blocks"])
            message.blocks = args["blocks"]
        if "text" in args or "markdown_text" in args:
            text = args.get("text") or args.get("markdown_text") or ""
            message.text = str(text)[:MESSAGE_TEXT_MAX_CHARS]
        if "metadata" in args:
            message.metadata = self._metadata(args)
        if "attachments" in args:
            message.attachments = args["attachments"]
        message.edits.append(args)
        return {
            "channel": channel,
            "ts": message.ts,
            "text": message.text,
            "message": self.api_message(message),
        }

    def _chat_delete(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self._channel(args, posting=False)
        message = self._message_at(channel, args.get("ts"))
        if message.user != self.bot_user_id:
            raise _SlackError("cant_delete_message")
        self.messages[channel].remove(message)
        return {"channel": channel, "ts": message.ts}

    def _chat_post_ephemeral(self, args: dict[str, Any]) -> dict[str, Any]:
        self._channel(args, posting=False)
        if self.user_info(str(args.get("user") or "")) is None:
            raise _SlackError("user_not_found")
        self._content(args)
        _check_thread_ts(args.get("thread_ts"))
        self.ephemerals.append(args)
        return {"message_ts": self.next_ts()}

    def _chat_get_permalink(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self._channel(args, posting=False)
        message = self._message_at(channel, args.get("message_ts"))
        base = f"https://{self.team_domain}.slack.com/archives/{channel}"
        permalink = f"{base}/p{message.ts.replace('.', '')}"
        if message.is_reply:
            permalink += f"?thread_ts={message.thread_ts}&cid={channel}"
        return {"channel": channel, "permalink": permalink}

    def _conversations_info(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = args.get("channel")
        if not isinstance(channel, str) or not channel or channel[0] not in "CGD":
            raise _SlackError("channel_not_found")
        kind = channel[0]
        member = self.channels_member is None or kind == "D" or channel in self.channels_member
        info: dict[str, Any] = {
            "id": channel,
            "created": 1_600_000_000,
            "is_channel": kind == "C",
            "is_group": kind == "G",
            "is_im": kind == "D",
            "is_private": kind != "C",
            "is_archived": False,
            "is_member": member,
        }
        if kind != "D":
            info["name"] = info["name_normalized"] = f"channel-{channel.lower()}"
        return {"channel": info}

    def _conversations_open(self, args: dict[str, Any]) -> dict[str, Any]:
        users = str(args.get("users") or "").split(",")
        if len(users) != 1 or self.user_info(users[0]) is None:
            raise _SlackError("user_not_found")
        return {"channel": {"id": f"D{users[0][1:]}"}}

    def _conversations_replies(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self._channel(args, posting=False)
        ts = args.get("ts")
        anchor = self.find(channel, ts) if isinstance(ts, str) else None
        if anchor is None:
            raise _SlackError("thread_not_found")
        thread = self.thread(channel, anchor.thread_ts or anchor.ts)
        page, cursor = _page([self.api_message(m) for m in thread], args)
        return {
            "messages": page,
            "has_more": bool(cursor),
            "response_metadata": {"next_cursor": cursor},
        }

    def _conversations_history(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self._channel(args, posting=False)
        oldest = float(args.get("oldest") or 0)
        latest = float(args.get("latest") or math.inf)
        top = [
            m
            for m in self.messages.get(channel, [])
            if not m.is_reply and oldest < float(m.ts) <= latest
        ]
        newest_first = sorted(top, key=lambda m: float(m.ts), reverse=True)
        page, cursor = _page([self.api_message(m) for m in newest_first], args)
        return {
            "messages": page,
            "has_more": bool(cursor),
            "response_metadata": {"next_cursor": cursor},
        }

    def _reactions_add(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self._channel(args, posting=False)
        message = self._message_at(channel, args.get("timestamp"))
        name = str(args.get("name") or "")
        if not name:
            raise _SlackError("invalid_name")
        users = message.reactions.setdefault(name, [])
        if self.bot_user_id in users:
            raise _SlackError("already_reacted")
        users.append(self.bot_user_id)
        return {}

    def _users_info(self, args: dict[str, Any]) -> dict[str, Any]:
        user = self.user_info(str(args.get("user") or ""))
        if user is None:
            raise _SlackError("user_not_found")
        return {"user": user}

    def _usergroups_users_list(self, args: dict[str, Any]) -> dict[str, Any]:
        usergroup = args.get("usergroup")
        if usergroup not in self.usergroups:
            raise _SlackError("no_such_subteam")
        return {"users": list(self.usergroups[usergroup])}

    def _store_view(
        self, method: str, args: dict[str, Any], view: dict[str, Any], view_id: str | None = None
    ) -> dict[str, Any]:
        view_id = view_id or self._new_id("V")
        stored: dict[str, Any] = {
            "id": view_id,
            "team_id": self.team_id,
            "type": view["type"],
            "blocks": view.get("blocks", []),
            "private_metadata": view.get("private_metadata", ""),
            "callback_id": view.get("callback_id", ""),
            "state": {"values": {}},
            "hash": f"{int(time.time())}.{secrets.token_hex(4)}",
            "title": view.get("title"),
            "clear_on_close": bool(view.get("clear_on_close", False)),
            "notify_on_close": bool(view.get("notify_on_close", False)),
            "close": view.get("close"),
            "submit": view.get("submit"),
            "previous_view_id": None,
            "root_view_id": view_id,
            "app_id": self.app_id,
            "external_id": view.get("external_id", ""),
            "app_installed_team_id": self.team_id,
            "bot_id": self.bot_id,
        }
        self.open_views[view_id] = stored
        self.views.append({**args, "method": method, "view_id": view_id})
        return {"view": stored}

    def _views_open(self, args: dict[str, Any]) -> dict[str, Any]:
        return self._open_modal("views.open", args)

    def _views_push(self, args: dict[str, Any]) -> dict[str, Any]:
        return self._open_modal("views.push", args)

    def _open_modal(self, method: str, args: dict[str, Any]) -> dict[str, Any]:
        trigger_id = args.get("trigger_id")
        if not trigger_id:
            missing = "[ERROR] missing required field: trigger_id"
            raise _SlackError("invalid_arguments", messages=[missing])
        issued = self._trigger_ids.get(trigger_id)
        if issued is not None and time.monotonic() - issued > self.trigger_id_lifetime:
            raise _SlackError("expired_trigger_id")
        view = _check_view(args.get("view"), types=("modal",))
        return self._store_view(method, args, view)

    def _views_update(self, args: dict[str, Any]) -> dict[str, Any]:
        view_id, external_id = args.get("view_id"), args.get("external_id")
        if view_id:
            current = self.open_views.get(view_id)
        else:
            matches = (v for v in self.open_views.values() if v["external_id"] == external_id)
            current = next(matches, None) if external_id else None
        if current is None:
            raise _SlackError("not_found")
        if args.get("hash") and args["hash"] != current["hash"]:
            raise _SlackError("hash_conflict")
        view = _check_view(args.get("view"), types=(current["type"],))
        return self._store_view("views.update", args, view, current["id"])

    def _views_publish(self, args: dict[str, Any]) -> dict[str, Any]:
        user_id = str(args.get("user_id") or "")
        if self.user_info(user_id) is None:
            raise _SlackError("user_not_found")
        view = _check_view(args.get("view"), types=("home",))
        current_id = self._home_views.get(user_id)
        if current_id and args.get("hash") and args["hash"] != self.open_views[current_id]["hash"]:
            raise _SlackError("hash_conflict")
        result = self._store_view("views.publish", args, view, current_id)
        self._home_views[user_id] = result["view"]["id"]
        return result

    def _files_get_upload_url(self, args: dict[str, Any]) -> dict[str, Any]:
        filename = args.get("filename")
        try:
            length = int(args.get("length", ""))
        except ValueError:
            raise _SlackError("invalid_arguments", messages=["[ERROR] invalid length"]) from None
        if not filename:
            raise _SlackError(
                "invalid_arguments", messages=["[ERROR] missing required field: filename"]
            )
        file_id = self._new_id("F")
        upload_id = secrets.token_hex(8)
        upload_url = f"{self._root()}/upload/v1/{upload_id}"
        self.files[file_id] = UploadedFile(
            id=file_id,
            filename=str(filename),
            length=length,
            upload_url=upload_url,
            alt_txt=args.get("alt_txt"),
            snippet_type=args.get("snippet_type"),
        )
        self._uploads[upload_id] = file_id
        return {"upload_url": upload_url, "file_id": file_id}

    def _files_complete_upload(self, args: dict[str, Any]) -> dict[str, Any]:
        items = args.get("files")
        if not isinstance(items, list) or not items:
            raise _SlackError(
                "invalid_arguments", messages=["[ERROR] missing required field: files"]
            )
        uploaded: list[UploadedFile] = []
        for item in items:
            file = self.files.get(item.get("id", "")) if isinstance(item, dict) else None
            if file is None or file.content is None:
                raise _SlackError("file_not_found")
            file.title = item.get("title") or file.filename
            uploaded.append(file)

        names = [args["channel_id"]] if args.get("channel_id") else []
        names += [name for name in str(args.get("channels") or "").split(",") if name]
        channels = [self._channel({"channel": name}, posting=True) for name in names]
        thread_ts = _check_thread_ts(args.get("thread_ts"))
        for channel in channels:
            message = Message(
                channel=channel,
                ts=self.next_ts(),
                text=str(args.get("initial_comment") or ""),
                user=self.bot_user_id,
                thread_ts=thread_ts,
                bot_id=self.bot_id,
                files=list(uploaded),
            )
            self.messages[channel].append(message)
        return {"files": [file.to_api(user=self.bot_user_id) for file in uploaded]}

    def _files_upload_v1(self, args: dict[str, Any]) -> dict[str, Any]:
        raise _SlackError("method_deprecated")


class SlackSigner:
    """Signs request bodies the way Slack signs what it sends an app."""

    def __init__(self, signing_secret: str) -> None:
        self.signing_secret = signing_secret

    def signature(self, body: str, timestamp: int) -> str:
        """The X-Slack-Signature value for a body sent at timestamp."""
        base = f"v0:{timestamp}:{body}".encode()
        digest = hmac.new(self.signing_secret.encode(), base, hashlib.sha256).hexdigest()
        return f"v0={digest}"

    def sign(self, body: str, timestamp: int | None = None) -> dict[str, str]:
        """The signature headers for a body; timestamp defaults to now."""
        timestamp = int(time.time()) if timestamp is None else timestamp
        return {
            "X-Slack-Request-Timestamp": str(timestamp),
            "X-Slack-Signature": self.signature(body, timestamp),
        }


class SlackRequests:
    """Sends an app the events, interactions and slash commands Slack would, signed."""

    def __init__(
        self,
        url: str,
        signing_secret: str,
        *,
        team_id: str | None = None,
        api_app_id: str | None = None,
        slack: FakeSlack | None = None,
        bot_user_id: str = "UBOT",
        team_domain: str | None = None,
        verification_token: str = "fake-verification-token",
    ) -> None:
        self.url = url
        self.signer = SlackSigner(signing_secret)
        self.slack = slack
        # The workspace and app default to the FakeSlack's, so both sides agree.
        self.team_id = team_id or (slack.team_id if slack is not None else "T1")
        self.api_app_id = api_app_id or (slack.app_id if slack is not None else "A1")
        self.bot_user_id = slack.bot_user_id if slack is not None else bot_user_id
        self.team_domain = team_domain or (slack.team_domain if slack is not None else "example")
        self.verification_token = verification_token
        self._counter = itertools.count(1)
        self._http = httpx.AsyncClient(timeout=10.0)

    async def __aenter__(self) -> SlackRequests:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    def sign(self, body: str, timestamp: int | None = None) -> dict[str, str]:
        """X-Slack-Signature and X-Slack-Request-Timestamp for a body."""
        return self.signer.sign(body, timestamp)

    async def aclose(self) -> None:
        """Close the HTTP client."""
        await self._http.aclose()

    async def send_raw(
        self, body: str, headers: dict[str, str], content_type: str
    ) -> httpx.Response:
        """POST a body with exactly the given headers, for tampered and unsigned requests."""
        return await self._http.post(
            self.url, content=body.encode(), headers={**headers, "Content-Type": content_type}
        )

    async def block_action(self, **fields: Any) -> httpx.Response:
        """A button click, POSTed; `fields` are those of `block_action_payload`."""
        return await self._post_payload(self.block_action_payload(**fields))

    def block_action_payload(
        self,
        *,
        user: str,
        action_id: str,
        value: str,
        channel: str | None = None,
        message_ts: str | None = None,
        block_id: str | None = None,
        trigger_id: str | None = None,
        container: str = "message",
        view: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """A button click on a message, or on a view when container is "view"."""
        payload = self._interaction("block_actions", user, trigger_id)
        if container == "view":
            payload["view"] = view = self._container_view(user, view)
            payload["container"] = {"type": "view", "view_id": view["id"]}
            payload["state"] = view["state"]
            blocks = view.get("blocks", [])
        elif container == "message":
            if channel is None or message_ts is None:
                raise ValueError("a message block action needs channel and message_ts")
            payload.update(self._message_container(channel, message_ts))
            blocks = payload["message"].get("blocks", [])
        else:
            raise ValueError(f"container must be 'message' or 'view', not {container!r}")
        button = _find_element(blocks, action_id, block_id)
        payload["actions"] = [
            {
                "type": "button",
                "action_id": action_id,
                "block_id": button.get("block_id") or block_id or secrets.token_urlsafe(4),
                "text": button.get("text") or {"type": "plain_text", "text": action_id},
                "value": value,
                "action_ts": f"{time.time():.6f}",
            }
        ]
        return payload

    async def view_submission(self, **fields: Any) -> httpx.Response:
        """A modal submitted, POSTed; `fields` are those of `view_submission_payload`."""
        return await self._post_payload(self.view_submission_payload(**fields))

    def view_submission_payload(
        self,
        *,
        user: str,
        values: dict[str, dict[str, Any]],
        callback_id: str | None = None,
        private_metadata: str | None = None,
        view_id: str | None = None,
        trigger_id: str | None = None,
    ) -> dict[str, Any]:
        """A modal submitted; a plain string value stands for a plain_text_input's value."""
        view = dict(self._submitted_view(view_id))
        if callback_id is not None:
            view["callback_id"] = callback_id
        if private_metadata is not None:
            view["private_metadata"] = private_metadata
        if not view.get("callback_id"):
            raise ValueError("view_submission needs a callback_id or a view opened on the fake")
        view["state"] = {"values": _state_values(values)}
        payload = self._interaction("view_submission", user, trigger_id)
        payload["view"] = view
        payload["response_urls"] = []
        return payload

    async def event(
        self,
        event: dict[str, Any],
        *,
        event_id: str | None = None,
        retry_num: int | None = None,
        retry_reason: str | None = None,
    ) -> httpx.Response:
        """An Events API event_callback; retry_num adds Slack's retry headers."""
        envelope = {
            "token": self.verification_token,
            "team_id": self.team_id,
            "context_team_id": self.team_id,
            "context_enterprise_id": None,
            "api_app_id": self.api_app_id,
            "event": event,
            "type": "event_callback",
            "event_id": event_id or f"Ev{secrets.token_hex(5).upper()}",
            "event_time": int(time.time()),
            "authorizations": [
                {
                    "enterprise_id": None,
                    "team_id": self.team_id,
                    "user_id": self.bot_user_id,
                    "is_bot": True,
                    "is_enterprise_install": False,
                }
            ],
            "is_ext_shared_channel": False,
            "event_context": f"4-{secrets.token_urlsafe(24)}",
        }
        headers: dict[str, str] = {}
        if retry_num is not None:
            headers["X-Slack-Retry-Num"] = str(retry_num)
            headers["X-Slack-Retry-Reason"] = retry_reason or "http_timeout"
        return await self._post(json.dumps(envelope), "application/json", headers)

    async def message(
        self,
        *,
        user: str,
        channel: str,
        text: str,
        thread_ts: str | None = None,
        ts: str | None = None,
        bot_id: str | None = None,
        subtype: str | None = None,
        event_id: str | None = None,
        retry_num: int | None = None,
        retry_reason: str | None = None,
        **extra: Any,
    ) -> httpx.Response:
        """A message event; with a FakeSlack, the message is also stored in its channel."""
        ts = ts or self._next_ts()
        event: dict[str, Any] = {
            "type": "message",
            "user": user,
            "text": text,
            "ts": ts,
            "event_ts": ts,
            "channel": channel,
            "channel_type": {"C": "channel", "G": "group", "D": "im"}.get(channel[:1], "channel"),
            "team": self.team_id,
            "blocks": [_rich_text(text)],
        }
        if bot_id is None:
            event["client_msg_id"] = str(uuid.uuid4())
        else:
            own = self.slack is not None and bot_id == self.slack.bot_id
            event["bot_id"] = bot_id
            event["app_id"] = self.api_app_id if own else f"A{bot_id[1:]}"
        if thread_ts is not None:
            event["thread_ts"] = thread_ts
            parent = self.slack.find(channel, thread_ts) if self.slack is not None else None
            event["parent_user_id"] = parent.user if parent is not None else user
        if subtype is not None:
            event["subtype"] = subtype
        for key, value in extra.items():
            if value is None:
                event.pop(key, None)
            else:
                event[key] = value
        posted = subtype in (None, "bot_message", "thread_broadcast", "file_share")
        if self.slack is not None and posted and self.slack.find(channel, ts) is None:
            self.slack.add_message(
                channel, text, user=user, ts=ts, thread_ts=thread_ts, bot_id=bot_id, subtype=subtype
            )
        return await self.event(
            event, event_id=event_id, retry_num=retry_num, retry_reason=retry_reason
        )

    async def command(
        self,
        *,
        user: str,
        channel: str,
        text: str,
        command: str = "/crew",
        response_url: str | None = None,
        trigger_id: str | None = None,
    ) -> httpx.Response:
        """A slash command, form-encoded, with a response_url on the FakeSlack when there is one."""
        if response_url is None:
            response_url = self._response_url(channel, None, kind="commands")
        fields = {
            "token": self.verification_token,
            "team_id": self.team_id,
            "team_domain": self.team_domain,
            "channel_id": channel,
            "channel_name": f"channel-{channel.lower()}",
            "user_id": user,
            "user_name": self._user_name(user),
            "command": command,
            "text": text,
            "api_app_id": self.api_app_id,
            "is_enterprise_install": "false",
            "response_url": response_url,
            "trigger_id": trigger_id or self._trigger_id(),
        }
        return await self._post(urlencode(fields), "application/x-www-form-urlencoded")

    async def _post(
        self, body: str, content_type: str, headers: dict[str, str] | None = None
    ) -> httpx.Response:
        signed = {
            **self.sign(body),
            **(headers or {}),
            "User-Agent": "Slackbot 1.0 (+https://api.slack.com/robots)",
        }
        return await self.send_raw(body, signed, content_type)

    async def _post_payload(self, payload: dict[str, Any]) -> httpx.Response:
        body = urlencode({"payload": json.dumps(payload, separators=(",", ":"))})
        return await self._post(body, "application/x-www-form-urlencoded")

    def _next_ts(self) -> str:
        if self.slack is not None:
            return self.slack.next_ts()
        return f"{1_700_100_000 + next(self._counter)}.000100"

    def _trigger_id(self) -> str:
        if self.slack is not None:
            return self.slack.issue_trigger_id()
        return f"{next(self._counter)}{int(time.time())}.{self.team_id}.{secrets.token_hex(16)}"

    def _response_url(self, channel: str, ts: str | None, *, kind: str) -> str:
        if self.slack is not None:
            return self.slack.response_url(channel=channel, ts=ts)
        path = f"{self.team_id}/{next(self._counter)}/{secrets.token_hex(12)}"
        return f"https://hooks.slack.com/{kind}/{path}"

    def _user_name(self, user: str) -> str:
        known = self.slack.user_info(user) if self.slack is not None else None
        return str(known["name"]) if known is not None else user.lower()

    def _interaction(self, kind: str, user: str, trigger_id: str | None) -> dict[str, Any]:
        name = self._user_name(user)
        return {
            "type": kind,
            "user": {"id": user, "username": name, "name": name, "team_id": self.team_id},
            "api_app_id": self.api_app_id,
            "token": self.verification_token,
            "trigger_id": trigger_id or self._trigger_id(),
            "team": {"id": self.team_id, "domain": self.team_domain},
            "enterprise": None,
            "is_enterprise_install": False,
        }

    def _message_container(self, channel: str, message_ts: str) -> dict[str, Any]:
        stored = self.slack.find(channel, message_ts) if self.slack is not None else None
        if stored is not None and self.slack is not None:
            message = self.slack.api_message(stored)
        else:
            message = {"type": "message", "user": self.bot_user_id, "ts": message_ts, "text": ""}
        container: dict[str, Any] = {
            "type": "message",
            "message_ts": message_ts,
            "channel_id": channel,
            "is_ephemeral": False,
        }
        if stored is not None and stored.is_reply:
            container["thread_ts"] = stored.thread_ts
        return {
            "container": container,
            "channel": {"id": channel, "name": f"channel-{channel.lower()}"},
            "message": message,
            "state": {"values": {}},
            "response_url": self._response_url(channel, message_ts, kind="actions"),
        }

    def _container_view(self, user: str, view: dict[str, Any] | None) -> dict[str, Any]:
        if view is None and self.slack is not None:
            view = self.slack.home_view(user)
        if view is None:
            raise ValueError(
                "a view block action needs a view, or a Home tab published on the fake"
            )
        return {"state": {"values": {}}, "hash": "", **view}

    def _submitted_view(self, view_id: str | None) -> dict[str, Any]:
        if self.slack is not None:
            if view_id is not None and view_id in self.slack.open_views:
                return self.slack.view(view_id)
            opened = [v for v in self.slack.views if v["method"] in ("views.open", "views.push")]
            if view_id is None and opened:
                return self.slack.view(opened[-1]["view_id"])
        view_id = view_id or f"V{secrets.token_hex(5).upper()}"
        return {
            "id": view_id,
            "team_id": self.team_id,
            "type": "modal",
            "blocks": [],
            "private_metadata": "",
            "callback_id": "",
            "hash": f"{int(time.time())}.{secrets.token_hex(4)}",
            "title": {"type": "plain_text", "text": "Review"},
            "root_view_id": view_id,
            "previous_view_id": None,
            "app_id": self.api_app_id,
            "app_installed_team_id": self.team_id,
            "bot_id": "B" + self.bot_user_id[1:],
        }


def _find_element(
    blocks: list[dict[str, Any]], action_id: str, block_id: str | None
) -> dict[str, Any]:
    """The element with action_id and its block's block_id, or {} when the blocks lack it."""
    for block in blocks:
        elements = list(block.get("elements") or [])
        if block.get("accessory") is not None:
            elements.append(block["accessory"])
        in_block = block_id is None or block.get("block_id") == block_id
        for element in elements:
            if in_block and isinstance(element, dict) and element.get("action_id") == action_id:
                return {**element, "block_id": block.get("block_id")}
    return {}


def _state_values(values: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """state.values, with plain strings taken as plain_text_input values."""
    return {
        block_id: {
            action_id: (
                {"type": "plain_text_input", "value": value} if isinstance(value, str) else value
            )
            for action_id, value in actions.items()
        }
        for block_id, actions in values.items()
    }


def _rich_text(text: str) -> dict[str, Any]:
    """The rich_text block Slack adds to a message a person typed."""
    section = {"type": "rich_text_section", "elements": [{"type": "text", "text": text}]}
    return {"type": "rich_text", "block_id": secrets.token_urlsafe(4), "elements": [section]}
