"""Starting and stopping the bot as a process: settings errors, health, SIGTERM."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import (
    AMP_TOKEN,
    API_TOKEN,
    BOT_TOKEN,
    CHANNEL,
    SIGNING_SECRET,
    WEBHOOK_TOKEN,
    free_socket,
)

SETTINGS = ("SLACK_", "CREWAI_", "BOT_")


def clean_env(**values: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(SETTINGS)}
    env.update(values)
    return env


def full_env(tmp_path: Path, port: int) -> dict[str, str]:
    return clean_env(
        SLACK_BOT_TOKEN=BOT_TOKEN,
        SLACK_SIGNING_SECRET=SIGNING_SECRET,
        SLACK_API_URL="http://127.0.0.1:9/api/",
        SLACK_REVIEW_CHANNEL=CHANNEL,
        CREWAI_URL="http://127.0.0.1:9",
        CREWAI_TOKEN=AMP_TOKEN,
        BOT_PUBLIC_URL="https://bot.example.com",
        BOT_API_TOKEN=API_TOKEN,
        BOT_WEBHOOK_TOKEN=WEBHOOK_TOKEN,
        BOT_DATABASE=str(tmp_path / "bot.db"),
        BOT_HOST="127.0.0.1",
        BOT_PORT=str(port),
    )


def run_bot(env: dict[str, str], cwd: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "bot"],
        env=env,
        cwd=cwd,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


@pytest.fixture
def port() -> Iterator[int]:
    sock = free_socket()
    number = int(sock.getsockname()[1])
    sock.close()
    yield number


def start_and_exit(env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run `python -m bot` that is expected to stop at its start, and what it printed."""
    return subprocess.run(
        [sys.executable, "-m", "bot"], env=env, cwd=cwd, capture_output=True, text=True, timeout=30
    )


def test_missing_and_malformed_settings_stop_the_start_with_one_line(tmp_path: Path) -> None:
    env = clean_env(
        SLACK_BOT_TOKEN="not-a-bot-token", CREWAI_URL="crew.example.com", BOT_PORT="70000"
    )
    done = start_and_exit(env, tmp_path)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    for name in (
        "SLACK_BOT_TOKEN",
        "SLACK_SIGNING_SECRET",
        "SLACK_REVIEW_CHANNEL",
        "CREWAI_URL",
        "CREWAI_TOKEN",
        "BOT_PUBLIC_URL",
        "BOT_API_TOKEN",
        "BOT_PORT",
    ):
        assert name in lines[0]
    assert "not-a-bot-token" not in done.stderr
    assert "Traceback" not in done.stderr


def test_a_database_that_cannot_be_opened_stops_the_start_with_one_line(
    tmp_path: Path, port: int
) -> None:
    (tmp_path / "a-file").write_text("not a folder")
    env = full_env(tmp_path, port)
    env["BOT_DATABASE"] = str(tmp_path / "a-file" / "bot.db")
    done = start_and_exit(env, tmp_path)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines()[-1].startswith("bot: cannot open BOT_DATABASE")
    assert "Traceback" not in done.stderr


def test_settings_are_read_from_a_dotenv_file(tmp_path: Path, port: int) -> None:
    env = full_env(tmp_path, port)
    (tmp_path / ".env").write_text(f"SLACK_REVIEW_CHANNEL={env.pop('SLACK_REVIEW_CHANNEL')}\n")
    process = run_bot(env, tmp_path)
    try:
        wait_healthy(port)
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=10)


def wait_healthy(port: int, timeout: float = 15.0) -> httpx.Response:
    deadline = time.monotonic() + timeout
    while True:
        try:
            response = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
            if response.status_code == 200:
                return response
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise TimeoutError("the bot did not become healthy")
        time.sleep(0.05)


def test_sigterm_exits_zero_quickly_and_keeps_accepted_work(tmp_path: Path, port: int) -> None:
    process = run_bot(full_env(tmp_path, port), tmp_path)
    try:
        wait_healthy(port)
        accepted = httpx.post(
            f"http://127.0.0.1:{port}/amp/human-input",
            json={"execution_id": "ex-1", "task_id": "t", "output": "o"},
            headers={"Authorization": f"Bearer {WEBHOOK_TOKEN}"},
        )
        assert accepted.status_code == 200
        started = time.monotonic()
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
        assert time.monotonic() - started < 10
    finally:
        if process.poll() is None:
            process.kill()
    _, stderr = process.communicate()
    assert "Traceback" not in stderr
    for secret in (BOT_TOKEN, SIGNING_SECRET, AMP_TOKEN, API_TOKEN, WEBHOOK_TOKEN):
        assert secret not in stderr

    with sqlite3.connect(tmp_path / "bot.db") as db:
        kept = db.execute("SELECT COUNT(*) FROM jobs WHERE kind = 'post_review'").fetchone()[0]
    assert kept == 1


def test_help_lists_the_commands() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bot", "--help"], capture_output=True, text=True, timeout=30
    )
    assert done.returncode == 0
    assert "serve" in done.stdout and "simulate" in done.stdout
