"""The Engine facade: the one API the TUI, the CLI and the scheduler use (see ``kbc_tui.engine``).

One job queue per project (the ``waiting`` jobs in ``.kbc/jobs.sqlite``). The process holding
the runner lock executes them; any other process only enqueues and watches, by polling the history
(its events then come from there), and retries the lock so it takes over when the holder quits.

With ``[state] url`` (a shared PostgreSQL state) every checkout's lock holder is a *worker*: any number of them
on any number of machines claim jobs from the one queue (``claim_job`` never lets two jobs of an orchestration
run at once), beat their hearts, and end the jobs of workers that stopped answering (``engine/workers.py``).
The lock then only guards this checkout's own files (the DuckDB storage, scratch), never who runs which job.
"""

from __future__ import annotations

import asyncio
import getpass
import os
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

from kbc_tui.engine.events import EngineProblem, EventBus, JobChanged, LogBatch
from kbc_tui.engine.job_feed import JobFeed
from kbc_tui.engine.lock import RunnerLock
from kbc_tui.engine.recovery import clean_leftovers, reap_orphans
from kbc_tui.engine.reserve import SpaceReserve
from kbc_tui.engine.waiting import wait_event
from kbc_tui.errors import KbcError, StateError, describe_os_error
from kbc_tui.model.job import Job, JobStatus, LogLine, Notification, TaskRun, Trigger
from kbc_tui.model.paths import inside_project, orchestration_file
from kbc_tui.store.history_read_only import ReadOnlyHistory
from kbc_tui.store.history_unavailable import UnavailableHistory
from kbc_tui.store.log_view import JobLogView
from kbc_tui.store.open_state import open_state
from kbc_tui.store.project import Project
from kbc_tui.store.state import JobState
from kbc_tui.storage.pg_storage import open_storage

def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def redacted_url(url: str) -> str:
    """A state URL as messages name it: without a password."""
    from urllib.parse import urlsplit, urlunsplit

    try:
        parts = urlsplit(url)
        if parts.password is None:
            return url
        netloc = parts.netloc.rsplit("@", 1)
        return urlunsplit(parts._replace(netloc=f"{parts.username}@{netloc[-1]}"))
    except ValueError:
        return "the [state] url"


if TYPE_CHECKING:
    from kbc_tui.engine.runner import JobRun

POLL_SECONDS = 0.5
LOCK_RETRY_SECONDS = POLL_SECONDS  # a standby process takes over within this
LOG_FLUSH_SECONDS = 0.1
MAX_CONCURRENT_JOBS = 4
FAULT_RETRY_SECONDS = 5.0  # after the history failed: how often to try running jobs again
STEP_DOWN_SECONDS = 5.0  # after the history failed: how long cancelled jobs get to stop
READER_WINDOW_SECONDS = 0.3  # a reader in another process waits for the storage: the gap it gets between tasks


