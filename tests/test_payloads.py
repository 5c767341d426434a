"""Lenient parsing of AMP's human-input notification and crew webhook."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.payloads import (
    CREW_NAME_KEYS,
    EXECUTION_KEYS,
    OUTPUT_KEYS,
    TASK_KEYS,
    TASK_NAME_KEYS,
    PayloadError,
    parse_crew_result,
    parse_json_object,
    parse_notification,
)


@pytest.mark.parametrize("execution_key", ["execution_id", "kickoff_id", "executionId"])
@pytest.mark.parametrize("task_key", ["task_id", "taskId"])
@pytest.mark.parametrize("output_key", ["output", "task_output", "result", "raw"])
def test_every_alias_is_read(execution_key: str, task_key: str, output_key: str) -> None:
    payload = {execution_key: "ex-1", task_key: "research_task", output_key: "# Findings"}
    notification = parse_notification(payload)
    assert notification.execution_id == "ex-1"
    assert notification.task_id == "research_task"
    assert notification.output == "# Findings"
    assert notification.raw is payload


def test_fields_nested_under_data_are_read() -> None:
    notification = parse_notification(
        {"data": {"kickoff_id": "ex-2", "taskId": "t", "task_output": {"raw": "text"}}}
    )
    assert (notification.execution_id, notification.task_id, notification.output) == (
        "ex-2",
        "t",
        "text",
    )


def test_a_structured_output_is_kept_as_json_text() -> None:
    notification = parse_notification({"execution_id": "e", "task_id": "t", "output": [1, 2]})
    assert notification.output.replace(" ", "").replace("\n", "") == "[1,2]"


def test_the_execution_id_may_come_from_the_url() -> None:
    notification = parse_notification({"task_id": "t", "output": "x"}, execution_id="ex-url")
    assert notification.execution_id == "ex-url"


def test_the_task_name_and_crew_name_are_read_when_present() -> None:
    notification = parse_notification(
        {
            "execution_id": "e",
            "task_id": "t",
            "output": "x",
            "task_name": "Research",
            "crew_name": "Crew",
        }
    )
    assert (notification.task_name, notification.crew_name) == ("Research", "Crew")


@pytest.mark.parametrize(
    ("payload", "error"),
    [
        ({"task_id": "t", "output": "x"}, "missing_execution_id"),
        ({"execution_id": "e", "output": "x"}, "missing_task_id"),
        ({"execution_id": "e", "task_id": "t"}, "missing_output"),
        ({"execution_id": "  ", "task_id": "t", "output": "x"}, "missing_execution_id"),
    ],
)
def test_missing_fields_are_named(payload: dict[str, object], error: str) -> None:
    with pytest.raises(PayloadError) as caught:
        parse_notification(payload)
    assert caught.value.error == error


@pytest.mark.parametrize("body", [b"not json", b"[1, 2]", b"\xff\xfe", b'"text"'])
def test_a_body_that_is_not_a_json_object_is_refused(body: bytes) -> None:
    with pytest.raises(PayloadError) as caught:
        parse_json_object(body)
    assert caught.value.error == "invalid_json"


def test_the_crew_result_is_read_from_result_or_result_json() -> None:
    assert parse_crew_result({"kickoff_id": "e", "result": "done"}).result == "done"
    from_json = parse_crew_result({"kickoff_id": "e", "result_json": {"a": 1}})
    assert '"a": 1' in from_json.result
    assert parse_crew_result({"kickoff_id": "e"}).result == ""


SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=200)
)
KNOWN_KEYS = [*EXECUTION_KEYS, *TASK_KEYS, *OUTPUT_KEYS, *TASK_NAME_KEYS, *CREW_NAME_KEYS]
KEYS = st.sampled_from([*KNOWN_KEYS, "data", "task", "payload"]) | st.text(max_size=12)
JSON = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(KEYS, inner, max_size=6),
    max_leaves=20,
)
NOTIFICATION_ERRORS = {"missing_execution_id", "missing_task_id", "missing_output"}


@settings(max_examples=300, deadline=None)
@given(body=st.binary(max_size=300) | JSON.map(lambda value: json.dumps(value).encode()))
def test_any_body_is_a_json_object_or_a_clear_error(body: bytes) -> None:
    try:
        parsed = parse_json_object(body)
    except PayloadError as exc:
        assert exc.error == "invalid_json" and exc.message
        return
    assert isinstance(parsed, dict)


@settings(max_examples=200, deadline=None)
@given(payload=st.dictionaries(KEYS, JSON, max_size=8))
def test_any_json_object_is_a_notification_or_names_what_is_missing(
    payload: dict[str, object],
) -> None:
    try:
        notification = parse_notification(payload)
    except PayloadError as exc:
        assert exc.error in NOTIFICATION_ERRORS and exc.message
        return
    assert notification.execution_id.strip() and notification.task_id.strip()
    assert isinstance(notification.output, str)
    assert notification.raw is payload


@pytest.mark.parametrize("depth", [50_000, 5_000])
def test_json_nested_too_deeply_is_a_clear_error(depth: int) -> None:
    with pytest.raises(PayloadError) as caught:
        parse_json_object(b'{"a":' * depth + b"1" + b"}" * depth)
    assert caught.value.error == "invalid_json"
