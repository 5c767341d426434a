"""The lookups behind threads, `/crew`, the Home tab and reminders use indexes, never a scan."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from bot.store import NewReview, Store


async def test_every_reviewer_lookup_is_an_indexed_search(tmp_path: Path) -> None:
    store = await Store.open(tmp_path / "bot.db")
    execution = await store.create_execution(
        channel="C1", source="kickoff", execution_id="ex-1", started_by="U1"
    )
    added = await store.add_review(NewReview(execution.ref, "task", "output", "hash", {}))
    await store.set_message(added.review.id, channel="C1", ts="1.1", thread_ts="1.1")
    now = time.time()
    # Sorting the few decisions of one execution is fine, and so is reading the latest
    # decisions in id order up to the limit; nothing else may sort or scan.
    lookups: list[tuple[Callable[[], Awaitable[Any]], set[str]]] = [
        (lambda: store.thread_review("C1", "1.1"), set()),
        (lambda: store.open_reviews(limit=10, offset=10), set()),
        (lambda: store.count_open_reviews(), set()),
        (
            lambda: store.decision_trail(execution_ref=execution.ref),
            {"USE TEMP B-TREE FOR ORDER BY"},
        ),
        (lambda: store.decision_trail(reviewer="U1"), set()),
        (lambda: store.decision_trail(), {"SCAN d"}),
        (lambda: store.executions_started_by("U1", limit=10), set()),
        (lambda: store.home_viewers(since=now - 60), set()),
        (lambda: store.reviews_to_remind(sent=0, before=now, limit=100), set()),
        (lambda: store.reviews_to_expire(before=now, limit=100), set()),
    ]

    for lookup, allowed in lookups:
        statements: list[str] = []
        await store._db.set_trace_callback(statements.append)
        await lookup()
        await store._db.set_trace_callback(None)
        (query,) = statements
        async with store._db.execute("EXPLAIN QUERY PLAN " + query) as cursor:
            plan = [str(row[3]) for row in await cursor.fetchall()]
        costly = [
            s for s in plan if "TEMP B-TREE" in s or (s.startswith("SCAN") and "INDEX" not in s)
        ]
        assert set(costly) <= allowed, (query, plan)
    await store.close()