class Engine:
    def __init__(self, project: Project | str | os.PathLike, *, poll_seconds: float = POLL_SECONDS,
                 lock_retry_seconds: float = LOCK_RETRY_SECONDS, clock=None, scheduler_say=None,
                 scheduler_start_delay: float = 0.0, tolerate_broken_history: bool = False,
                 worker_name: str | None = None, max_jobs: int = MAX_CONCURRENT_JOBS) -> None:
        self.project = project if isinstance(project, Project) else Project.load(Path(project))
        self.root = self.project.root
        self.state_dir = self.project.state_dir
        self.events = EventBus()
        #: job changes, task changes and log lines, to the history and to subscribers (runner, scheduler...)
        self.feed = JobFeed(self.events, lambda lines: self.record(self.history.add_log, lines))
        self.is_runner = False
        self.poll_seconds = poll_seconds
        self.lock_retry_seconds = lock_retry_seconds
        self.clock = clock  # the scheduler's clock (None: the real one); tests pass a FakeClock
        self.scheduler_say = scheduler_say  # where the scheduler reports (None: logging)
        self.scheduler_start_delay = scheduler_start_delay
        #: why this process cannot run jobs now, in words (None: all is well); also sent as ``EngineProblem``
        self.problem: str | None = None
        self._fault: str | None = None  # the history failed under our runner: we stepped down
        self._last_fault: str | None = None
        try:
            storage_path = inside_project(self.root, self.project.settings.storage.path)
        except KbcError as exc:
            raise KbcError(f"kbc.toml: storage.path: {exc}") from None
        try:
            self.history: JobState = open_state(self.project)
        except StateError as exc:
            if not tolerate_broken_history:  # commands say it and exit 1; the app keeps the rest working
                raise
            self.history, self.problem = self._history_for_reading(exc)
        # the DuckDB file at storage_path (DuckDB, and so every SQL script, reads and writes files only in the
        # project and its state folder), or PostgreSQL with [storage] url
        self.storage = open_storage(self.project, duckdb_path=storage_path)
        self.lock = RunnerLock(self.state_dir / "runner.lock")
        self.reserve = SpaceReserve(self.state_dir)
        self.notifier = None
        self.scheduler = None
        self._runs: dict[int, "JobRun"] = {}
        self._own: set[int] = set()  # jobs this process ran: their events are emitted directly
        self._run_tasks: set[asyncio.Task] = set()
        self._cleanup: asyncio.Future | None = None  # the take-over's clean-up (a thread), before the first job
        self._bg: list[asyncio.Task] = []
        self._wake = asyncio.Event()
        self._stopping = False
        self._started = False
        self._want_runner = False
        self._want_scheduler = False
        self._poll_since = 0.0
        self._last_log_id = 0
        self._last_lock_try = 0.0
        self._last_scheduler_try = 0.0
        from kbc_tui.engine.workers import default_worker_name

        #: this process as a worker of a shared state (``[state] url``): its name in the jobs it claims
        self.worker_name = worker_name or default_worker_name()
        self.max_jobs = max(1, max_jobs)  # jobs this process runs at once
        self._heartbeat = None  # a shared state: the heartbeat thread while this process runs jobs
        #: run only these jobs (None: any queued job). ``kbc-tui run`` on a shared state runs its own job only:
        #: a one-off command on a laptop must not pick up the team's queue
        self.run_only: set[int] | None = None

    # -- lifecycle --------------------------------------------------------------------------
    async def start(self, *, run_jobs: bool = True, scheduler: bool = True) -> None:
        if self._started:
            return
        self._started = True
        self.events.bind(asyncio.get_running_loop())
        self._wake = asyncio.Event()
        from kbc_tui.engine.notifier import Notifier

        self.notifier = Notifier(self)
        self.notifier.start()
        self._want_runner, self._want_scheduler = run_jobs, scheduler
        self._poll_since = time.time()
        self._last_log_id = self.history.max_log_id()
        if run_jobs:
            await self._try_become_runner()
        if scheduler and self.shared and self.history.available:
            await self._start_scheduler()  # a shared state: schedules fire from every scheduler, lock or not
        self._bg.append(asyncio.create_task(self._poll_loop(), name="kbc-engine-poll"))
        self._bg.append(asyncio.create_task(self._flush_loop(), name="kbc-engine-log-flush"))

    async def _try_become_runner(self) -> bool:
        self._last_lock_try = time.monotonic()
        if not self.history.available and not self._reopen_history():
            return False
        try:
            if not self.lock.try_acquire():
                return False
        except OSError as exc:
            self._set_problem(f"cannot run jobs: {describe_os_error(exc)}")
            return False
        self.is_runner = True
        try:
            if self.shared:
                self._join_workers()
                if self.notifier is not None:
                    self.notifier.adopt_own()  # e-mails a process of our name left unsent (the wake below sends)
            self._recover()
        except StateError as exc:  # still cannot write the history: try again later
            self._leave_workers()
            self.lock.release()
            self.is_runner = False
            if exc.kind == "worker":  # another live worker has our name: say so, do not keep trying
                self._want_runner = False
                self._set_problem(f"cannot run jobs: {exc}")
                raise
            self._fault = self._last_fault = str(exc)
            self._set_problem(self._fault_words(exc))
            return False
        if self._fault is not None or self.problem is not None:
            self._fault = None
            self._set_problem(None)
        if not self.reserve.ensure():
            self._set_problem(f"disk almost full: no room for the {self.reserve.size // 2**20} MB kbc-tui keeps free "
                              f"in {self.state_dir} to record jobs on a full disk; free space on that disk")
        if self.notifier is not None:
            self.notifier.wake()  # e-mails a runner before us left unsent go out now
        self._bg.append(asyncio.create_task(self._runner_loop(), name="kbc-engine-runner"))
        if self.shared:
            self._bg.append(asyncio.create_task(self._reaper_loop(), name="kbc-engine-runner-reaper"))
        if self._want_scheduler:
            await self._start_scheduler()
        return True

    async def _start_scheduler(self) -> None:
        """Start the scheduler (once). Embedded: in the runner-lock holder only. A shared state: in every process
        that wants one, whether or not it holds this checkout's lock (``record_fire`` makes each fire time one
        job, whichever schedulers see it). A scheduler whose loop ended (a state failure while it fired) is
        replaced: taking over the runner must never keep a dead one, or no schedule fires again."""
        if self.scheduler is not None:
            if self.scheduler.running:
                return
            dead, self.scheduler = self.scheduler, None
            await dead.stop()
        from kbc_tui.engine.scheduler import Scheduler

        self.scheduler = Scheduler(self, clock=self.clock, say=self.scheduler_say,
                                   start_delay=self.scheduler_start_delay)
        await self.scheduler.start()

    def _recover(self) -> None:
        """Jobs left ``processing`` by a runner that died become ``terminated`` (we hold the lock now), and
        what dead processes left behind is removed (scratch files, partial outputs, storage leftovers) in a
        thread: the runner starts jobs once that is done, the app draws meanwhile."""
        # a shared state: other machines' jobs are never judged by pid; the reaper ends those of silent workers
        reaped = [] if self.shared else self.reap_orphans()
        self._cleanup = None
        if reaped or not self.lock.previous_stopped_cleanly:  # the runner before us died: clean up after it
            self._cleanup = asyncio.ensure_future(asyncio.to_thread(clean_leftovers, self.state_dir, self.storage))

    def reap_orphans(self, orchestration: str | None = None) -> list[int]:
        """Jobs marked ``processing`` that no runner executes become ``terminated``, and alert (runner only).

        The runner calls it when it takes over, and the scheduler before it trusts "still running"."""
        if not self.is_runner:
            return []
        if self.shared:
            return self.reap_stale(orchestration)

        def finished(job: Job | None) -> None:
            self.feed.job_changed(job)
            if self.notifier is not None and job is not None:
                self.notifier.job_finished(job.id)  # the alert a dead runner could not send

        return reap_orphans(self.history, self._runs, orchestration=orchestration, own_fault=self._last_fault,
                            finished=finished)

    # -- a shared state: workers ------------------------------------------------------------------------
    @property
    def shared(self) -> bool:
        """Whether the job state is shared by workers on several machines (``[state] url``)."""
        return bool(getattr(self.history, "shared", False)) or bool(self._state_url())

    def _state_url(self) -> str:
        """``KBC_STATE_URL`` or ``[state] url`` ("" for the SQLite history; a bad ``KBC_STATE_URL`` counts as set)."""
        from kbc_tui.store.open_state import ENV_URL, state_url

        try:
            return state_url(self.project)
        except StateError:
            return os.environ.get(ENV_URL, "")

    def _join_workers(self) -> None:
        """Register as a worker and start beating; a job still marked ``processing`` by a previous process
        of this name (it died and was restarted under the same ``--name``) is ended now."""
        from kbc_tui.engine.workers import Heartbeat, join

        join(self.history, self.project, self.worker_name)
        timeout = self.project.settings.state.heartbeat_timeout
        self._heartbeat = Heartbeat(lambda: open_state(self.project), self.worker_name, timeout / 4, timeout)
        self._heartbeat.start()
        for job in self.history.list_jobs(statuses=[JobStatus.PROCESSING], limit=100_000):
            if job.worker == self.worker_name and job.id not in self._runs:
                reason = (f"terminated: the job state could not be written while it ran ({self._last_fault})"
                          if job.pid == os.getpid() and self._last_fault else
                          f"terminated: worker {self.worker_name} stopped while it ran the job (it was started again)")
                self._ended(self.history.terminate_job(job.id, reason, utcnow()))

    def _leave_workers(self, *, unregister: bool = False) -> None:
        heartbeat, self._heartbeat = self._heartbeat, None
        if heartbeat is None:
            return
        heartbeat.stop()
        if unregister:
            try:
                self.history.unregister_worker(self.worker_name)
            except StateError:
                pass  # the others see our heartbeat stop; we run no job by now

    def _ended(self, job: Job | None) -> None:
        """A job another process left was ended here: tell the watchers, send its alert, run the next."""
        if job is None:
            return  # another worker ended it first
        self.feed.job_changed(job)
        if self.notifier is not None:
            self.notifier.job_finished(job.id)
            self.notifier.adopt(job.id)
        self._wake.set()

    def reap_stale(self, orchestration: str | None = None) -> list[int]:
        """End the ``processing`` jobs of workers that stopped beating (a shared state); returns their ids."""
        timeout = self.project.settings.state.heartbeat_timeout
        from kbc_tui.engine.workers import stale_message

        reaped = []
        for job in self.history.stale_jobs(timeout):
            if job.id in self._runs or (orchestration is not None and job.orchestration != orchestration):
                continue
            done = self.history.terminate_job(job.id, stale_message(job.worker, job.pid, timeout), utcnow())
            if done is not None:
                reaped.append(job.id)
                self._ended(done)
        return reaped

    async def _reaper_loop(self) -> None:
        """Every ``heartbeat_timeout / 3`` seconds (and at once): the jobs of silent workers end."""
        every = self.project.settings.state.heartbeat_timeout / 3
        while not self._stopping and self._fault is None:
            try:
                self.record(self.reap_stale)
            except StateError:
                return  # stepped down (loudly)
            except Exception:
                import logging

                logging.getLogger(__name__).exception("reaping stale jobs failed")
            await asyncio.sleep(every)

    async def make_way_for_readers(self) -> None:
        """Between two tasks: if another process waits to read the storage, close it and pause briefly."""
        if self.storage.reader_waiting():
            await asyncio.to_thread(self.storage.make_way)
            await asyncio.sleep(READER_WINDOW_SECONDS)

    # -- when the job history cannot be written -------------------------------------------------
    def history_failed(self, exc: StateError) -> bool:
        """A write to the job history failed (disk full, damaged, read-only). Returns True when the caller
        should write once more: the disk was full and the runner gave its reserve back to it.

        Otherwise this process stops running jobs, loudly: running jobs are cancelled (nothing about them can
        be recorded), the scheduler stops and the runner lock is given up; every few seconds it tries again,
        and the runner that succeeds marks the unrecorded jobs ``terminated`` and sends their alerts."""
        if exc.kind == "full" and self.is_runner and self.reserve.release():
            self._set_problem(f"disk almost full: the job history {self.history.path} filled its disk; kbc-tui "
                              f"used the {self.reserve.size // 2**20} MB it keeps free there to record jobs — free "
                              "space on that disk")
            return True
        if self._fault is not None or self._stopping:
            return False
        self._fault = self._last_fault = str(exc)
        self._set_problem(self._fault_words(exc))
        if self.is_runner:
            self._bg.append(asyncio.create_task(self._step_down(), name="kbc-engine-step-down"))
        return False

    @staticmethod
    def _fault_words(exc: StateError) -> str:
        return (f"{exc} — kbc-tui stopped running jobs in this project and tries again every "
                f"{FAULT_RETRY_SECONDS:g} s")

    async def _step_down(self) -> None:
        for run in list(self._runs.values()):
            run.cancel("cancelled: the job history cannot be written")
        if self.scheduler is not None:
            scheduler, self.scheduler = self.scheduler, None
            await scheduler.stop()
        if self._run_tasks:
            await asyncio.wait(set(self._run_tasks), timeout=STEP_DOWN_SECONDS)
        for task in [t for t in self._bg if t.get_name().startswith("kbc-engine-runner")]:
            task.cancel()
        await self._cleanup_done()
        self._leave_workers()
        self.lock.release()
        self.is_runner = False
        self._last_lock_try = time.monotonic()

    def _set_problem(self, message: str | None) -> None:
        if message == self.problem:
            return
        self.problem = message
        self.events.emit(EngineProblem(message))

    def _history_for_reading(self, exc: StateError):
        """The history could not be opened for writing (``exc``): read-only if it can be read (a full disk, a
        read-only folder: the app still lists the jobs), else one that is empty; and the problem in words."""
        path = self.state_dir / "jobs.sqlite"
        if self._state_url():
            return UnavailableHistory(Path(redacted_url(self._state_url())), exc), \
                f"jobs are unavailable: {exc}"
        if exc.kind in ("readonly", "full"):
            try:
                history = ReadOnlyHistory(path, exc)
                return history, f"cannot run jobs: {history.note}"
            except StateError as other:
                exc = other
        return UnavailableHistory(path, exc), f"jobs are unavailable: {exc}"

    def _reopen_history(self) -> bool:
        """The history file could not be opened for writing at start: try again (it may have been moved aside,
        space freed...)."""
        try:
            history = open_state(self.project)
        except StateError as exc:
            if not isinstance(self.history, ReadOnlyHistory):
                self.history, problem = self._history_for_reading(exc)
                self._set_problem(problem)
            return False
        self.history.close()
        self.history = history
        self._last_log_id = self.history.max_log_id()
        self._set_problem(None)
        return True

    async def stop(self, grace: float = 10.0) -> None:
        """Stop taking jobs; give running ones ``grace`` seconds, then cancel them (state recorded)."""
        if not self._started:
            self.history.close()
            return
        self._stopping = True
        if self.scheduler is not None:
            await self.scheduler.stop()  # never raises: a failed last heartbeat only costs catch-up precision
        if self._run_tasks:
            done, pending = await asyncio.wait(set(self._run_tasks), timeout=grace)
            if pending:
                for run in list(self._runs.values()):
                    run.cancel("cancelled: kbc-tui is shutting down")
                await asyncio.wait(pending, timeout=5)
        if self.notifier is not None:
            await self.notifier.stop()  # e-mails being sent get a moment; the rest stay queued
        for task in self._bg:
            task.cancel()
        await asyncio.gather(*self._bg, return_exceptions=True)
        self._bg.clear()
        self.feed.flush()
        self.events.flush()
        await self._cleanup_done()  # never hand over the lock while the storage file is being rewritten
        self._leave_workers(unregister=True)
        self.lock.release()
        self.is_runner = False
        self.history.close()
        self._started = False

    # -- queue --------------------------------------------------------------------------------
    def default_user(self) -> str:
        return self.project.settings.user.effective_email or getpass.getuser()

    async def enqueue(self, orchestration: str, *, trigger: Trigger = Trigger.MANUAL,
                      triggered_by: str | None = None) -> Job:
        if not orchestration_file(self.root, orchestration).exists():  # KbcError for anything but an id
            raise KbcError(f"unknown orchestration {orchestration!r} (no file orchestrations/{orchestration}.toml)")
        if triggered_by is None:
            triggered_by = self.default_user() if trigger is Trigger.MANUAL else "scheduler"
        digest = await asyncio.to_thread(self.spec_hash, orchestration) if self.shared else None
        job = self.history.create_job(orchestration, trigger, triggered_by, spec_hash=digest)
        self.feed.job_changed(job)
        self._wake.set()
        return job

    def spec_hash(self, orchestration: str) -> str | None:
        """The orchestration's content hash as this checkout has it, stored with each job queued in a shared
        state (None in an embedded one: one checkout, a job runs the configs as saved when it starts)."""
        if not self.shared:
            return None
        from kbc_tui.engine.spec_hash import spec_hash

        return spec_hash(self.root, orchestration)

    async def wait(self, job_id: int) -> Job:
        done = asyncio.Event()

        def listener(event) -> None:
            if isinstance(event, JobChanged) and event.job.id == job_id and event.job.status.finished:
                done.set()

        unsubscribe = self.events.subscribe(listener)
        try:
            while True:
                job = self.history.job(job_id, with_tasks=False)
                if job is None:
                    raise KbcError(f"no job {job_id}")
                if job.status.finished:
                    return self.get_job(job_id)  # type: ignore[return-value]
                if self._fault is not None and job_id in self._own and job_id not in self._runs:
                    raise KbcError(f"job {job_id} ended but could not be recorded: {self._fault}; it is marked "
                                   "terminated when kbc-tui next runs jobs in this project")
                await wait_event(done, self.poll_seconds)
        finally:
            unsubscribe()

    async def cancel(self, job_id: int) -> Job:
        job = self.history.job(job_id, with_tasks=False)
        if job is None:
            raise KbcError(f"no job {job_id}")
        if job.status is JobStatus.WAITING:
            if self.history.cancel_waiting(job_id, "cancelled before it started"):
                self.history.add_log([LogLine(job_id, utcnow(), "warning", f"Job {job_id} cancelled before it started")])
                job = self.history.job(job_id, with_tasks=False)
                self.feed.job_changed(job)
                return job
            job = self.history.job(job_id, with_tasks=False)
        if job.status is JobStatus.PROCESSING:
            run = self._runs.get(job_id)
            if run is not None:
                run.cancel()
            else:
                self.history.request_cancel(job_id)  # the runner process picks it up
        return job

    # -- reading --------------------------------------------------------------------------------
    def list_jobs(self, orchestration: str | None = None, limit: int = 50) -> list[Job]:
        return self.history.list_jobs(orchestration, limit)

    def get_job(self, job_id: int) -> Job | None:
        return self.history.job(job_id)

    def job_log(self, job_id: int, after_id: int = 0, limit: int | None = None) -> list[LogLine]:
        self.feed.flush()
        return self.history.log(job_id, after_id, limit)

    def job_log_view(self, job_id: int) -> JobLogView:
        """A job's log by line number, read a window at a time (a million-line log costs what is on screen)."""
        return JobLogView(self.history, job_id, before_read=self.feed.flush)

    def last_jobs(self, orchestrations=None) -> dict[str, Job]:
        """Latest job per orchestration; pass ids to look up only those (fast for a screenful)."""
        return self.history.last_jobs(orchestrations)

    def running_jobs(self) -> list[Job]:
        """Jobs this process is executing now."""
        return [run.job for run in self._runs.values()]

    def average_duration(self, orchestration: str, n: int = 20) -> float | None:
        """Mean duration (s) of the last ``n`` successful jobs, or None (for the processing alert)."""
        return self.history.average_duration(orchestration, n)

    def notifications(self, job_id: int) -> list[Notification]:
        """The e-mails about a job: event, recipients, and ``pending`` / ``sent`` / ``failed`` with the last error."""
        return self.history.notifications(job_id=job_id)

    def add_log(self, job_id: int, level: str, text: str, task: str | None = None) -> None:
        """Append a log line to any job (e.g. a notification failure after the job ended)."""
        self.feed.log(LogLine(job_id, utcnow(), level, text, task))

    def reload_project(self) -> Project:
        from kbc_tui.components import validate_config

        fresh = Project.load(self.root, validate_config)
        self.project.__dict__.update(fresh.__dict__)  # keep the shared object the UI holds
        if self.scheduler is not None:
            self.scheduler.reload()
        return self.project

    def wake_runner(self) -> None:
        """A job was queued: look at the queue now rather than at the next poll."""
        self._wake.set()

    def record(self, write, *args):
        """``write(*args)`` to the job history; on a full disk once more after the reserve is given back.
        Raises ``StateError`` if it still fails (the engine has then stopped running jobs)."""
        try:
            return write(*args)
        except StateError as exc:
            if not self.history_failed(exc):
                raise
        try:
            return write(*args)
        except StateError as exc:
            self.history_failed(exc)
            raise

    async def _flush_loop(self) -> None:
        while True:
            await asyncio.sleep(LOG_FLUSH_SECONDS)
            if self.feed.unwritten:
                self.feed.flush()

    # -- internals: runner ------------------------------------------------------------------------
    async def _cleanup_done(self) -> None:
        if self._cleanup is not None:
            await asyncio.gather(self._cleanup, return_exceptions=True)

    async def _runner_loop(self) -> None:
        await self._cleanup_done()  # no job may write storage while leftovers are dropped or it is compacted
        while not self._stopping and self._fault is None:
            try:
                self.record(self._dispatch)  # on a full disk once more, after the reserve is given back
            except StateError:
                return  # stepped down (loudly); the runner that takes over runs the queue
            await wait_event(self._wake, self.poll_seconds)
            self._wake.clear()

    def _dispatch(self) -> None:
        if self._stopping or self._fault is not None:
            return
        running_orchs = {run.job.orchestration for run in self._runs.values()}
        worker = self.worker_name if self.shared else None
        for job in self.history.waiting_jobs():
            if len(self._runs) >= self.max_jobs:
                break
            if job.orchestration in running_orchs or job.id in self._runs:
                continue  # two runs of one orchestration never overlap: this one waits
            if self.run_only is not None and job.id not in self.run_only:
                continue
            claimed = (self.history.claim_job(job.id, os.getpid(), worker=worker) if worker
                       else self.history.claim_job(job.id, os.getpid()))
            if not claimed:
                if worker:
                    running_orchs.add(job.orchestration)  # another worker runs one of it (or took this one)
                continue
            job.worker = worker
            running_orchs.add(job.orchestration)
            from kbc_tui.engine.runner import JobRun  # the runner (and components) load on the first job

            run = JobRun(self, job)
            self.storage.retain()  # open once for the job's tasks, not once per task (released when it ends)
            self._runs[job.id] = run
            self._own.add(job.id)
            task = asyncio.create_task(self._execute(run), name=f"kbc-job-{job.id}")
            self._run_tasks.add(task)

    async def _execute(self, run: "JobRun") -> None:
        if self.notifier is not None:
            self.notifier.job_started(run.job)
        try:
            await run.run()
        except Exception as exc:  # an engine bug must still end the job, never leave it processing
            import traceback

            run.log("error", "".join(traceback.format_exception(exc)).rstrip())
            run.finish(JobStatus.ERROR, f"internal error: {type(exc).__name__}: {exc}")
        finally:
            self._runs.pop(run.job.id, None)
            try:  # stop() waits for this task until here: a `kbc-tui run` must not exit before the e-mail is queued
                await asyncio.to_thread(self.storage.release)  # closing may checkpoint: not on the loop
                if self.notifier is not None:
                    self.notifier.job_finished(run.job.id, run.masker)
                try:
                    self.history.apply_retention(run.job.orchestration, self.project.settings.jobs.retention)
                except Exception:
                    pass
            finally:
                self._run_tasks.discard(asyncio.current_task())
                self._wake.set()

    # -- internals: watching other processes ---------------------------------------------------------
    async def _poll_loop(self) -> None:
        while True:
            await asyncio.sleep(self.poll_seconds)
            try:
                await self._poll_once()
            except StateError as exc:  # a busy file, a lost connection: one line, the next poll tries again
                import logging

                logging.getLogger(__name__).warning("engine poll failed: %s", exc)
            except Exception:  # never let the watcher die: a locked DB now is fine next time
                import logging

                logging.getLogger(__name__).exception("engine poll failed")

    async def _keep_shared_scheduler(self) -> None:
        """A shared state, this process not running jobs (another holds the checkout's lock): its scheduler keeps
        firing; one stopped by a state failure starts again a few seconds later."""
        if not self._want_scheduler or self._stopping or not self.history.available:
            return
        scheduler = self.scheduler
        if scheduler is not None and scheduler.running:
            return
        if scheduler is not None or self._fault is not None:
            if time.monotonic() - self._last_scheduler_try < FAULT_RETRY_SECONDS:
                return
            self._last_scheduler_try = time.monotonic()
            if scheduler is not None:
                self.scheduler = None
                await scheduler.stop()
            self._fault = None
            self._set_problem(None)
        await self._start_scheduler()

    async def _poll_once(self) -> None:
        if self.shared and (not self.is_runner or (self._fault is None and self.scheduler is not None
                                                   and not self.scheduler.running)):
            await self._keep_shared_scheduler()
        retry = FAULT_RETRY_SECONDS if (self._fault or not self.history.available) else self.lock_retry_seconds
        if (not self.is_runner and not self._stopping and time.monotonic() - self._last_lock_try >= retry
                and (self._want_runner or not self.history.available)):
            if self._want_runner:
                await self._try_become_runner()
            else:
                self._last_lock_try = time.monotonic()
                self._reopen_history()
        since = self._poll_since
        self._poll_since = time.time()
        for job in self.history.jobs_updated_since(since - 1.0):
            if job.id in self._own:
                run = self._runs.get(job.id)
                if run is not None and job.status is JobStatus.TERMINATED and not run.lost:
                    run.lose(job.message)  # another worker ended it (our heartbeat was late): stop it here
                continue
            key = (job.status, job.finished_at, job.started_at)
            if self.feed.seen.get(job.id) == key and job.status.finished:
                continue
            self.feed.seen[job.id] = key
            self.events.emit(JobChanged(job))
        top = self.history.max_log_id()
        if top > self._last_log_id:
            # other processes' lines only: this runner's own jobs (which may log 10,000 lines a second)
            # emitted theirs when they were written, so they are not even read back
            limit = 10_000
            lines = self.history.log_since(self._last_log_id, limit, upto=top, exclude_jobs=self._own)
            self._last_log_id = lines[-1].id if len(lines) >= limit else top
            by_job: dict[int, list[LogLine]] = {}
            for line in lines:
                by_job.setdefault(line.job_id, []).append(line)
            for job_id, batch in by_job.items():
                self.events.emit(LogBatch(job_id, tuple(batch)))
        if self.is_runner:
            for job_id in self.history.cancel_requested(list(self._runs)):
                run = self._runs.get(job_id)
                if run is not None and not run.cancelled:
                    run.cancel()
            self._wake.set()
