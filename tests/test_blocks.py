"""Block building: readable output, escaped input, and every Slack limit respected."""

from __future__ import annotations

import json
import re
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from slack_sdk.models.blocks import Block

from bot import blocks, mrkdwn, payloads
from bot.records import Decision, Execution, Review, WebhookUrls
from bot.states import DecisionKind, Delivery, ReviewState
from tests.test_payloads import JSON, KEYS


def execution(**extra: object) -> Execution:
    values: dict[str, object] = {
        "ref": "ref1",
        "execution_id": "ex-1",
        "channel": "C1",
        "secret": "s",
        "url_secret": "u",
        "webhooks": WebhookUrls(),
        "source": "kickoff",
        "state": "running",
        "crew_name": "Research Crew",
        "started_by": "UALICE",
    }
    values.update(extra)
    return Execution(**values)  # type: ignore[arg-type]


def review(output: str = "# Findings\n\n**Bold** and *italic*", **extra: object) -> Review:
    values: dict[str, object] = {
        "id": "rev1",
        "execution_ref": "ref1",
        "task_id": "research_task",
        "attempt": 1,
        "output": output,
        "state": ReviewState.PENDING,
        "delivery": Delivery.NONE,
        "task_name": "Industry Research",
    }
    values.update(extra)
    return Review(**values)  # type: ignore[arg-type]


def decision(kind: DecisionKind = DecisionKind.APPROVE, feedback: str = "Approved.") -> Decision:
    return Decision(1, "rev1", kind, "UBOB", feedback, "button", time.time())


def assert_within_limits(payload: list[dict[str, object]]) -> None:
    """Re-parse with slack_sdk's own models, which check Slack's lengths, and check sizes."""
    assert len(payload) <= 50
    assert len(json.dumps(payload)) <= 13_200
    for block in payload:
        parsed = Block.parse(block)
        assert parsed is not None
        parsed.validate_json()
        if block["type"] == "section":
            assert len(block["text"]["text"]) <= 3000  # type: ignore[index]


def action_ids(payload: list[dict[str, object]]) -> list[str]:
    return [
        element["action_id"]
        for block in payload
        if block["type"] == "actions"
        for element in block["elements"]  # type: ignore[attr-defined]
    ]


def test_a_pending_review_shows_what_it_is_and_two_buttons() -> None:
    message = blocks.review_message(review(), execution())
    text = json.dumps(message.blocks)
    assert "Review: Industry Research" in text
    assert "Research Crew" in text and "research_task" in text and "<@UALICE>" in text
    assert "*Attempt:* 1" in text
    assert action_ids(message.blocks) == [blocks.APPROVE, blocks.REVISE]
    buttons = next(b for b in message.blocks if b["type"] == "actions")["elements"]
    assert {button["value"] for button in buttons} == {"rev1"}  # type: ignore[index]
    assert_within_limits(message.blocks)


def test_markdown_output_is_rendered_as_mrkdwn() -> None:
    message = blocks.review_message(review("## Title\n- item [link](https://x.io)"), execution())
    sections = [b["text"]["text"] for b in message.blocks if b["type"] == "section"]  # type: ignore[index]
    assert "*Title*\n• item <https://x.io|link>" in sections[0]


def test_a_decided_review_has_no_decision_buttons_and_says_who_and_when() -> None:
    decided = review(
        state=ReviewState.DECIDED, delivery=Delivery.DELIVERED, resume_status="resumed"
    )
    message = blocks.review_message(decided, execution(), decision())
    text = json.dumps(message.blocks)
    assert action_ids(message.blocks) == []
    assert "Approved* by <@UBOB>" in text and "<!date^" in text
    assert "Delivered to AMP: *resumed*" in text


def test_a_revision_shows_the_feedback_escaped() -> None:
    decided = review(state=ReviewState.DECIDED, delivery=Delivery.QUEUED)
    message = blocks.review_message(
        decided, execution(), decision(DecisionKind.REVISE, "Add <!channel> sources & data")
    )
    text = json.dumps(message.blocks)
    assert "Revision requested" in text
    assert "&lt;!channel&gt; sources &amp; data" in text
    assert "<!channel>" not in text


def test_a_failed_delivery_offers_retry_with_the_reason() -> None:
    failed = review(
        state=ReviewState.DECIDED, delivery=Delivery.FAILED, resume_error="check CREWAI_TOKEN"
    )
    message = blocks.review_message(failed, execution(), decision())
    assert action_ids(message.blocks) == [blocks.RETRY]
    assert "check CREWAI_TOKEN" in json.dumps(message.blocks)


def test_a_long_output_is_shortened_and_offers_the_full_text() -> None:
    long_output = "\n".join(f"Line {n}: " + "word " * 30 for n in range(2000))
    message = blocks.review_message(review(long_output), execution())
    assert_within_limits(message.blocks)
    assert blocks.FULL_OUTPUT in action_ids(message.blocks)
    assert "Output shortened" in json.dumps(message.blocks)


def test_the_full_output_modal_pages_through_everything() -> None:
    long_output = "\n".join(f"Line {n}: " + "word " * 30 for n in range(2000))
    first = blocks.output_modal(review(long_output)).to_dict()
    pages = int(json.dumps(first).split("Page 1 of ")[1].split('"')[0])
    seen = []
    for page in range(pages):
        view = blocks.output_modal(review(long_output), page).to_dict()
        assert len(view["blocks"]) <= 100
        seen.append("\n".join(b["text"]["text"] for b in view["blocks"] if b["type"] == "section"))
    text = "\n".join(seen)
    assert "Line 0:" in text and "Line 1999:" in text


