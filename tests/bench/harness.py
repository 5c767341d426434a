"""What the benchmark runs: the fakes in its own process, the servers as processes of their own.

The fake Slack and the AMP simulator are served on loopback in the benchmark's process, with
a middleware that notes when each request arrived on the monotonic clock, which Linux shares
between processes; the bot (`python -m bot`) and the bare Bolt app run as child processes,
so their start time and memory are their own.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from aiohttp import web
from aiohttp.typedefs import Handler

from bot.records import WebhookUrls
from bot.simulator import PENDING_HUMAN_INPUT, CrewSimulator, SimExecution
from bot.store import NewReview, Store
from tests.bench.load import Request
from tests.conftest import (
    AMP_TOKEN,
    API_TOKEN,
    BOT_TOKEN,
    CHANNEL,
    SIGNING_SECRET,
    WEBHOOK_TOKEN,
    free_socket,
    serve,
)
from tests.fakes.slack import FakeSlack, SlackRequests

ROOT = Path(__file__).resolve().parents[2]
TASK_ID = "research_task"
TASK_NAME = "Industry Research Task"
CREW_NAME = "Research Crew"
OUTPUT = "\n".join(
    [
        "## Findings on AI agents",
        *(
            f"{n}. **Finding {n}**: agents that plan, call tools and check their own work"
            " keep getting cheaper to run; see the sources in the appendix."
            for n in range(1, 11)
        ),
        "",
        "_Sources: vendor reports, benchmark papers and interviews._",
    ]
)


@dataclass(frozen=True)
class Arrival:
    """A request a fake received: when, on which path, and the status it answered."""

    at: float
    path: str
    status: int


@dataclass
class Fakes:
    """The fake Slack and the AMP simulator on loopback, with the arrival time of each request."""

    slack: FakeSlack = field(default_factory=lambda: FakeSlack(token=BOT_TOKEN))
    sim: CrewSimulator = field(default_factory=lambda: CrewSimulator(token=AMP_TOKEN))
    slack_arrivals: list[Arrival] = field(default_factory=list)
    resumes: dict[str, float] = field(default_factory=dict)
    amp_url: str = ""
    _amp_runner: web.AppRunner | None = None

    async def start(self) -> None:
        self.slack.web_app().middlewares.append(self._slack_clock)
        await self.slack.start()
        amp = self.sim.web_app()
        amp.middlewares.append(self._amp_clock)
        self._amp_runner, self.amp_url = await serve(amp)

    async def stop(self) -> None:
        await self.slack.stop()
        if self._amp_runner is not None:
            await self._amp_runner.cleanup()

    def pending_execution(self, execution_id: str) -> None:
        """An execution the simulator holds as waiting for a decision on its first task."""
        self.sim.executions[execution_id] = SimExecution(
            kickoff_id=execution_id,
            inputs={"topic": "AI agents"},
            state=PENDING_HUMAN_INPUT,
            current_output=OUTPUT,
        )

    def slack_calls(self, since: float, *paths: str) -> list[Arrival]:
        """The fake Slack's requests on any of `paths` that arrived after `since`."""
        return [a for a in self.slack_arrivals if a.at >= since and a.path in paths]

    @web.middleware
    async def _slack_clock(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        arrived = time.monotonic()
        response = await handler(request)
        self.slack_arrivals.append(Arrival(arrived, request.path, response.status))
        return response

    @web.middleware
    async def _amp_clock(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        arrived = time.monotonic()
        if request.path == "/resume":
            with contextlib.suppress(ValueError, AttributeError):
                body = json.loads(await request.read())
                self.resumes.setdefault(str(body.get("execution_id")), arrived)
        return await handler(request)


class Presigner(SlackRequests):
    """Builds and signs the requests Slack would send, and keeps them instead of sending them."""

    def __init__(self, slack: FakeSlack) -> None:
        # Nothing is sent to this URL; each request is kept for the load generator instead.
        super().__init__("http://127.0.0.1/slack/events", SIGNING_SECRET, slack=slack)
        self.kept: list[Request] = []

    async def send_raw(
        self, body: str, headers: dict[str, str], content_type: str
    ) -> httpx.Response:
        prepared = {**headers, "Content-Type": content_type}
        self.kept.append(Request("/slack/events", body.encode(), prepared))
        return httpx.Response(200)

    def take(self) -> Request:
        """The request built last."""
        return self.kept.pop()


def notification(execution_id: str) -> dict[str, Any]:
    """A human-input notification as AMP sends it for the research task."""
    return {
        "execution_id": execution_id,
        "task_id": TASK_ID,
        "task_name": TASK_NAME,
        "output": OUTPUT,
        "crew_name": CREW_NAME,
        "attempt": 1,
    }


def notification_request(execution_id: str) -> Request:
    """A notification of one execution, sent with the shared webhook token."""
    headers = {"Authorization": f"Bearer {WEBHOOK_TOKEN}", "Content-Type": "application/json"}
    return Request("/amp/human-input", json.dumps(notification(execution_id)).encode(), headers)


def free_port() -> int:
    sock = free_socket()
    port = int(sock.getsockname()[1])
    sock.close()
    return port


class Server:
    """A server in a child process of its own, on a loopback port, with its log in a file."""

    def __init__(
        self,
        name: str,
        args: list[str],
        env: dict[str, str],
        workdir: Path,
        profile_dir: Path | None = None,
    ) -> None:
        self.name = name
        self.profile_dir = profile_dir
        self.args = args
        self.env = env
        self.workdir = workdir
        self.log = workdir / f"{name}.log"
        self.port = int(env["BOT_PORT"])
        self.url = f"http://127.0.0.1:{self.port}"
        self.started = 0.0
        self._process: asyncio.subprocess.Process | None = None
        self._spy: asyncio.subprocess.Process | None = None

    async def start(self, within: float = 15.0) -> float:
        """Start the process and return the seconds until its `GET /healthz` answered 200."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("SLACK_CLIENT_")}
        env.update(self.env)
        env["PYTHONPATH"] = str(ROOT)
        with self.log.open("ab") as log:
            self.started = time.monotonic()
            self._process = process = await asyncio.create_subprocess_exec(
                sys.executable,
                *self.args,
                cwd=self.workdir,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
            )
        async with httpx.AsyncClient(timeout=1.0) as client:
            while time.monotonic() - self.started < within:
                if process.returncode is not None:
                    raise RuntimeError(f"{self.name} exited at start:\n{self.tail()}")
                with contextlib.suppress(httpx.TransportError):
                    answer = await client.get(self.url + "/healthz")
                    if answer.status_code == 200:
                        took = time.monotonic() - self.started
                        await self._profile()
                        return took
                await asyncio.sleep(0.005)
        raise RuntimeError(f"{self.name} did not become healthy in {within:g} s:\n{self.tail()}")

    async def _profile(self) -> None:
        """With a profile directory, record a py-spy flame graph of the process until it ends."""
        if self.profile_dir is None or self._process is None:
            return
        svg = self.profile_dir / f"{self.name}.svg"
        pid = str(self._process.pid)
        self._spy = await asyncio.create_subprocess_exec(
            *("py-spy", "record", "--gil", "--rate", "250", "-o", str(svg), "--pid", pid),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def cpu_seconds(self) -> float:
        """The CPU time the process used so far, user and system."""
        assert self._process is not None
        fields = Path(f"/proc/{self._process.pid}/stat").read_text().rpartition(")")[2].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def peak_rss(self) -> int:
        """The process's peak resident set size (VmHWM), in bytes."""
        assert self._process is not None
        status = Path(f"/proc/{self._process.pid}/status").read_text()
        line = next(line for line in status.splitlines() if line.startswith("VmHWM:"))
        return int(line.split()[1]) * 1024

    async def stop(self, grace: float = 10.0) -> None:
        """SIGTERM, as an operator stops the bot; killed after `grace` seconds."""
        process, self._process = self._process, None
        if process is not None and process.returncode is None:
            process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(process.wait(), grace)
            except TimeoutError:
                process.kill()
                await process.wait()
        spy, self._spy = self._spy, None
        if spy is not None:
            try:
                await asyncio.wait_for(spy.wait(), grace)
            except TimeoutError:
                spy.kill()
                await spy.wait()

    def tail(self, lines: int = 20) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return "\n".join(text.splitlines()[-lines:])


@dataclass(frozen=True)
class Workplace:
    """Where a run keeps its databases and logs, and where it writes flame graphs if asked."""

    workdir: Path
    profile_dir: Path | None = None


def bot_server(fakes: Fakes, place: Workplace, name: str) -> Server:
    """The bot itself, `python -m bot`, configured by its environment as in production."""
    workdir = place.workdir
    port = free_port()
    env = {
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": fakes.slack.base_url,
        "SLACK_REVIEW_CHANNEL": CHANNEL,
        "CREWAI_URL": fakes.amp_url,
        "CREWAI_TOKEN": AMP_TOKEN,
        "BOT_PUBLIC_URL": f"http://127.0.0.1:{port}",
        "BOT_API_TOKEN": API_TOKEN,
        "BOT_WEBHOOK_TOKEN": WEBHOOK_TOKEN,
        "BOT_DATABASE": str(workdir / f"{name}.db"),
        "BOT_HOST": "127.0.0.1",
        "BOT_PORT": str(port),
        "BOT_LOG_LEVEL": "INFO",
    }
    return Server(name, ["-m", "bot"], env, workdir, place.profile_dir)


def bare_server(fakes: Fakes, workdir: Path) -> Server:
    """The bare Bolt app that only acks, served the same way as the bot."""
    port = free_port()
    env = {
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "BOT_PORT": str(port),
        "BOT_LOG_LEVEL": "INFO",
    }
    args = ["-m", "tests.bench.bare", "--port", str(port), "--slack-url", fakes.slack.base_url]
    return Server("bare", args, env, workdir)


async def seed_pending(path: Path, count: int) -> None:
    """A database holding `count` pending reviews, each posted, of as many executions.

    One execution and its review are stored through the bot's own store; the rest are copies
    of those rows with new ids, written in one transaction, so the copies have every column
    the store would have filled.
    """
    store = await Store.open(path)
    try:
        execution = await store.create_execution(
            channel=CHANNEL,
            source="webhook",
            execution_id="seed-0",
            state="pending_review",
            crew_name=CREW_NAME,
            webhooks=WebhookUrls(),
        )
        added = await store.add_review(
            NewReview(
                execution_ref=execution.ref,
                task_id=TASK_ID,
                output=OUTPUT,
                output_hash="seed",
                payload=notification("seed-0"),
                task_name=TASK_NAME,
            )
        )
        await store.set_message(
            added.review.id, channel=CHANNEL, ts="1700000000.000100", thread_ts="1700000000.000100"
        )
    finally:
        await store.close()
    await asyncio.to_thread(_copy_rows, path, execution.ref, added.review.id, count - 1)


def _copy_rows(path: Path, ref: str, review_id: str, copies: int) -> None:
    db = sqlite3.connect(path)
    db.row_factory = sqlite3.Row
    try:
        execution = dict(db.execute("SELECT * FROM executions WHERE ref = ?", (ref,)).fetchone())
        review = dict(db.execute("SELECT * FROM reviews WHERE id = ?", (review_id,)).fetchone())
        now = time.time()

        def executions(n: int) -> dict[str, Any]:
            return {**execution, "ref": f"seed-ref-{n}", "execution_id": f"seed-{n}"}

        def reviews(n: int) -> dict[str, Any]:
            ts = f"{1_700_000_001 + n}.000100"
            return {
                **review,
                "id": f"seed-review-{n}",
                "execution_ref": f"seed-ref-{n}",
                "message_ts": ts,
                "thread_ts": ts,
                "created_at": now - copies + n,
                "updated_at": now - copies + n,
            }

        with db:
            _insert(db, "executions", [executions(n) for n in range(1, copies + 1)])
            _insert(db, "reviews", [reviews(n) for n in range(1, copies + 1)])
    finally:
        db.close()


def _insert(db: sqlite3.Connection, table: str, rows: list[dict[str, Any]]) -> None:
    columns = list(rows[0])
    names = ", ".join(columns)
    marks = ", ".join("?" * len(columns))
    db.executemany(
        f"INSERT INTO {table} ({names}) VALUES ({marks})",
        [tuple(row[c] for c in columns) for row in rows],
    )


async def wait_until(predicate: Callable[[], bool], within: float, what: str) -> None:
    """Poll `predicate` every 5 ms; TimeoutError naming `what` after `within` seconds."""
    deadline = time.monotonic() + within
    while True:
        if predicate():
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: still not true after {within:g} s")
        await asyncio.sleep(0.005)
