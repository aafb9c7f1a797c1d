"""The cron scheduler. Runs only in the process holding the project's runner lock (the app or the daemon).

It sleeps until the earliest next fire time (no per-second polling), waking early when a schedule
changes (``reload()``, or a file changed on disk: a cheap stat check every few seconds). At a fire time it
records the fire in ``schedule_fires`` (UNIQUE orchestration + time, in the job history): only the process
whose insert succeeds enqueues, so a fire time produces exactly one job even if two schedulers race. A fire
while the orchestration already has a waiting or processing job is skipped and logged, never stacked.

Missed fires (no scheduler was running): ``checked_until`` per orchestration remembers how far the scheduler
got. By default missed fires are dropped; ``catchup = "latest"`` runs the latest missed one, once.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Callable

from kbc_tui.engine.clock import RealClock
from kbc_tui.engine.schedule import next_runs
from kbc_tui.errors import KbcError
from kbc_tui.model.job import Trigger

if TYPE_CHECKING:
    from kbc_tui.engine.engine import Engine
    from kbc_tui.model.orchestration import Orchestration

FILE_CHECK_SECONDS = 5.0
SCHEMA = """
CREATE TABLE IF NOT EXISTS schedule_fires (
    orchestration TEXT NOT NULL,
    fire_at REAL NOT NULL,
    outcome TEXT NOT NULL,
    job_id INTEGER,
    recorded_at REAL NOT NULL,
    PRIMARY KEY (orchestration, fire_at)
);
CREATE TABLE IF NOT EXISTS schedule_state (
    orchestration TEXT PRIMARY KEY,
    checked_until REAL NOT NULL
);
"""

log = logging.getLogger("kbc_tui.scheduler")


class Scheduler:
    def __init__(self, engine: "Engine", clock=None, file_check_seconds: float = FILE_CHECK_SECONDS,
                 say: Callable[[str], None] | None = None) -> None:
        self.engine = engine
        self.clock = clock or RealClock()
        self.file_check_seconds = file_check_seconds
        self.say = say or log.info
        self._wake = asyncio.Event()
        self._task: asyncio.Task | None = None
        for statement in SCHEMA.split(";"):
            if statement.strip():
                engine.history.execute(statement)

    # -- lifecycle -------------------------------------------------------------------------
    async def start(self) -> None:
        self._catch_up()
        self._task = asyncio.create_task(self._loop(), name="kbc-scheduler")

    def reload(self) -> None:
        """A schedule changed: recompute the next fire times now."""
        self._wake.set()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    # -- schedules --------------------------------------------------------------------------
    def schedules(self) -> list["Orchestration"]:
        return [o for o in self.engine.project.orchestrations.values()
                if o.schedule is not None and o.schedule.enabled]

    def _checked_until(self, orch_id: str) -> datetime | None:
        rows = self.engine.history.execute("SELECT checked_until FROM schedule_state WHERE orchestration = ?",
                                           (orch_id,))
        return datetime.fromtimestamp(rows[0][0], timezone.utc) if rows else None

    def _set_checked(self, orch_id: str, moment: datetime) -> None:
        self.engine.history.execute(
            "INSERT INTO schedule_state (orchestration, checked_until) VALUES (?, ?) ON CONFLICT (orchestration) "
            "DO UPDATE SET checked_until = max(checked_until, excluded.checked_until)", (orch_id, moment.timestamp()))

    def next_fire(self, orch: "Orchestration", now: datetime) -> datetime | None:
        after = max(filter(None, [self._checked_until(orch.id), now - timedelta(seconds=1)]))
        try:
            runs = next_runs(orch.schedule, 1, after=after)
        except KbcError:
            return None  # an invalid schedule is reported by validation; it never fires
        return runs[0] if runs else None

    # -- the loop ---------------------------------------------------------------------------------
    def _catch_up(self) -> None:
        now = self.clock.now()
        for orch in self.schedules():
            checked = self._checked_until(orch.id)
            if checked is None:
                self._set_checked(orch.id, now)  # never ran a scheduler: nothing was missed
                continue
            latest = self._latest_due(orch, checked, now)
            if latest is not None:
                if orch.schedule.catchup == "latest":
                    self.say(f"{orch.id}: runs were missed while no scheduler ran; running the latest "
                             f"({latest.isoformat()}) once (catchup = \"latest\")")
                    self.fire(orch, latest)
                else:
                    self.say(f"{orch.id}: runs were missed while no scheduler ran (the latest at "
                             f"{latest.isoformat()}); not run: set catchup = \"latest\" to run it")
            self._set_checked(orch.id, now)

    async def _loop(self) -> None:
        while True:
            self.tick()
            now = self.clock.now()
            upcoming = [f for f in (self.next_fire(o, now) for o in self.schedules()) if f is not None]
            deadline = min(upcoming, default=now + timedelta(hours=1))
            deadline = min(deadline, now + timedelta(seconds=self.file_check_seconds))
            self._wake.clear()
            await self.clock.sleep_until(deadline, self._wake)
            self._reload_if_changed()

    def _reload_if_changed(self) -> None:
        try:
            if self.engine.project.changed_on_disk():
                self.engine.reload_project()
                self.say("project files changed on disk: schedules reloaded")
        except Exception as exc:  # a broken file is reported by validation; keep scheduling the rest
            self.say(f"could not reload the project: {exc}")

    def tick(self) -> list[int]:
        """Fire everything due now; returns the job ids enqueued."""
        now = self.clock.now()
        jobs = []
        for orch in self.schedules():
            latest = self._latest_due(orch, self._checked_until(orch.id) or now, now)
            if latest is not None:
                job_id = self.fire(orch, latest)  # never a flood: the latest due time, once
                if job_id is not None:
                    jobs.append(job_id)
            self._set_checked(orch.id, now)
        return jobs

    @staticmethod
    def _latest_due(orch: "Orchestration", after: datetime, now: datetime) -> datetime | None:
        """The latest fire time in (after, now], or None."""
        latest = None
        while True:
            try:
                batch = next_runs(orch.schedule, 100, after=after)
            except KbcError:
                return None
            due = [t for t in batch if t <= now]
            if due:
                latest = due[-1]
            if len(due) < len(batch) or not batch:
                return latest
            after = batch[-1]

    def fire(self, orch: "Orchestration", moment: datetime) -> int | None:
        """Record the fire (exactly once across processes) and enqueue, unless the orchestration is busy."""
        with self.engine.history.transaction() as db:
            inserted = db.execute(
                "INSERT OR IGNORE INTO schedule_fires (orchestration, fire_at, outcome, recorded_at) "
                "VALUES (?, ?, 'pending', ?)", (orch.id, moment.timestamp(), self.clock.now().timestamp())).rowcount
            busy = db.execute("SELECT id FROM jobs WHERE orchestration = ? AND status IN ('waiting', 'processing') "
                              "ORDER BY id LIMIT 1", (orch.id,)).fetchone()
            if inserted and busy:
                db.execute("UPDATE schedule_fires SET outcome = 'skipped', job_id = ? WHERE orchestration = ? "
                           "AND fire_at = ?", (busy[0], orch.id, moment.timestamp()))
        if not inserted:
            return None  # another scheduler fired this time already
        if busy:
            self.say(f"{orch.id}: scheduled run at {moment.isoformat()} skipped: job {busy[0]} is still "
                     f"{self.engine.history.job(busy[0], with_tasks=False).status.value}")
            self.engine.add_log(busy[0], "warning", f"Scheduled run at {moment.isoformat()} skipped: this job "
                                                    "was still running")
            return None
        job = self.engine.history.create_job(orch.id, Trigger.SCHEDULE, "scheduler")
        self.engine.history.execute("UPDATE schedule_fires SET outcome = 'enqueued', job_id = ? WHERE "
                                    "orchestration = ? AND fire_at = ?", (job.id, orch.id, moment.timestamp()))
        self.engine._emit_job(job)
        self.engine._wake.set()
        self.say(f"{orch.id}: scheduled run at {moment.isoformat()} -> job {job.id}")
        return job.id


def fires(engine: "Engine", orchestration: str) -> list[tuple[datetime, str, int | None]]:
    """(fire time, outcome, job id) recorded for an orchestration, oldest first."""
    rows = engine.history.execute("SELECT fire_at, outcome, job_id FROM schedule_fires WHERE orchestration = ? "
                                  "ORDER BY fire_at", (orchestration,))
    return [(datetime.fromtimestamp(r[0], timezone.utc), r[1], r[2]) for r in rows]