def test_untrusted_names_cannot_mention_or_link() -> None:
    hostile = execution(crew_name="<!here> crew", started_by="<@U123|boss>")
    message = blocks.review_message(review(task_name="<https://evil|click>"), hostile)
    text = " ".join(mrkdwn_texts(message.blocks))
    assert "<!here>" not in text and "<https://evil" not in text and "<@U123|boss>" not in text
    assert "&lt;!here&gt; crew" in text


def mrkdwn_texts(value: object) -> list[str]:
    """Every `mrkdwn` text in a payload: the only texts Slack reads markup in."""
    if isinstance(value, list):
        return [text for item in value for text in mrkdwn_texts(item)]
    if not isinstance(value, dict):
        return []
    if value.get("type") == "mrkdwn":
        return [str(value["text"])]
    return [text for item in value.values() for text in mrkdwn_texts(item)]


def test_the_feedback_modal_has_a_required_multiline_input() -> None:
    view = blocks.feedback_modal(review(), execution()).to_dict()
    assert view["callback_id"] == blocks.FEEDBACK_VIEW
    assert view["private_metadata"] == "rev1"
    field = next(b for b in view["blocks"] if b["type"] == "input")
    assert field["block_id"] == blocks.FEEDBACK_BLOCK
    assert field["element"]["multiline"] is True
    assert field.get("optional", False) is False


@pytest.mark.parametrize(
    ("markdown", "expected"),
    [
        ("**bold**", "*bold*"),
        ("*it*", "_it_"),
        ("~~gone~~", "~gone~"),
        ("# Head", "*Head*"),
        ("* item", "• item"),
        ("a < b & c > d", "a &lt; b &amp; c &gt; d"),
        ("`<code>`", "`&lt;code&gt;`"),
        ("```\n<x>\n```", "```\n&lt;x&gt;\n```"),
        ("<!channel> hi", "&lt;!channel&gt; hi"),
    ],
)
def test_markdown_conversion(markdown: str, expected: str) -> None:
    assert mrkdwn.from_markdown(markdown) == expected


def test_split_keeps_every_piece_within_size_and_code_fences_balanced() -> None:
    text = "intro\n```\n" + "\n".join("x = 1" * 20 for _ in range(400)) + "\n```\nend"
    pieces = mrkdwn.split(text, 3000)
    assert len(pieces) > 1
    for piece in pieces:
        assert len(piece) <= 3000
        assert piece.count("```") % 2 == 0


@settings(max_examples=150, deadline=None)
@given(
    output=st.text(max_size=40_000),
    task_name=st.none() | st.text(max_size=400),
    crew_name=st.none() | st.text(max_size=400),
    task_id=st.text(min_size=1, max_size=300),
    state=st.sampled_from(list(ReviewState)),
    delivery=st.sampled_from(list(Delivery)),
    error=st.none() | st.text(max_size=2000),
)
def test_any_input_makes_a_message_within_every_limit(
    output: str,
    task_name: str | None,
    crew_name: str | None,
    task_id: str,
    state: ReviewState,
    delivery: Delivery,
    error: str | None,
) -> None:
    subject = review(
        output,
        task_name=task_name,
        task_id=task_id,
        state=state,
        delivery=delivery,
        resume_error=error,
    )
    message = blocks.review_message(subject, execution(crew_name=crew_name), decision())
    assert_within_limits(message.blocks)
    assert len(message.text) <= 40_000


NOTIFICATIONS = st.builds(
    lambda execution_key, execution_id, task_key, task_id, output_key, output, extra: {
        **extra,
        execution_key: execution_id,
        task_key: task_id,
        output_key: output,
    },
    st.sampled_from(payloads.EXECUTION_KEYS),
    st.text(min_size=1, max_size=300) | st.integers(),
    st.sampled_from(payloads.TASK_KEYS),
    st.text(min_size=1, max_size=300),
    st.sampled_from(payloads.OUTPUT_KEYS),
    JSON | st.text(max_size=20_000),
    st.dictionaries(KEYS, JSON, max_size=5),
)
# The only markup a review message may carry: links from the output's Markdown, dates, and
# the reviewer who decided.
INTENDED = re.compile(r"<(?:https?://[^<>|]*\|[^<>]*|!date\^[^<>]*|@UBOB)>")


@settings(max_examples=200, deadline=None)
@given(
    payload=NOTIFICATIONS,
    state=st.sampled_from(list(ReviewState)),
    delivery=st.sampled_from(list(Delivery)),
    kind=st.sampled_from(list(DecisionKind)),
)
def test_any_notification_makes_messages_within_every_limit_with_no_markup_of_its_own(
    payload: dict[str, object], state: ReviewState, delivery: Delivery, kind: DecisionKind
) -> None:
    try:
        notification = payloads.parse_notification(payload)
    except payloads.PayloadError as exc:
        assert exc.message
        return
    subject = review(
        notification.output,
        task_id=notification.task_id,
        task_name=notification.task_name,
        state=state,
        delivery=delivery,
        resume_error=notification.output[:500],
    )
    about = execution(
        execution_id=notification.execution_id, crew_name=notification.crew_name, started_by=None
    )
    feedback = notification.task_name or "Change it."

    message = blocks.review_message(subject, about, decision(kind, feedback))

    assert_within_limits(message.blocks)
    assert "<" not in message.text and len(message.text) <= 40_000
    for text in mrkdwn_texts(message.blocks):
        assert "<" not in INTENDED.sub("", text), text
    for view in (blocks.output_modal(subject), blocks.feedback_modal(subject, about)):
        shown = view.to_dict()
        assert len(shown["blocks"]) <= 100
        for block in shown["blocks"]:
            Block.parse(block).validate_json()  # type: ignore[union-attr]
        for text in mrkdwn_texts(shown["blocks"]):
            assert "<" not in INTENDED.sub("", text), text
