"""Lenient parsing of what AMP sends: human-input notifications and the legacy webhooks.

AMP has not published the field names of its human-input notification, so each field is
looked up under every name it is known or likely to have, at the top level and in a nested
`data`, `task` or `payload` object. The whole payload is always kept as it arrived.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

EXECUTION_KEYS = ("execution_id", "kickoff_id", "executionId", "kickoffId")
TASK_KEYS = ("task_id", "taskId", "task_key", "taskKey")
OUTPUT_KEYS = ("output", "task_output", "taskOutput", "result", "raw")
TASK_NAME_KEYS = ("task_name", "taskName", "name", "description")
CREW_NAME_KEYS = ("crew_name", "crewName", "crew")
_NESTED = ("data", "task", "payload")


class PayloadError(ValueError):
    """A payload the bot cannot use; the message says what is wrong, for the sender."""

    def __init__(self, error: str, message: str) -> None:
        super().__init__(message)
        self.error = error
        self.message = message


@dataclass(frozen=True)
class Notification:
    """A task that waits for a human: which execution and task, and the output to review."""

    execution_id: str
    task_id: str
    output: str
    task_name: str | None
    crew_name: str | None
    raw: dict[str, Any]

    @property
    def output_hash(self) -> str:
        return hashlib.sha256(self.output.encode()).hexdigest()


@dataclass(frozen=True)
class CrewResult:
    """The crew webhook: an execution finished, with its final result."""

    execution_id: str | None
    result: str
    raw: dict[str, Any]


def parse_json_object(body: bytes) -> dict[str, Any]:
    """The body as a JSON object, or `PayloadError` saying why it is not one."""
    try:
        value = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise PayloadError("invalid_json", f"The body is not valid JSON: {exc}") from None
    except RecursionError:
        raise PayloadError("invalid_json", "The body's JSON is nested too deeply.") from None
    if not isinstance(value, dict):
        raise PayloadError("invalid_json", "The body must be a JSON object.")
    return value


def parse_notification(payload: dict[str, Any], *, execution_id: str | None = None) -> Notification:
    """Read a human-input notification; `execution_id` fills in when the body has none."""
    found_execution = _text(payload, EXECUTION_KEYS) or execution_id
    if not found_execution:
        raise PayloadError(
            "missing_execution_id",
            "The notification has no execution id (looked for: " + ", ".join(EXECUTION_KEYS) + ").",
        )
    task_id = _text(payload, TASK_KEYS)
    if not task_id:
        raise PayloadError(
            "missing_task_id",
            "The notification has no task id (looked for: " + ", ".join(TASK_KEYS) + ").",
        )
    output = _output(payload)
    if output is None:
        raise PayloadError(
            "missing_output",
            "The notification has no task output (looked for: " + ", ".join(OUTPUT_KEYS) + ").",
        )
    return Notification(
        execution_id=found_execution,
        task_id=task_id,
        output=output,
        task_name=_text(payload, TASK_NAME_KEYS),
        crew_name=_text(payload, CREW_NAME_KEYS),
        raw=payload,
    )


def parse_crew_result(payload: dict[str, Any]) -> CrewResult:
    """Read the crew webhook; a missing result is kept as an empty text."""
    result = _output(payload, keys=("result", "output", "raw"))
    if result is None and isinstance(payload.get("result_json"), dict | list):
        result = json.dumps(payload["result_json"], indent=2, ensure_ascii=False)
    return CrewResult(execution_id=_text(payload, EXECUTION_KEYS), result=result or "", raw=payload)


def execution_id_of(payload: dict[str, Any]) -> str | None:
    """The execution id of any AMP payload, if it has one."""
    return _text(payload, EXECUTION_KEYS)


def _scopes(payload: dict[str, Any]) -> list[dict[str, Any]]:
    nested = [payload[key] for key in _NESTED if isinstance(payload.get(key), dict)]
    return [payload, *nested]


def _text(payload: dict[str, Any], keys: tuple[str, ...]) -> str | None:
    for scope in _scopes(payload):
        for key in keys:
            value = scope.get(key)
            if isinstance(value, str) and value.strip():
                return value.strip()
            if isinstance(value, int) and not isinstance(value, bool):
                return str(value)
    return None


def _output(payload: dict[str, Any], keys: tuple[str, ...] = OUTPUT_KEYS) -> str | None:
    """The output as text: a string as it is, an object with its own `raw` text, else JSON."""
    for scope in _scopes(payload):
        for key in keys:
            if key not in scope or scope[key] is None:
                continue
            value = scope[key]
            if isinstance(value, str):
                return value
            if isinstance(value, dict):
                raw = value.get("raw") or value.get("output")
                if isinstance(raw, str):
                    return raw
            return json.dumps(value, indent=2, ensure_ascii=False)
    return None
