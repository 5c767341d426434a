"""The outbox worker: runs stored jobs until they succeed, with backoff, per-lane order and pacing.

A job stays in the store until its handler returns, so a crash or a stop at any point leaves
it to run again at the next start (at least once; handlers are written to be idempotent).
Jobs of one lane (a Slack channel, an AMP execution) run one at a time and in order; a lane
that Slack rate-limits is paused for `Retry-After` while the other lanes go on.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping

from bot.records import Job
from bot.store import JobSpec, Store

logger = logging.getLogger(__name__)

Handler = Callable[[Job], Awaitable[Iterable[JobSpec] | None]]
GiveUp = Callable[[Job, str], Awaitable[None]]


class Retry(Exception):
    """The job failed in a way worth another try: after `delay` seconds, or with backoff.

    `pause_lane` holds back the job's whole lane for the delay (a rate limit).
    """

    def __init__(
        self,
        reason: str,
        *,
        delay: float | None = None,
        pause_lane: bool = False,
        payload: Mapping[str, object] | None = None,
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.delay = delay
        self.pause_lane = pause_lane
        self.payload = dict(payload or {})


class GiveUpNow(Exception):
    """The job can never succeed; it is kept as failed and its give-up handler runs."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Backoff:
    """Exponential backoff with jitter: about `base * 2**n`, at most `cap` seconds."""

    def __init__(self, base: float = 1.0, cap: float = 60.0) -> None:
        self.base = base
        self.cap = cap

    def delay(self, attempt: int) -> float:
        ceiling = min(self.cap, self.base * 2 ** max(0, attempt - 1))
        return float(ceiling / 2 + random.uniform(0, ceiling / 2))


class Outbox:
    """Runs the store's ready jobs with the handler registered for each kind."""

    def __init__(
        self,
        store: Store,
        handlers: Mapping[str, Handler],
        *,
        give_up: Mapping[str, GiveUp] | None = None,
        backoff: Backoff | None = None,
        concurrency: int = 16,
    ) -> None:
        self._store = store
        self._handlers = dict(handlers)
        self._give_up = dict(give_up or {})
        self._backoff = backoff or Backoff()
        self._concurrency = concurrency
        self._wake = asyncio.Event()
        self._busy: set[str] = set()
        self._paused: dict[str, float] = {}
        self._running: set[asyncio.Task[None]] = set()
        self._loop_task: asyncio.Task[None] | None = None
        self._stopping = False
        store.on_job(self._wake)

    @property
    def running(self) -> bool:
        return self._loop_task is not None and not self._loop_task.done()

    async def start(self) -> None:
        requeued = await self._store.requeue_running_jobs()
        if requeued:
            logger.warning(
                "Outbox: %d job(s) were interrupted by the last stop; running again", requeued
            )
        self._loop_task = asyncio.create_task(self._loop(), name="outbox")

    async def stop(self, grace: float = 5.0) -> None:
        """Stop taking jobs, let running ones finish for up to `grace` seconds, then cancel them.

        A cancelled job stays in the store and runs again at the next start.
        """
        self._stopping = True
        self._wake.set()
        if self._loop_task is not None:
            await self._loop_task
        if self._running:
            _, late = await asyncio.wait(self._running, timeout=grace)
            for task in late:
                task.cancel()
            if late:
                logger.warning("Outbox: %d job(s) left for the next start", len(late))
                await asyncio.wait(late)

    def wake(self) -> None:
        self._wake.set()

    async def _loop(self) -> None:
        while not self._stopping:
            self._wake.clear()
            try:
                await self._take_due_jobs()
            except Exception:
                logger.exception("Outbox: reading due jobs failed; trying again shortly")
            await self._sleep()

    async def _take_due_jobs(self) -> None:
        free = self._concurrency - len(self._running)
        if free <= 0:
            return
        now = time.time()
        self._paused = {lane: until for lane, until in self._paused.items() if until > now}
        blocked = self._busy | set(self._paused)
        for job in await self._store.due_jobs(now, busy_lanes=blocked, limit=free):
            self._busy.add(job.lane)
            task = asyncio.create_task(self._run(job), name=f"job-{job.id}")
            self._running.add(task)
            task.add_done_callback(self._running.discard)

    async def _sleep(self) -> None:
        next_at = await self._store.next_run_at()
        timeout = 1.0 if next_at is None else max(0.0, min(1.0, next_at - time.time()))
        if self._paused:
            timeout = min(timeout, max(0.0, min(self._paused.values()) - time.time()))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout=max(timeout, 0.005))

    async def _run(self, job: Job) -> None:
        handler = self._handlers.get(job.kind)
        try:
            if handler is None:
                raise GiveUpNow(f"no handler for jobs of kind {job.kind!r}")
            await self._store.start_job(job.id)
            follow_ups = await handler(job)
            await self._store.finish_job(job.id, follow_ups or ())
        except Retry as exc:
            await self._retry(job, exc)
        except GiveUpNow as exc:
            await self._fail(job, exc.reason)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            logger.exception("Outbox: job %d (%s %s) raised; retrying", job.id, job.kind, job.key)
            await self._retry(job, Retry(f"unexpected error: {type(exc).__name__}"))
        finally:
            self._busy.discard(job.lane)
            self._wake.set()

    async def _retry(self, job: Job, exc: Retry) -> None:
        attempts = job.attempts + 1
        delay = exc.delay if exc.delay is not None else self._backoff.delay(attempts)
        run_at = time.time() + delay
        if job.deadline is not None and run_at > job.deadline:
            await self._fail(job, f"gave up after {attempts} attempt(s): {exc.reason}")
            return
        if exc.pause_lane:
            self._paused[job.lane] = run_at
        payload = {**job.payload, **exc.payload} if exc.payload else None
        await self._store.retry_job(job.id, run_at=run_at, error=exc.reason, payload=payload)
        logger.info(
            "Outbox: job %d (%s %s) retrying in %.1fs: %s",
            job.id,
            job.kind,
            job.key,
            delay,
            exc.reason,
        )

    async def _fail(self, job: Job, reason: str) -> None:
        await self._store.fail_job(job.id, error=reason)
        logger.error("Outbox: job %d (%s %s) failed: %s", job.id, job.kind, job.key, reason)
        give_up = self._give_up.get(job.kind)
        if give_up is not None:
            try:
                await give_up(job, reason)
            except Exception:
                logger.exception("Outbox: give-up handler of job %d raised", job.id)
