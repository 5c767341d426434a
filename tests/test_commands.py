"""The command line: each command's help, `manifest`, and the log format of `serve`."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from bot.__main__ import main
from bot.manifest import PLACEHOLDER
from tests.conftest import free_socket
from tests.test_cli import full_env, run_bot, wait_healthy

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("command", ["serve", "simulate", "check", "manifest"])
def test_each_command_has_its_own_help(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main([command, "--help"])

    assert exited.value.code == 0
    assert capsys.readouterr().out.startswith(f"usage: python -m bot {command}")


def test_manifest_fills_in_the_request_urls(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["manifest", "--url", "https://review.example.org/"]) == 0

    printed = capsys.readouterr().out
    template = (ROOT / "manifest.yml").read_text().splitlines()
    urls = sum(line.count(PLACEHOLDER) for line in template if not line.startswith("#"))
    assert printed.count("https://review.example.org/slack/events") == urls > 0
    assert PLACEHOLDER not in printed
    assert "socket_mode_enabled: false" in printed
    assert printed.startswith("# Slack app manifest for https://review.example.org (HTTP mode)")


def test_manifest_for_socket_mode_flips_the_one_key(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["manifest", "--url", "https://review.example.org", "--socket-mode"]) == 0

    printed = capsys.readouterr().out
    http = (ROOT / "manifest.yml").read_text().replace(PLACEHOLDER, "https://review.example.org")
    changed = set(printed.splitlines()) ^ set(http.splitlines())
    assert {line.strip() for line in changed if not line.startswith("#")} == {
        "socket_mode_enabled: true",
        "socket_mode_enabled: false",
    }


def test_manifest_refuses_a_url_slack_cannot_call(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["manifest", "--url", "http://review.example.org"]) == 2
    assert "not an https URL" in capsys.readouterr().err


def test_serve_writes_json_lines_when_asked(tmp_path: Path) -> None:
    sock = free_socket()
    port = int(sock.getsockname()[1])
    sock.close()
    env = {**full_env(tmp_path, port), "BOT_LOG_FORMAT": "json", "BOT_LOG_LEVEL": "INFO"}
    process = run_bot(env, tmp_path)
    try:
        wait_healthy(port)
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
    finally:
        if process.poll() is None:
            process.kill()
    _, stderr = process.communicate()

    lines = [json.loads(line) for line in stderr.strip().splitlines()]
    messages = [line["message"] for line in lines]
    assert any(message.startswith("Bot started") for message in messages)
    assert messages[-1] == "Bot stopped"
    assert {line["level"] for line in lines} <= {"INFO", "WARNING"}


def test_a_database_of_a_newer_version_stops_the_start(tmp_path: Path) -> None:
    with sqlite3.connect(tmp_path / "bot.db") as db:
        db.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
        db.execute("INSERT INTO schema_version VALUES (999)")
    sock = free_socket()
    port = int(sock.getsockname()[1])
    sock.close()

    done = subprocess.run(
        [sys.executable, "-m", "bot"],
        env=full_env(tmp_path, port),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=30,
    )

    assert done.returncode == 2
    assert "schema version 999, newer than this bot" in done.stderr
    assert "Traceback" not in done.stderr
