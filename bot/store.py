"""The durable store: one SQLite file in WAL mode, with a schema version and migrations.

Every change of a review, with the outbox jobs it causes, is one transaction; transactions are
serialised by one lock, so a conditional update (`... WHERE state = 'pending'`) decides races.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import sqlite3
import time
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import aiosqlite

from bot import states
from bot.records import Decision, Execution, Job, Review, WebhookUrls, dumps
from bot.states import DecisionKind, Delivery, ReviewState

logger = logging.getLogger(__name__)

T = TypeVar("T")

MIGRATIONS: Sequence[str] = (
    """
    CREATE TABLE executions (
        ref TEXT PRIMARY KEY,
        execution_id TEXT UNIQUE,
        channel TEXT NOT NULL,
        secret TEXT NOT NULL,
        url_secret TEXT NOT NULL,
        task_webhook_url TEXT,
        step_webhook_url TEXT,
        crew_webhook_url TEXT,
        source TEXT NOT NULL,
        state TEXT NOT NULL,
        crew_name TEXT,
        started_by TEXT,
        inputs TEXT NOT NULL DEFAULT '{}',
        thread_ts TEXT,
        result TEXT,
        created_at REAL NOT NULL,
        finished_at REAL
    );
    CREATE TABLE reviews (
        id TEXT PRIMARY KEY,
        execution_ref TEXT NOT NULL REFERENCES executions(ref),
        task_id TEXT NOT NULL,
        attempt INTEGER NOT NULL,
        task_name TEXT,
        output TEXT NOT NULL,
        output_hash TEXT NOT NULL,
        payload TEXT NOT NULL,
        state TEXT NOT NULL,
        delivery TEXT NOT NULL,
        channel TEXT,
        message_ts TEXT,
        thread_ts TEXT,
        decision_id INTEGER REFERENCES decisions(id),
        resume_status TEXT,
        resume_error TEXT,
        resume_attempts INTEGER NOT NULL DEFAULT 0,
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL,
        UNIQUE (execution_ref, task_id, attempt)
    );
    CREATE INDEX reviews_pending ON reviews(state, created_at);
    CREATE INDEX reviews_message ON reviews(channel, message_ts);
    CREATE TABLE decisions (
        id INTEGER PRIMARY KEY,
        review_id TEXT NOT NULL REFERENCES reviews(id),
        kind TEXT NOT NULL,
        reviewer TEXT NOT NULL,
        feedback TEXT NOT NULL,
        source TEXT NOT NULL,
        outcome TEXT NOT NULL,
        created_at REAL NOT NULL
    );
    CREATE INDEX decisions_review ON decisions(review_id, id);
    CREATE TABLE jobs (
        id INTEGER PRIMARY KEY,
        kind TEXT NOT NULL,
        key TEXT NOT NULL,
        lane TEXT NOT NULL,
        payload TEXT NOT NULL DEFAULT '{}',
        state TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        run_at REAL NOT NULL,
        deadline REAL,
        last_error TEXT,
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL
    );
    CREATE INDEX jobs_ready ON jobs(state, lane, id);
    CREATE INDEX jobs_key ON jobs(kind, key, state);
    CREATE TABLE events (
        id INTEGER PRIMARY KEY,
        execution_ref TEXT NOT NULL REFERENCES executions(ref),
        kind TEXT NOT NULL,
        payload TEXT NOT NULL,
        created_at REAL NOT NULL
    );
    CREATE INDEX events_execution ON events(execution_ref, id);
    """,
    """
    ALTER TABLE reviews ADD COLUMN reminders_sent INTEGER NOT NULL DEFAULT 0;
    CREATE INDEX reviews_open ON reviews(created_at, id) WHERE state IN ('pending', 'expired');
    CREATE INDEX reviews_reminders ON reviews(state, reminders_sent, created_at);
    CREATE INDEX decisions_reviewer ON decisions(reviewer, id);
    CREATE INDEX executions_started_by ON executions(started_by, created_at);
    CREATE TABLE home_viewers (
        user TEXT PRIMARY KEY,
        page INTEGER NOT NULL DEFAULT 0,
        opened_at REAL NOT NULL
    );
    CREATE INDEX home_viewers_recent ON home_viewers(opened_at);
    CREATE TABLE confirmations (
        review_id TEXT PRIMARY KEY REFERENCES reviews(id),
        channel TEXT NOT NULL,
        thread_ts TEXT NOT NULL,
        ts TEXT
    );
    """,
    """
    CREATE TABLE slack_events (
        event_id TEXT PRIMARY KEY,
        seen_at REAL NOT NULL
    );
    CREATE INDEX slack_events_seen ON slack_events(seen_at);
    """,
    # The outbox asks for the earliest ready job after every change; without this index the
    # answer costs a scan of the whole queue.
    """
    CREATE INDEX jobs_due ON jobs(state, run_at);
    """,
)


class StoreError(Exception):
    """The database cannot be opened or used; the message says why."""


class SchemaTooNew(StoreError):
    """The database was written by a newer bot, whose schema this one does not know."""


def new_id(nbytes: int = 9) -> str:
    """An unguessable, URL-safe identifier."""
    return secrets.token_urlsafe(nbytes)


@dataclass(frozen=True)
class NewReview:
    """What a human-input notification brings: the task, its output and the raw payload."""

    execution_ref: str
    task_id: str
    output: str
    output_hash: str
    payload: dict[str, Any]
    task_name: str | None = None


@dataclass(frozen=True)
class Added:
    """The outcome of adding a review: the review, and whether it is new or a duplicate."""

    review: Review
    created: bool


@dataclass(frozen=True)
class Decided:
    """The outcome of a decision: whether it won, and the decision that stands."""

    won: bool
    review: Review
    decision: Decision | None


@dataclass(frozen=True)
class StoreCounts:
    """What the store holds, counted: reviews by state and delivery, decisions, outbox jobs."""

    reviews: dict[str, int] = field(default_factory=dict)
    deliveries: dict[str, int] = field(default_factory=dict)
    decisions: dict[tuple[str, str], int] = field(default_factory=dict)
    jobs: dict[str, int] = field(default_factory=dict)
    oldest_job_created_at: float | None = None


@dataclass(frozen=True)
class OpenReview:
    """A review waiting for a decision, with what a listing shows of its execution."""

    review: Review
    execution_label: str
    crew_name: str | None
    started_by: str | None


@dataclass(frozen=True)
class TrailEntry:
    """One entry of the decision trail, with the review it was about and its resume."""

    decision: Decision
    execution_label: str
    task: str
    attempt: int
    standing: bool
    delivery: Delivery
    resume_status: str | None
    resume_error: str | None


@dataclass(frozen=True)
class Confirmation:
    """Where the bot confirms a decision taken in a review's thread; `ts` once posted."""

    review_id: str
    channel: str
    thread_ts: str
    ts: str | None


