"""The review state machine: what a review may become, and what a resume delivery may become.

A review is `pending` until a reviewer decides it (`decided`) or it times out (`expired`). A
decided review carries a delivery state for its resume: `queued` when the decision is
recorded, `delivering` while the call to AMP is under way, `retrying` after a failure that is
worth another try, and finally `delivered` or `failed`. A failed delivery can be queued again.
"""

from __future__ import annotations

from enum import StrEnum


class ReviewState(StrEnum):
    PENDING = "pending"
    DECIDED = "decided"
    EXPIRED = "expired"


class DecisionKind(StrEnum):
    APPROVE = "approve"
    REVISE = "revise"


class Delivery(StrEnum):
    NONE = "none"
    QUEUED = "queued"
    DELIVERING = "delivering"
    RETRYING = "retrying"
    DELIVERED = "delivered"
    FAILED = "failed"


class TransitionError(Exception):
    """A change that the state machine does not allow."""


_DECIDABLE = {ReviewState.PENDING, ReviewState.EXPIRED}

_DELIVERY_MOVES: dict[Delivery, set[Delivery]] = {
    Delivery.NONE: {Delivery.QUEUED},
    Delivery.QUEUED: {Delivery.DELIVERING},
    Delivery.DELIVERING: {Delivery.DELIVERED, Delivery.RETRYING, Delivery.FAILED},
    Delivery.RETRYING: {Delivery.DELIVERING, Delivery.FAILED},
    Delivery.FAILED: {Delivery.QUEUED},
    Delivery.DELIVERED: set(),
}


def can_decide(state: ReviewState) -> bool:
    """Whether a decision may still be recorded; an expired review may be decided on purpose."""
    return state in _DECIDABLE


def decide(state: ReviewState) -> ReviewState:
    """The state after a decision, or `TransitionError` when the review was already decided."""
    if not can_decide(state):
        raise TransitionError(f"a {state} review cannot be decided")
    return ReviewState.DECIDED


def expire(state: ReviewState) -> ReviewState:
    """The state after the expiry time passed, or `TransitionError` when it is not pending."""
    if state is not ReviewState.PENDING:
        raise TransitionError(f"a {state} review cannot expire")
    return ReviewState.EXPIRED


def move_delivery(current: Delivery, target: Delivery) -> Delivery:
    """The new delivery state, or `TransitionError` for a move the machine does not allow.

    A delivery that starts again after a restart moves `delivering -> delivering`, which is
    allowed: the previous attempt's outcome was never recorded.
    """
    if target is current is Delivery.DELIVERING:
        return target
    if target not in _DELIVERY_MOVES[current]:
        raise TransitionError(f"a resume cannot go from {current} to {target}")
    return target
