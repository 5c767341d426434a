"""The outbox's queue in the store: one job per lane at a time, oldest first, when due."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.store import JobSpec, Store


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    opened = await Store.open(tmp_path / "jobs.db")
    yield opened
    await opened.close()


async def keys(store: Store, *, busy: tuple[str, ...] = (), limit: int = 10) -> list[str]:
    due = await store.due_jobs(time.time(), busy_lanes=busy, limit=limit)
    return [job.key for job in due]


async def test_each_lane_offers_its_oldest_ready_job(store: Store) -> None:
    await store.enqueue(
        [
            JobSpec("post", "a1", "slack:A"),
            JobSpec("post", "b1", "slack:B"),
            JobSpec("post", "a2", "slack:A"),
            JobSpec("resume", "r1", "amp:1"),
            JobSpec("post", "b2", "slack:B"),
        ]
    )

    assert await keys(store) == ["a1", "b1", "r1"]
    assert await keys(store, busy=("slack:A", "amp:1")) == ["b1"]
    assert await keys(store, limit=2) == ["a1", "b1"]


async def test_a_waiting_job_holds_back_its_lane_and_only_its_lane(store: Store) -> None:
    await store.enqueue(
        [
            JobSpec("post", "a1", "slack:A"),
            JobSpec("post", "a2", "slack:A"),
            JobSpec("post", "b1", "slack:B"),
        ]
    )
    [a1] = [job for job in await store.jobs() if job.key == "a1"]
    later = time.time() + 60
    await store.retry_job(a1.id, run_at=later, error="rate limited")

    assert await keys(store) == ["b1"]
    assert await store.next_run_at() == min(job.run_at for job in await store.jobs())


async def test_a_lane_goes_on_with_its_next_job_once_one_finishes(store: Store) -> None:
    await store.enqueue([JobSpec("post", f"a{n}", "slack:A") for n in range(1, 4)])
    first, second, _ = await store.jobs()

    await store.start_job(first.id)
    assert await keys(store, busy=("slack:A",)) == []
    await store.finish_job(first.id)
    assert await keys(store) == [second.key]


async def test_nothing_ready_means_nothing_due(store: Store) -> None:
    assert await keys(store) == []
    assert await store.next_run_at() is None