@dataclass(frozen=True)
class JobSpec:
    """An outbox job to enqueue with a state change."""

    kind: str
    key: str
    lane: str
    payload: dict[str, Any] | None = None
    deadline: float | None = None
    coalesce: bool = False


class Store:
    """The bot's SQLite database; open it with `Store.open` and close it with `close`."""

    def __init__(self, db: aiosqlite.Connection) -> None:
        self._db = db
        self._lock = asyncio.Lock()
        self._listeners: list[asyncio.Event] = []

    @classmethod
    async def open(cls, path: Path | str) -> Store:
        """Open (creating or migrating) the database at `path`; `StoreError` if it cannot."""
        try:
            if str(path) != ":memory:":
                Path(path).parent.mkdir(parents=True, exist_ok=True)
            db = await aiosqlite.connect(str(path), isolation_level=None)
        except (OSError, sqlite3.Error) as exc:
            raise StoreError(str(exc)) from None
        db.row_factory = sqlite3.Row
        await db.execute("PRAGMA journal_mode=WAL")
        await db.execute("PRAGMA synchronous=NORMAL")
        await db.execute("PRAGMA foreign_keys=ON")
        await db.execute("PRAGMA busy_timeout=5000")
        store = cls(db)
        try:
            await store._migrate()
        except BaseException:
            # An open connection's thread would keep the process from exiting.
            await db.close()
            raise
        return store

    async def close(self) -> None:
        await self._db.close()

    def on_job(self, event: asyncio.Event) -> None:
        """Set `event` whenever a job is enqueued, so a worker can wake at once."""
        self._listeners.append(event)

    @asynccontextmanager
    async def _transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        async with self._lock:
            await self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                await self._db.execute("ROLLBACK")
                raise
            await self._db.execute("COMMIT")

    @asynccontextmanager
    async def _statement(self) -> AsyncIterator[aiosqlite.Connection]:
        """For a change that is one statement: atomic by itself, so BEGIN and COMMIT are spared.

        It still waits for the lock, so that it never joins another coroutine's transaction.
        """
        async with self._lock:
            yield self._db

    async def _in_one_trip(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """Run `work` as one transaction in a single trip to the database's thread.

        Each awaited statement is a hand-off to that thread and back; a transaction on the
        path of every notification is run whole instead.
        """
        async with self._lock:
            # NOTE: aiosqlite has no public way to run a function on its thread.
            connection = self._db._conn
            result: T = await self._db._execute(_atomically, connection, work)  # type: ignore[no-untyped-call]
        return result

    async def _migrate(self) -> None:
        async with self._transaction() as db:
            await db.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
            row = await _one(db, "SELECT version FROM schema_version")
            version = row["version"] if row else 0
            if version > len(MIGRATIONS):
                raise SchemaTooNew(
                    f"the database has schema version {version}, newer than this bot "
                    f"({len(MIGRATIONS)}); upgrade the bot"
                )
            for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
                for statement in _statements(script):
                    await db.execute(statement)
                logger.info("Database migrated to schema version %d", number)
            if row is None:
                await db.execute("INSERT INTO schema_version VALUES (?)", (len(MIGRATIONS),))
            else:
                await db.execute("UPDATE schema_version SET version = ?", (len(MIGRATIONS),))

    async def schema_version(self) -> int:
        row = await _one(self._db, "SELECT version FROM schema_version")
        return int(row["version"]) if row else 0

    # Executions

    async def create_execution(
        self,
        *,
        channel: str,
        source: str,
        webhooks: WebhookUrls | None = None,
        execution_id: str | None = None,
        state: str = "starting",
        crew_name: str | None = None,
        started_by: str | None = None,
        inputs: dict[str, Any] | None = None,
        ref: str | None = None,
        secret: str | None = None,
        url_secret: str | None = None,
    ) -> Execution:
        """Store a new execution with fresh secrets (unless given) and return it.

        When another execution already has `execution_id`, that one is returned unchanged.
        """
        now = time.time()
        ref = ref or new_id(12)
        webhooks = webhooks or WebhookUrls()
        values = (
            ref,
            execution_id,
            channel,
            secret or new_id(32),
            url_secret or new_id(32),
            webhooks.task,
            webhooks.step,
            webhooks.crew,
            source,
            state,
            crew_name,
            started_by,
            dumps(inputs or {}),
            now,
        )

        def insert(db: sqlite3.Connection) -> sqlite3.Row:
            db.execute(
                "INSERT INTO executions (ref, execution_id, channel, secret, url_secret,"
                " task_webhook_url, step_webhook_url, crew_webhook_url, source, state,"
                " crew_name, started_by, inputs, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (execution_id) DO NOTHING",
                values,
            )
            if execution_id:
                query, key = "SELECT * FROM executions WHERE execution_id = ?", execution_id
            else:
                query, key = "SELECT * FROM executions WHERE ref = ?", ref
            row: sqlite3.Row = db.execute(query, (key,)).fetchone()
            return row

        return _execution(await self._in_one_trip(insert))

    async def execution(self, ref: str) -> Execution | None:
        row = await _one(self._db, "SELECT * FROM executions WHERE ref = ?", (ref,))
        return _execution(row) if row else None

    async def execution_by_id(self, execution_id: str) -> Execution | None:
        row = await _one(
            self._db, "SELECT * FROM executions WHERE execution_id = ?", (execution_id,)
        )
        return _execution(row) if row else None

    async def update_execution(self, ref: str, **fields: Any) -> Execution:
        """Change the named columns of one execution and return it as stored."""
        if "webhooks" in fields:
            webhooks: WebhookUrls = fields.pop("webhooks")
            fields["task_webhook_url"] = webhooks.task
            fields["step_webhook_url"] = webhooks.step
            fields["crew_webhook_url"] = webhooks.crew
        columns = ", ".join(f"{name} = ?" for name in fields)
        async with self._transaction() as db:
            await db.execute(
                f"UPDATE executions SET {columns} WHERE ref = ?", (*fields.values(), ref)
            )
        execution = await self.execution(ref)
        assert execution is not None
        return execution

    async def running_executions(self, *, source: str) -> list[Execution]:
        """Unfinished executions of one source whose AMP id is known, oldest first."""
        rows = await _all(
            self._db,
            "SELECT * FROM executions WHERE source = ? AND finished_at IS NULL"
            " AND execution_id IS NOT NULL ORDER BY created_at",
            (source,),
        )
        return [_execution(row) for row in rows]

    async def claim_execution_id(self, ref: str, execution_id: str) -> bool:
        """Record AMP's id for an execution that had none; False if another one has it."""
        async with self._transaction() as db:
            owner = await _one(
                db, "SELECT ref FROM executions WHERE execution_id = ?", (execution_id,)
            )
            if owner is not None:
                return bool(owner["ref"] == ref)
            await db.execute(
                "UPDATE executions SET execution_id = ? WHERE ref = ? AND execution_id IS NULL",
                (execution_id, ref),
            )
            return True

    async def set_thread(self, ref: str, thread_ts: str) -> None:
        """Remember the execution's thread, the first time one is known."""
        async with self._transaction() as db:
            await db.execute(
                "UPDATE executions SET thread_ts = ? WHERE ref = ? AND thread_ts IS NULL",
                (thread_ts, ref),
            )

    async def finish_execution(
        self, ref: str, *, state: str, result: str | None, jobs: Iterable[JobSpec] = ()
    ) -> bool:
        """Mark an execution finished with its result; False if it already was."""
        async with self._transaction() as db:
            cursor = await db.execute(
                "UPDATE executions SET state = ?, result = ?, finished_at = ?"
                " WHERE ref = ? AND finished_at IS NULL",
                (state, result, time.time(), ref),
            )
            if cursor.rowcount == 0:
                return False
            await self._enqueue_all(db, jobs)
        return True

    async def add_event(self, ref: str, kind: str, payload: dict[str, Any]) -> None:
        async with self._statement() as db:
            await db.execute(
                "INSERT INTO events (execution_ref, kind, payload, created_at) VALUES (?, ?, ?, ?)",
                (ref, kind, dumps(payload), time.time()),
            )

    async def events(self, ref: str, kind: str | None = None) -> list[dict[str, Any]]:
        query = "SELECT kind, payload FROM events WHERE execution_ref = ?"
        args: tuple[Any, ...] = (ref,)
        if kind is not None:
            query += " AND kind = ?"
            args += (kind,)
        rows = await _all(self._db, query + " ORDER BY id", args)
        return [{"kind": row["kind"], **json.loads(row["payload"])} for row in rows]

    # Reviews

    async def add_review(self, new: NewReview, jobs: Iterable[JobSpec] = ()) -> Added:
        """Store a review for a notification, or return the review it duplicates.

        A notification duplicates the task's latest review when it carries the same output
        and that review's resume has not been delivered: AMP only runs a task again (and so
        only sends a new attempt) after a resume reached it.
        """
        now = time.time()
        specs = list(jobs)

        def add(db: sqlite3.Connection) -> tuple[sqlite3.Row, bool, bool]:
            latest = db.execute(
                "SELECT * FROM reviews WHERE execution_ref = ? AND task_id = ?"
                " ORDER BY attempt DESC LIMIT 1",
                (new.execution_ref, new.task_id),
            ).fetchone()
            if (
                latest is not None
                and latest["output_hash"] == new.output_hash
                and latest["delivery"] != Delivery.DELIVERED
            ):
                return latest, False, False
            review_id = new_id()
            first = None
            if latest is not None:
                first = db.execute(
                    "SELECT message_ts FROM reviews WHERE execution_ref = ? AND task_id = ?"
                    " ORDER BY attempt LIMIT 1",
                    (new.execution_ref, new.task_id),
                ).fetchone()
            db.execute(
                "INSERT INTO reviews (id, execution_ref, task_id, attempt, task_name, output,"
                " output_hash, payload, state, delivery, thread_ts, created_at, updated_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    review_id,
                    new.execution_ref,
                    new.task_id,
                    (latest["attempt"] + 1) if latest else 1,
                    new.task_name,
                    new.output,
                    new.output_hash,
                    dumps(new.payload),
                    ReviewState.PENDING,
                    Delivery.NONE,
                    first["message_ts"] if first else None,
                    now,
                    now,
                ),
            )
            db.execute(
                "UPDATE executions SET state = 'pending_review' WHERE ref = ?"
                " AND finished_at IS NULL",
                (new.execution_ref,),
            )
            enqueued = _insert_jobs(db, [_keyed(spec, review_id) for spec in specs])
            row = db.execute("SELECT * FROM reviews WHERE id = ?", (review_id,)).fetchone()
            return row, True, enqueued

        row, created, enqueued = await self._in_one_trip(add)
        if enqueued:
            self._jobs_enqueued()
        return Added(_review(row), created=created)

    async def review(self, review_id: str) -> Review | None:
        row = await _one(self._db, "SELECT * FROM reviews WHERE id = ?", (review_id,))
        return _review(row) if row else None

    async def first_review(self, execution_ref: str, task_id: str) -> Review | None:
        """The first attempt's review of a task, whose message holds the task's thread."""
        row = await _one(
            self._db,
            "SELECT * FROM reviews WHERE execution_ref = ? AND task_id = ?"
            " ORDER BY attempt LIMIT 1",
            (execution_ref, task_id),
        )
        return _review(row) if row else None

    async def reviews_of(self, execution_ref: str) -> list[Review]:
        rows = await _all(
            self._db,
            "SELECT * FROM reviews WHERE execution_ref = ? ORDER BY created_at, attempt",
            (execution_ref,),
        )
        return [_review(row) for row in rows]

    async def counts(self) -> StoreCounts:
        """Reviews by state and by delivery, decisions by kind and outcome, jobs by state."""
        reviews = await _all(self._db, "SELECT state, COUNT(*) AS n FROM reviews GROUP BY state")
        deliveries = await _all(
            self._db, "SELECT delivery, COUNT(*) AS n FROM reviews GROUP BY delivery"
        )
        decisions = await _all(
            self._db, "SELECT kind, outcome, COUNT(*) AS n FROM decisions GROUP BY kind, outcome"
        )
        jobs = await _all(self._db, "SELECT state, COUNT(*) AS n FROM jobs GROUP BY state")
        oldest = await _one(
            self._db, "SELECT MIN(created_at) AS t FROM jobs WHERE state IN ('ready', 'running')"
        )
        return StoreCounts(
            reviews={row["state"]: row["n"] for row in reviews},
            deliveries={row["delivery"]: row["n"] for row in deliveries},
            decisions={(row["kind"], row["outcome"]): row["n"] for row in decisions},
            jobs={row["state"]: row["n"] for row in jobs},
            oldest_job_created_at=oldest["t"] if oldest is not None else None,
        )

    async def set_message(self, review_id: str, *, channel: str, ts: str, thread_ts: str) -> None:
        """Record where a review was posted, and make it the execution's thread if none is."""
        async with self._transaction() as db:
            await db.execute(
                "UPDATE reviews SET channel = ?, message_ts = ?, thread_ts = ?, updated_at = ?"
                " WHERE id = ?",
                (channel, ts, thread_ts, time.time(), review_id),
            )
            await db.execute(
                "UPDATE executions SET thread_ts = ? WHERE thread_ts IS NULL"
                " AND ref = (SELECT execution_ref FROM reviews WHERE id = ?)",
                (thread_ts, review_id),
            )

    async def decide(
        self,
        review_id: str,
        *,
        kind: DecisionKind,
        reviewer: str,
        feedback: str,
        source: str,
        jobs: Iterable[JobSpec] = (),
    ) -> Decided | None:
        """Record a decision unless one stands already; the first one wins.

        The decision, the review's new state and `jobs` are one transaction. A losing attempt
        is kept in the audit trail too, as `too_late`. None when there is no such review.
        """
        now = time.time()
        async with self._transaction() as db:
            row = await _one(db, "SELECT * FROM reviews WHERE id = ?", (review_id,))
            if row is None:
                return None
            review = _review(row)
            if not states.can_decide(review.state):
                await db.execute(
                    "INSERT INTO decisions (review_id, kind, reviewer, feedback, source,"
                    " outcome, created_at) VALUES (?, ?, ?, ?, ?, 'too_late', ?)",
                    (review_id, kind, reviewer, feedback, source, now),
                )
                standing = await _decision(db, review.decision_id)
                return Decided(won=False, review=review, decision=standing)
            cursor = await db.execute(
                "INSERT INTO decisions (review_id, kind, reviewer, feedback, source,"
                " outcome, created_at) VALUES (?, ?, ?, ?, ?, 'accepted', ?)",
                (review_id, kind, reviewer, feedback, source, now),
            )
            decision_id = cursor.lastrowid
            await db.execute(
                "UPDATE reviews SET state = ?, delivery = ?, decision_id = ?, updated_at = ?"
                " WHERE id = ?",
                (
                    states.decide(review.state),
                    states.move_delivery(review.delivery, Delivery.QUEUED),
                    decision_id,
                    now,
                    review_id,
                ),
            )
            await db.execute(
                "UPDATE executions SET state = 'running' WHERE ref = ? AND finished_at IS NULL",
                (review.execution_ref,),
            )
            await self._enqueue_all(db, jobs)
            row = await _one(db, "SELECT * FROM reviews WHERE id = ?", (review_id,))
            decision = await _decision(db, decision_id)
        assert row is not None
        return Decided(won=True, review=_review(row), decision=decision)

    async def add_audit(
        self,
        review_id: str,
        *,
        kind: DecisionKind,
        reviewer: str,
        feedback: str,
        source: str,
        outcome: str,
    ) -> None:
        """Keep an attempt that decided nothing (a refusal) in the audit trail."""
        async with self._transaction() as db:
            await db.execute(
                "INSERT INTO decisions (review_id, kind, reviewer, feedback, source,"
                " outcome, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (review_id, kind, reviewer, feedback, source, outcome, time.time()),
            )

    async def decision(self, decision_id: int | None) -> Decision | None:
        return await _decision(self._db, decision_id)

    async def decisions_of(self, review_id: str) -> list[Decision]:
        rows = await _all(
            self._db,
            "SELECT * FROM decisions WHERE review_id = ? ORDER BY id",
            (review_id,),
        )
        return [_decision_of(row) for row in rows]

    async def set_delivery(
        self,
        review_id: str,
        delivery: Delivery,
        *,
        status: str | None = None,
        error: str | None = None,
        jobs: Iterable[JobSpec] = (),
        count_attempt: bool = False,
    ) -> Review:
        """Move a review's resume delivery to `delivery`, as the state machine allows."""
        async with self._transaction() as db:
            row = await _one(db, "SELECT * FROM reviews WHERE id = ?", (review_id,))
            if row is None:
                raise KeyError(review_id)
            review = _review(row)
            target = states.move_delivery(review.delivery, delivery)
            await db.execute(
                "UPDATE reviews SET delivery = ?, resume_status = COALESCE(?, resume_status),"
                " resume_error = ?, resume_attempts = resume_attempts + ?, updated_at = ?"
                " WHERE id = ?",
                (target, status, error, 1 if count_attempt else 0, time.time(), review_id),
            )
            await self._enqueue_all(db, jobs)
            row = await _one(db, "SELECT * FROM reviews WHERE id = ?", (review_id,))
        assert row is not None
        return _review(row)

    # What reviewers look up: threads, open reviews, trails, Home tabs, reminders

    async def thread_review(self, channel: str, thread_ts: str) -> Review | None:
        """The latest attempt of the task whose first review message started this thread."""
        row = await _one(
            self._db,
            "SELECT * FROM reviews WHERE (execution_ref, task_id) = (SELECT execution_ref,"
            " task_id FROM reviews WHERE channel = ? AND message_ts = ?)"
            " ORDER BY attempt DESC LIMIT 1",
            (channel, thread_ts),
        )
        return _review(row) if row else None

    async def open_reviews(self, *, limit: int, offset: int = 0) -> list[OpenReview]:
        """Pending and expired reviews, oldest first, one page at a time."""
        rows = await _all(
            self._db,
            "SELECT r.*, COALESCE(e.execution_id, e.ref) AS execution_label,"
            " e.crew_name AS crew_name, e.started_by AS started_by"
            " FROM reviews AS r INDEXED BY reviews_open JOIN executions AS e"
            " ON e.ref = r.execution_ref WHERE r.state IN ('pending', 'expired')"
            " ORDER BY r.created_at, r.id LIMIT ? OFFSET ?",
            (limit, offset),
        )
        return [
            OpenReview(_review(row), row["execution_label"], row["crew_name"], row["started_by"])
            for row in rows
        ]

    async def count_open_reviews(self) -> int:
        row = await _one(
            self._db,
            "SELECT COUNT(*) AS n FROM reviews INDEXED BY reviews_open"
            " WHERE state IN ('pending', 'expired')",
        )
        return int(row["n"]) if row else 0

    async def decision_trail(
        self,
        *,
        execution_ref: str | None = None,
        reviewer: str | None = None,
        limit: int = 20,
    ) -> list[TrailEntry]:
        """Decisions, newest first: of one execution, of one reviewer's wins, or of all."""
        args: tuple[str, ...]
        if execution_ref is not None:
            where, args = "WHERE r.execution_ref = ?", (execution_ref,)
        elif reviewer is not None:
            where, args = "WHERE d.reviewer = ? AND d.outcome = 'accepted'", (reviewer,)
        else:
            where, args = "", ()
        rows = await _all(
            self._db,
            "SELECT d.*, COALESCE(e.execution_id, e.ref) AS execution_label,"
            " COALESCE(r.task_name, r.task_id) AS task, r.attempt AS attempt,"
            " r.decision_id AS standing_id, r.delivery AS delivery,"
            " r.resume_status AS resume_status, r.resume_error AS resume_error"
            " FROM decisions AS d JOIN reviews AS r ON r.id = d.review_id"
            f" JOIN executions AS e ON e.ref = r.execution_ref {where}"
            " ORDER BY d.id DESC LIMIT ?",
            (*args, limit),
        )
        return [
            TrailEntry(
                decision=_decision_of(row),
                execution_label=row["execution_label"],
                task=row["task"],
                attempt=row["attempt"],
                standing=row["standing_id"] == row["id"],
                delivery=Delivery(row["delivery"]),
                resume_status=row["resume_status"],
                resume_error=row["resume_error"],
            )
            for row in rows
        ]

    async def executions_started_by(self, user: str, *, limit: int) -> list[Execution]:
        rows = await _all(
            self._db,
            "SELECT * FROM executions WHERE started_by = ? ORDER BY created_at DESC LIMIT ?",
            (user, limit),
        )
        return [_execution(row) for row in rows]

    async def home_viewed(self, user: str, *, page: int | None = None) -> None:
        """Remember that `user` looks at their Home tab, on `page` if given."""
        async with self._transaction() as db:
            await db.execute(
                "INSERT INTO home_viewers (user, page, opened_at) VALUES (?, ?, ?)"
                " ON CONFLICT (user) DO UPDATE SET opened_at = excluded.opened_at,"
                " page = COALESCE(?, page)",
                (user, page or 0, time.time(), page),
            )

    async def home_page(self, user: str) -> int:
        row = await _one(self._db, "SELECT page FROM home_viewers WHERE user = ?", (user,))
        return int(row["page"]) if row else 0

    async def home_viewers(self, since: float) -> list[str]:
        """The users who opened their Home tab since `since`."""
        rows = await _all(
            self._db, "SELECT user FROM home_viewers WHERE opened_at >= ? ORDER BY user", (since,)
        )
        return [str(row["user"]) for row in rows]

    async def add_confirmation(
        self, review_id: str, *, channel: str, thread_ts: str, jobs: Iterable[JobSpec] = ()
    ) -> None:
        """Remember to confirm a review's decision in its thread, with the job that posts it."""
        async with self._transaction() as db:
            await db.execute(
                "INSERT INTO confirmations (review_id, channel, thread_ts) VALUES (?, ?, ?)"
                " ON CONFLICT (review_id) DO NOTHING",
                (review_id, channel, thread_ts),
            )
            await self._enqueue_all(db, jobs)

    async def confirmation(self, review_id: str) -> Confirmation | None:
        row = await _one(self._db, "SELECT * FROM confirmations WHERE review_id = ?", (review_id,))
        if row is None:
            return None
        return Confirmation(row["review_id"], row["channel"], row["thread_ts"], row["ts"])

    async def set_confirmation_ts(self, review_id: str, ts: str) -> None:
        async with self._transaction() as db:
            await db.execute("UPDATE confirmations SET ts = ? WHERE review_id = ?", (ts, review_id))

    async def reviews_to_remind(self, *, sent: int, before: float, limit: int) -> list[Review]:
        """Posted pending reviews created before `before` that had `sent` reminders so far."""
        rows = await _all(
            self._db,
            "SELECT * FROM reviews WHERE state = ? AND reminders_sent = ? AND created_at <= ?"
            " AND message_ts IS NOT NULL ORDER BY created_at LIMIT ?",
            (ReviewState.PENDING, sent, before, limit),
        )
        return [_review(row) for row in rows]

    async def mark_reminded(self, review_id: str, *, sent: int, jobs: Iterable[JobSpec]) -> bool:
        """Count one more reminder for a review still pending, with its post; False if not."""
        async with self._transaction() as db:
            cursor = await db.execute(
                "UPDATE reviews SET reminders_sent = ? WHERE id = ? AND state = ?"
                " AND reminders_sent = ?",
                (sent + 1, review_id, ReviewState.PENDING, sent),
            )
            if cursor.rowcount == 0:
                return False
            await self._enqueue_all(db, jobs)
        return True

    async def reviews_to_expire(self, *, before: float, limit: int) -> list[Review]:
        rows = await _all(
            self._db,
            "SELECT * FROM reviews WHERE state = ? AND created_at <= ? ORDER BY created_at LIMIT ?",
            (ReviewState.PENDING, before, limit),
        )
        return [_review(row) for row in rows]

    async def expire(self, review_id: str, *, jobs: Iterable[JobSpec] = ()) -> bool:
        """Mark a pending review expired, with the jobs that show it; False if it is not pending."""
        async with self._transaction() as db:
            row = await _one(db, "SELECT state FROM reviews WHERE id = ?", (review_id,))
            if row is None or row["state"] != ReviewState.PENDING:
                return False
            await db.execute(
                "UPDATE reviews SET state = ?, updated_at = ? WHERE id = ?",
                (states.expire(ReviewState(row["state"])), time.time(), review_id),
            )
            await self._enqueue_all(db, jobs)
        return True

    # Outbox jobs

    async def enqueue(self, jobs: Iterable[JobSpec]) -> None:
        async with self._transaction() as db:
            await self._enqueue_all(db, jobs)

    async def _enqueue_all(self, db: aiosqlite.Connection, jobs: Iterable[JobSpec]) -> None:
        specs = list(jobs)
        if not specs:
            return
        added: bool = await db._execute(_insert_jobs, db._conn, specs)  # type: ignore[no-untyped-call]
        if added:
            self._jobs_enqueued()

    def _jobs_enqueued(self) -> None:
        for event in self._listeners:
            event.set()

    async def due_jobs(self, now: float, *, busy_lanes: Iterable[str], limit: int) -> list[Job]:
        """The oldest ready job of each lane that is not busy, if its time has come.

        Jobs of one lane run one at a time, in the order they were enqueued.
        """
        busy = list(busy_lanes)
        exclude = f" AND lanes.lane NOT IN ({', '.join('?' * len(busy))})" if busy else ""
        # The lanes are walked one index seek at a time, so a long queue in one lane costs
        # no more than a short one; a GROUP BY would read every ready job.
        rows = await _all(
            self._db,
            "WITH RECURSIVE lanes(lane) AS ("
            " SELECT (SELECT lane FROM jobs WHERE state = 'ready' ORDER BY lane LIMIT 1)"
            " UNION ALL SELECT (SELECT lane FROM jobs WHERE state = 'ready' AND lane > lanes.lane"
            " ORDER BY lane LIMIT 1) FROM lanes WHERE lanes.lane IS NOT NULL)"
            " SELECT jobs.* FROM lanes JOIN jobs ON jobs.id = (SELECT id FROM jobs"
            " WHERE state = 'ready' AND lane = lanes.lane ORDER BY id LIMIT 1)"
            f" WHERE jobs.run_at <= ?{exclude} ORDER BY jobs.run_at, jobs.id LIMIT ?",
            (now, *busy, limit),
        )
        return [_job(row) for row in rows]

    async def next_run_at(self) -> float | None:
        row = await _one(self._db, "SELECT MIN(run_at) AS t FROM jobs WHERE state = 'ready'")
        return float(row["t"]) if row and row["t"] is not None else None

    async def start_job(self, job_id: int) -> None:
        async with self._statement() as db:
            await db.execute(
                "UPDATE jobs SET state = 'running', attempts = attempts + 1, updated_at = ?"
                " WHERE id = ?",
                (time.time(), job_id),
            )

    async def finish_job(self, job_id: int, jobs: Iterable[JobSpec] = ()) -> None:
        follow_ups = list(jobs)
        async with self._transaction() if follow_ups else self._statement() as db:
            await db.execute("DELETE FROM jobs WHERE id = ?", (job_id,))
            await self._enqueue_all(db, follow_ups)

    async def retry_job(
        self, job_id: int, *, run_at: float, error: str, payload: dict[str, Any] | None = None
    ) -> None:
        """Make a job ready again at `run_at`, replacing its payload where one is given."""
        async with self._statement() as db:
            await db.execute(
                "UPDATE jobs SET state = 'ready', run_at = ?, last_error = ?, updated_at = ?,"
                " payload = COALESCE(?, payload) WHERE id = ?",
                (run_at, error, time.time(), None if payload is None else dumps(payload), job_id),
            )

    async def fail_job(self, job_id: int, *, error: str) -> None:
        """Keep a job that can no longer succeed, for an operator to look at."""
        async with self._transaction() as db:
            await db.execute(
                "UPDATE jobs SET state = 'failed', last_error = ?, updated_at = ? WHERE id = ?",
                (error, time.time(), job_id),
            )

    async def requeue_running_jobs(self) -> int:
        """Make jobs that were running when the bot stopped ready again; their count.

        Each is marked `interrupted` in its payload: its effect may have happened already.
        """
        async with self._transaction() as db:
            cursor = await db.execute(
                "UPDATE jobs SET state = 'ready', updated_at = ?,"
                " payload = json_set(payload, '$.interrupted', json('true'))"
                " WHERE state = 'running'",
                (time.time(),),
            )
            return cursor.rowcount

    async def jobs(self, state: str | None = None) -> list[Job]:
        query = "SELECT * FROM jobs"
        args: tuple[Any, ...] = ()
        if state is not None:
            query += " WHERE state = ?"
            args = (state,)
        rows = await _all(self._db, query + " ORDER BY id", args)
        return [_job(row) for row in rows]

    # Slack events

    async def first_sight(self, event_id: str, *, keep: float) -> bool:
        """Remember a Slack event id; False when it was seen in the last `keep` seconds."""
        now = time.time()
        async with self._transaction() as db:
            await db.execute("DELETE FROM slack_events WHERE seen_at < ?", (now - keep,))
            cursor = await db.execute(
                "INSERT INTO slack_events (event_id, seen_at) VALUES (?, ?)"
                " ON CONFLICT (event_id) DO NOTHING",
                (event_id, now),
            )
            return cursor.rowcount == 1


