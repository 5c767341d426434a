"""The review state machine: decisions, expiry and resume delivery moves."""

from __future__ import annotations

import pytest

from bot import states
from bot.states import Delivery, ReviewState, TransitionError


def test_a_pending_review_can_be_decided_once() -> None:
    decided = states.decide(ReviewState.PENDING)
    assert decided is ReviewState.DECIDED
    with pytest.raises(TransitionError):
        states.decide(decided)


def test_an_expired_review_can_still_be_decided_on_purpose() -> None:
    assert states.decide(ReviewState.EXPIRED) is ReviewState.DECIDED


def test_only_a_pending_review_expires() -> None:
    assert states.expire(ReviewState.PENDING) is ReviewState.EXPIRED
    for state in (ReviewState.DECIDED, ReviewState.EXPIRED):
        with pytest.raises(TransitionError):
            states.expire(state)


@pytest.mark.parametrize(
    ("path"),
    [
        [Delivery.NONE, Delivery.QUEUED, Delivery.DELIVERING, Delivery.DELIVERED],
        [
            Delivery.QUEUED,
            Delivery.DELIVERING,
            Delivery.RETRYING,
            Delivery.DELIVERING,
            Delivery.DELIVERED,
        ],
        [Delivery.DELIVERING, Delivery.FAILED, Delivery.QUEUED, Delivery.DELIVERING],
        [Delivery.DELIVERING, Delivery.DELIVERING],
        [Delivery.RETRYING, Delivery.FAILED],
    ],
)
def test_allowed_delivery_paths(path: list[Delivery]) -> None:
    current = path[0]
    for target in path[1:]:
        current = states.move_delivery(current, target)
    assert current is path[-1]


@pytest.mark.parametrize(
    ("current", "target"),
    [
        (Delivery.DELIVERED, Delivery.QUEUED),
        (Delivery.DELIVERED, Delivery.DELIVERING),
        (Delivery.NONE, Delivery.DELIVERED),
        (Delivery.QUEUED, Delivery.DELIVERED),
        (Delivery.FAILED, Delivery.DELIVERED),
        (Delivery.RETRYING, Delivery.DELIVERED),
    ],
)
def test_forbidden_delivery_moves(current: Delivery, target: Delivery) -> None:
    with pytest.raises(TransitionError):
        states.move_delivery(current, target)
