"""The store: migrations, and decisions that race."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from bot.states import DecisionKind, Delivery, ReviewState
from bot.store import MIGRATIONS, NewReview, SchemaTooNew, Store


async def open_with_review(path: Path) -> tuple[Store, str]:
    store = await Store.open(path)
    execution = await store.create_execution(channel="C1", source="kickoff", execution_id="ex-1")
    added = await store.add_review(
        NewReview(execution.ref, "task", "output", "hash", {"raw": True})
    )
    return store, added.review.id


async def test_a_new_database_is_at_the_latest_schema_in_wal_mode(tmp_path: Path) -> None:
    store = await Store.open(tmp_path / "bot.db")
    assert await store.schema_version() == len(MIGRATIONS)
    await store.close()
    with sqlite3.connect(tmp_path / "bot.db") as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


async def test_reopening_keeps_the_data_and_runs_no_migration_twice(tmp_path: Path) -> None:
    store, review_id = await open_with_review(tmp_path / "bot.db")
    await store.close()
    again = await Store.open(tmp_path / "bot.db")
    review = await again.review(review_id)
    assert review is not None and review.output == "output"
    assert await again.schema_version() == len(MIGRATIONS)
    await again.close()


async def test_a_database_from_a_newer_bot_is_refused(tmp_path: Path) -> None:
    store = await Store.open(tmp_path / "bot.db")
    await store.close()
    with sqlite3.connect(tmp_path / "bot.db") as db:
        db.execute("UPDATE schema_version SET version = 999")
    with pytest.raises(SchemaTooNew, match="newer than this bot"):
        await Store.open(tmp_path / "bot.db")


async def test_of_twenty_simultaneous_decisions_exactly_one_wins(tmp_path: Path) -> None:
    store, review_id = await open_with_review(tmp_path / "bot.db")
    kinds = [DecisionKind.APPROVE, DecisionKind.REVISE] * 10
    results = await asyncio.gather(
        *(
            store.decide(review_id, kind=kind, reviewer=f"U{n}", feedback="f", source="button")
            for n, kind in enumerate(kinds)
        )
    )
    winners = [result for result in results if result is not None and result.won]
    assert len(winners) == 1
    standing = winners[0].decision
    assert all(result is not None and result.decision == standing for result in results)
    review = await store.review(review_id)
    assert review is not None
    assert review.state is ReviewState.DECIDED and review.delivery is Delivery.QUEUED
    trail = await store.decisions_of(review_id)
    assert len(trail) == 20
    assert [d.outcome for d in trail].count("accepted") == 1
    await store.close()


async def test_a_decision_and_its_jobs_are_one_transaction(tmp_path: Path) -> None:
    from bot.store import JobSpec

    store, review_id = await open_with_review(tmp_path / "bot.db")
    bad_job = JobSpec("resume", review_id, "amp:x", payload={"x": object()})
    with pytest.raises(TypeError):
        await store.decide(
            review_id,
            kind=DecisionKind.APPROVE,
            reviewer="U1",
            feedback="",
            source="button",
            jobs=[bad_job],
        )
    review = await store.review(review_id)
    assert review is not None and review.state is ReviewState.PENDING
    assert await store.decisions_of(review_id) == []
    await store.close()