def _atomically(db: sqlite3.Connection, work: Callable[[sqlite3.Connection], T]) -> T:
    """`work` as one transaction, on the database's thread."""
    db.execute("BEGIN IMMEDIATE")
    try:
        result = work(db)
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")
    return result


def _insert_jobs(db: sqlite3.Connection, jobs: Iterable[JobSpec]) -> bool:
    """Insert outbox jobs, leaving out a coalescing one that already waits; whether any was."""
    now = time.time()
    added = False
    for spec in jobs:
        if spec.coalesce:
            waiting = db.execute(
                "SELECT 1 FROM jobs WHERE kind = ? AND key = ? AND state = 'ready'"
                " AND attempts = 0",
                (spec.kind, spec.key),
            ).fetchone()
            if waiting is not None:
                continue
        db.execute(
            "INSERT INTO jobs (kind, key, lane, payload, state, run_at, deadline,"
            " created_at, updated_at) VALUES (?, ?, ?, ?, 'ready', ?, ?, ?, ?)",
            (
                spec.kind,
                spec.key,
                spec.lane,
                dumps(spec.payload or {}),
                now,
                spec.deadline,
                now,
                now,
            ),
        )
        added = True
    return added


def _keyed(spec: JobSpec, review_id: str) -> JobSpec:
    """A job spec whose key or payload names a review that did not exist when it was made."""
    if spec.key:
        return spec
    return JobSpec(
        spec.kind, review_id, spec.lane, spec.payload, spec.deadline, coalesce=spec.coalesce
    )


