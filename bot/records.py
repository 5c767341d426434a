"""The records the bot keeps: executions, reviews, decisions and outbox jobs."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from bot.states import DecisionKind, Delivery, ReviewState


@dataclass(frozen=True)
class WebhookUrls:
    """The three webhook URLs given to AMP at kickoff, which every resume must repeat."""

    task: str | None = None
    step: str | None = None
    crew: str | None = None

    def as_amp_fields(self) -> dict[str, str]:
        """The URLs under AMP's field names, leaving out those that were never given."""
        fields = {
            "taskWebhookUrl": self.task,
            "stepWebhookUrl": self.step,
            "crewWebhookUrl": self.crew,
        }
        return {name: url for name, url in fields.items() if url}


@dataclass(frozen=True)
class Execution:
    """One AMP execution the bot knows of, by the bot's own `ref` and AMP's `execution_id`."""

    ref: str
    execution_id: str | None
    channel: str
    secret: str
    url_secret: str
    webhooks: WebhookUrls
    source: str
    state: str
    crew_name: str | None = None
    started_by: str | None = None
    inputs: dict[str, Any] = field(default_factory=dict)
    thread_ts: str | None = None
    result: str | None = None
    created_at: float = 0.0
    finished_at: float | None = None

    @property
    def label(self) -> str:
        """The id people see: AMP's id once known, else the bot's own."""
        return self.execution_id or self.ref


@dataclass(frozen=True)
class Review:
    """One request for a human decision on one output of one task."""

    id: str
    execution_ref: str
    task_id: str
    attempt: int
    output: str
    state: ReviewState
    delivery: Delivery
    task_name: str | None = None
    channel: str | None = None
    message_ts: str | None = None
    thread_ts: str | None = None
    decision_id: int | None = None
    resume_status: str | None = None
    resume_error: str | None = None
    resume_attempts: int = 0
    created_at: float = 0.0
    updated_at: float = 0.0

    @property
    def is_pending(self) -> bool:
        return self.state is ReviewState.PENDING


@dataclass(frozen=True)
class Decision:
    """One entry of the audit trail: who decided what on which review, and when."""

    id: int
    review_id: str
    kind: DecisionKind
    reviewer: str
    feedback: str
    source: str
    created_at: float
    outcome: str = "accepted"


@dataclass(frozen=True)
class Job:
    """One unit of outbound work kept in the outbox until it is done."""

    id: int
    kind: str
    key: str
    lane: str
    payload: dict[str, Any]
    attempts: int
    run_at: float
    deadline: float | None
    last_error: str | None
    created_at: float


def dumps(value: Any) -> str:
    """Compact JSON for storage."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
