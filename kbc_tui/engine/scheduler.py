"""The cron scheduler. Runs only in the process holding the project's runner lock (the app or the daemon); with a
shared state (``[state] url``) in every ``kbc-tui scheduler``, on any server, lock or not.

It sleeps until the earliest next fire time (no per-second polling), waking early when a schedule
changes (``reload()``, or a file changed on disk: a cheap stat check every few seconds). At a fire time it
records the fire in the job history (``record_fire``: once per orchestration and time): only the process
whose record succeeds enqueues, so a fire time produces exactly one job even if two schedulers race. A fire
while the orchestration already has a waiting or processing job is skipped and logged, never stacked.

Hand-over and missed fires: every scheduler writes a heartbeat (the ``*`` key of ``checked_until``) every
``HEARTBEAT_SECONDS`` and when it stops. A new scheduler looks at the latest fire time that fell due since
then and was not recorded: if the previous scheduler was alive less than ``HANDOVER_SECONDS`` before this one
took over (a killed daemon restarted, the app quit with a daemon waiting), or the time fell due after this
one took over, the runner merely changed hands and that run goes ahead, once. After a real gap (no scheduler
for longer) the run was missed: dropped by default, run once with ``catchup = "latest"``. A fire time already
recorded is never reported as missed.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Callable

from kbc_tui.engine.clock import RealClock
from kbc_tui.engine.schedule import next_runs
from kbc_tui.errors import KbcError, StateError

if TYPE_CHECKING:
    from kbc_tui.engine.engine import Engine
    from kbc_tui.model.orchestration import Orchestration

FILE_CHECK_SECONDS = 5.0
HEARTBEAT_SECONDS = 10.0
#: a scheduler alive less than this before the next one took over: the runner changed hands, nothing was missed
HANDOVER_SECONDS = 60.0
RETRY_AFTER_ERROR_SECONDS = 5.0
ALIVE = "*"  # the checked_until key that says until when a scheduler was running

log = logging.getLogger("kbc_tui.scheduler")


class Scheduler:
    def __init__(self, engine: "Engine", clock=None, file_check_seconds: float = FILE_CHECK_SECONDS,
                 say: Callable[[str], None] | None = None, start_delay: float = 0.0) -> None:
        self.engine = engine
        self.start_delay = start_delay  # the app starts planning after its first frame
        self.clock = clock or RealClock()
        self.file_check_seconds = file_check_seconds
        self.say = say or log.info
        self._wake = asyncio.Event()
        self._task: asyncio.Task | None = None
        #: orchestration id -> its next fire time; planned once per change, not per wake-up
        self.plan: dict[str, datetime] | None = None
        self._reloads = 0  # a plan made in a thread is kept only if no reload came while it was being made
        self._last_heartbeat: datetime | None = None

    # -- lifecycle -------------------------------------------------------------------------
    async def start(self) -> None:
        """Start in the background: planning a thousand schedules must not hold up the app's first frame."""
        self._task = asyncio.create_task(self._loop(), name="kbc-scheduler")

    @property
    def running(self) -> bool:
        """Whether its loop is alive (a state failure ends it: the engine decides when to start again)."""
        return self._task is not None and not self._task.done()

    def reload(self) -> None:
        """A schedule changed: plan again now."""
        self.plan = None
        self._reloads += 1
        self._wake.set()

    async def stop(self) -> None:
        """Stop, recording until when this scheduler ran (never raises: a failed last heartbeat only makes
        the next scheduler see a longer gap)."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
            try:
                self._heartbeat(self.clock.now())
            except KbcError as exc:
                self.say(f"could not record the scheduler's stop: {exc}")

    # -- state ---------------------------------------------------------------------------------
    def schedules(self) -> list["Orchestration"]:
        return [o for o in self.engine.project.orchestrations.values()
                if o.schedule is not None and o.schedule.enabled]

    def _state(self) -> dict[str, datetime]:
        return self.engine.history.checked_until()

    def _heartbeat(self, now: datetime) -> None:
        """Until when a scheduler ran (for catch-up after downtime): one row, written once a minute."""
        self.engine.history.advance_checked_until(ALIVE, now)
        self._last_heartbeat = now

    def _since(self, orch_id: str, state: dict[str, datetime], now: datetime) -> datetime:
        """Fires after this moment were not handled by a scheduler before: the last time a scheduler ran, or
        when the schedule was first seen (a new schedule never catches up from before it existed)."""
        if orch_id not in state:
            self.engine.history.start_checked_until(orch_id, now)
            state[orch_id] = now
        alive = state.get(ALIVE)
        return max(state[orch_id], alive) if alive else state[orch_id]

    def _next_after(self, orch: "Orchestration", after: datetime) -> datetime | None:
        try:
            runs = next_runs(orch.schedule, 1, after=after)
        except KbcError:
            return None  # an invalid schedule is reported by validation; it never fires
        return runs[0] if runs else None

    def _make_plan(self, now: datetime, handled: datetime | None = None) -> dict[str, datetime]:
        """Each schedule's next fire time. ``handled``: fires until then were dealt with (by the catch-up, which
        runs them or says they were missed); else a fire up to a second ago is still planned (a schedule saved
        just after its new fire time)."""
        state = self._state()
        plan = {}
        floor = handled if handled is not None else now - timedelta(seconds=1)
        for orch in self.schedules():
            # a fire exactly at ``since`` is ours too (a fire time is recorded once: one job)
            after = max(self._since(orch.id, state, now), floor) - timedelta(microseconds=1)
            first = self._next_after(orch, after)
            if first is not None:
                plan[orch.id] = first
        return plan

    # -- the loop ---------------------------------------------------------------------------
    def _start_state(self, started: datetime, now: datetime) -> tuple[list[tuple["Orchestration", datetime, bool]],
                                                                       dict[str, datetime]]:
        """([(schedule, its latest unrecorded due fire, missed?)], the plan): CPU work for many schedules, run
        in a thread. ``started``: when this scheduler took over; ``now``: after the start-up delay."""
        state = self._state()
        alive = state.get(ALIVE)
        handover = alive is not None and (started - alive).total_seconds() <= HANDOVER_SECONDS
        due = []
        for orch in self.schedules():
            since = self._since(orch.id, state, started)
            latest = self._latest_due(orch, since, now)
            if latest is None or self._recorded(orch.id, latest):
                continue  # nothing fell due, or the scheduler before us fired (or skipped) it: not missed
            due.append((orch, latest, not (handover or latest >= started)))
        return due, self._make_plan(now, handled=now)

    def _recorded(self, orch_id: str, moment: datetime) -> bool:
        return self.engine.history.fire_recorded(orch_id, moment)

    async def _catch_up(self) -> None:
        started = self.clock.now()
        if self.start_delay:
            await asyncio.sleep(self.start_delay)
        now = self.clock.now()
        reloads = self._reloads  # a reload while catching up: the plan made here is not kept
        due, plan = await asyncio.to_thread(self._start_state, started, now)
        for orch, latest, missed in due:
            if not missed:
                self.say(f"{orch.id}: the run at {latest.isoformat()} fell due while the runner changed hands; "
                         "running it now")
                self.fire(orch, latest)
            elif orch.schedule.catchup == "latest":
                self.say(f"{orch.id}: runs were missed while no scheduler ran; running the latest "
                         f"({latest.isoformat()}) once (catchup = \"latest\")")
                self.fire(orch, latest)
            else:
                self.say(f"{orch.id}: runs were missed while no scheduler ran (the latest at "
                         f"{latest.isoformat()}); not run: set catchup = \"latest\" to run it")
        if reloads == self._reloads:  # else a schedule changed meanwhile: the next step plans again
            self.plan = plan
        self._heartbeat(now)

    async def _loop(self) -> None:
        """Never dies quietly: a history that cannot be written stops the engine's runner (loudly); any other
        error is said and the loop goes on a few seconds later."""
        caught_up = False
        while True:
            try:
                if not caught_up:
                    await self._catch_up()
                    caught_up = True
                await self._step()
            except asyncio.CancelledError:
                raise
            except StateError as exc:
                if self.engine.history_failed(exc):
                    continue  # the disk was full and the reserve was given back to it: the same step once more
                return  # the engine stops running jobs and schedules; the runner that takes over catches up
            except Exception as exc:  # a bug must not end scheduling: say it, try again shortly
                log.exception("scheduler step failed")
                self.say(f"scheduler error (retrying in {RETRY_AFTER_ERROR_SECONDS:g} s): {type(exc).__name__}: {exc}")
                self.plan = None
                await asyncio.sleep(RETRY_AFTER_ERROR_SECONDS)

    async def _step(self) -> None:
        if self.plan is None:  # a schedule changed: plan again, off the event loop
            reloads = self._reloads
            plan = await asyncio.to_thread(self._make_plan, self.clock.now())
            if reloads != self._reloads:
                return  # it changed again while this plan was being made: plan again
            self.plan = plan
        self.tick()
        now = self.clock.now()
        deadline = min([*self.plan.values(), now + timedelta(seconds=self.file_check_seconds),
                        (self._last_heartbeat or now) + timedelta(seconds=HEARTBEAT_SECONDS)])
        self._wake.clear()
        await self.clock.sleep_until(deadline, self._wake)
        self._reload_if_changed()

    def _reload_if_changed(self) -> None:
        try:
            if self.engine.project.changed_on_disk():
                self.engine.reload_project()  # calls reload(): the plan is made again
                self.plan = None
                self.say("project files changed on disk: schedules reloaded")
        except Exception as exc:  # a broken file is reported by validation; keep scheduling the rest
            self.say(f"could not reload the project: {exc}")

    def tick(self) -> list[int]:
        """Fire what is due now (only the schedules whose planned time has come); returns job ids enqueued."""
        now = self.clock.now()
        if self.plan is None:
            self.plan = self._make_plan(now)
        jobs = []
        orchs = self.engine.project.orchestrations
        for orch_id, planned in list(self.plan.items()):
            if planned > now:
                continue
            orch = orchs.get(orch_id)
            if orch is None or orch.schedule is None or not orch.schedule.enabled:
                del self.plan[orch_id]
                continue
            latest = self._latest_due(orch, planned - timedelta(microseconds=1), now) or planned
            job_id = self.fire(orch, latest)  # never a flood: after a long sleep, the latest due time once
            if job_id is not None:
                jobs.append(job_id)
            following = self._next_after(orch, now)
            if following is None:
                del self.plan[orch_id]
            else:
                self.plan[orch_id] = following
        if self._last_heartbeat is None or (now - self._last_heartbeat).total_seconds() >= HEARTBEAT_SECONDS:
            self._heartbeat(now)
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
        """Record the fire (exactly once across processes) and enqueue, unless the orchestration is busy.

        "Busy" is a waiting job, or one this runner is executing: a job left ``processing`` by a runner that
        is gone is ended (``terminated``) first, never trusted to block every later run (a shared state: by a
        worker whose heartbeat stopped, whatever machine it ran on)."""
        self.engine.reap_orphans(orch.id)
        # the fire record, the busy check and the job are one transaction: the exactly-once guarantee
        recorded, busy, job = self.engine.history.record_fire(orch.id, moment, self.clock.now(),
                                                              spec_hash=self.engine.spec_hash(orch.id))
        if not recorded:
            return None  # another scheduler fired this time already
        if busy is not None:
            self.say(f"{orch.id}: scheduled run at {moment.isoformat()} skipped: job {busy} is still "
                     f"{self.engine.history.job(busy, with_tasks=False).status.value}")
            self.engine.add_log(busy, "warning", f"Scheduled run at {moment.isoformat()} skipped: this job "
                                                    "was still running")
            return None
        self.engine.feed.job_changed(job)
        self.engine.wake_runner()
        self.say(f"{orch.id}: scheduled run at {moment.isoformat()} -> job {job.id}")
        return job.id


def fires(engine: "Engine", orchestration: str) -> list[tuple[datetime, str, int | None]]:
    """(fire time, outcome, job id) recorded for an orchestration, oldest first."""
    return engine.history.fires(orchestration)