def _statements(script: str) -> list[str]:
    return [statement.strip() for statement in script.split(";") if statement.strip()]


# Each call is one trip to the database thread: a cursor's execute, fetch and close are three.
async def _one(
    db: aiosqlite.Connection, query: str, args: Sequence[Any] = ()
) -> sqlite3.Row | None:
    rows = list(await db.execute_fetchall(query, args))
    return rows[0] if rows else None


async def _all(db: aiosqlite.Connection, query: str, args: Sequence[Any] = ()) -> list[sqlite3.Row]:
    return list(await db.execute_fetchall(query, args))


async def _decision(db: aiosqlite.Connection, decision_id: int | None) -> Decision | None:
    if decision_id is None:
        return None
    row = await _one(db, "SELECT * FROM decisions WHERE id = ?", (decision_id,))
    return _decision_of(row) if row else None


def _execution(row: sqlite3.Row) -> Execution:
    return Execution(
        ref=row["ref"],
        execution_id=row["execution_id"],
        channel=row["channel"],
        secret=row["secret"],
        url_secret=row["url_secret"],
        webhooks=WebhookUrls(
            task=row["task_webhook_url"],
            step=row["step_webhook_url"],
            crew=row["crew_webhook_url"],
        ),
        source=row["source"],
        state=row["state"],
        crew_name=row["crew_name"],
        started_by=row["started_by"],
        inputs=json.loads(row["inputs"]),
        thread_ts=row["thread_ts"],
        result=row["result"],
        created_at=row["created_at"],
        finished_at=row["finished_at"],
    )


def _review(row: sqlite3.Row) -> Review:
    return Review(
        id=row["id"],
        execution_ref=row["execution_ref"],
        task_id=row["task_id"],
        attempt=row["attempt"],
        output=row["output"],
        state=ReviewState(row["state"]),
        delivery=Delivery(row["delivery"]),
        task_name=row["task_name"],
        channel=row["channel"],
        message_ts=row["message_ts"],
        thread_ts=row["thread_ts"],
        decision_id=row["decision_id"],
        resume_status=row["resume_status"],
        resume_error=row["resume_error"],
        resume_attempts=row["resume_attempts"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


def _decision_of(row: sqlite3.Row) -> Decision:
    return Decision(
        id=row["id"],
        review_id=row["review_id"],
        kind=DecisionKind(row["kind"]),
        reviewer=row["reviewer"],
        feedback=row["feedback"],
        source=row["source"],
        created_at=row["created_at"],
        outcome=row["outcome"],
    )


def _job(row: sqlite3.Row) -> Job:
    return Job(
        id=row["id"],
        kind=row["kind"],
        key=row["key"],
        lane=row["lane"],
        payload=json.loads(row["payload"]),
        attempts=row["attempts"],
        run_at=row["run_at"],
        deadline=row["deadline"],
        last_error=row["last_error"],
        created_at=row["created_at"],
    )
