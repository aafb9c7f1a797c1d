"""The job state's interface: what the engine, scheduler, notifier, recovery, commands and UI call on the history.

``JobHistory`` (SQLite, ``history.py``) implements it, as do ``ReadOnlyHistory`` (reads; writes raise) and
``UnavailableHistory`` (reads find nothing, the rest raises). A second implementation (PostgreSQL, issue 13)
implements the same methods; nothing outside ``kbc_tui/store`` writes SQL against the history or calls its
low-level ``execute`` / ``transaction`` (``tests/test_import_hygiene.py`` checks both).

Times are aware UTC datetimes, except where a method says epoch seconds. Every failure of the state itself
raises ``StateError`` (a ``KbcError`` in words). Each method is atomic on its own; the ones that say "in one
transaction" are where atomicity across statements carries a guarantee (claiming a job, recording a fire).
"""

from __future__ import annotations

from array import array
from datetime import datetime
from pathlib import Path
from typing import Any, Iterable, NamedTuple, Protocol, Sequence, runtime_checkable

from kbc_tui.model.job import Job, JobStatus, LogLine, Notification, TaskRun, Trigger


class FireRecord(NamedTuple):
    """What ``record_fire`` did: whether this call recorded the fire, the orchestration's busy job, and the job
    it enqueued."""

    recorded: bool  # False: another scheduler recorded this fire time already
    busy_job: int | None  # a waiting or processing job of the orchestration (the fire is then skipped)
    job: Job | None = None  # the scheduled job this fire created (None: not recorded here, or skipped)


class WorkerInfo(NamedTuple):
    """A worker as the state knows it."""

    name: str
    host: str
    pid: int
    started_at: datetime
    beat_at: datetime  # its last heartbeat


@runtime_checkable
class JobState(Protocol):
    """Jobs (the queue is the ``waiting`` ones), task runs, log lines, the e-mail outbox, component state and the
    scheduler's records of one project, shared by every process of it."""

    path: Path  # where the state lives (named in messages; for PostgreSQL the URL without password)
    shared: bool  # True: workers on several machines share it (no runner lock; heartbeats decide who is alive)
    available: bool  # False: it cannot be written (read-only, unavailable); the engine keeps trying to reopen

    def close(self) -> None:
        """Release the connection."""

    # -- jobs --------------------------------------------------------------------------------
    def create_job(self, orchestration: str, trigger: Trigger, triggered_by: str,
                   spec_hash: str | None = None) -> Job:
        """A new ``waiting`` job (enqueue), with the orchestration's content hash where it was queued."""

    def update_job(self, job_id: int, **fields: Any) -> None:
        """Set job fields (status, started_at, finished_at, message, pid, cancel_requested) and ``updated_at``."""

    def job(self, job_id: int, *, with_tasks: bool = True) -> Job | None:
        """One job (with its task runs), or None."""

    def list_jobs(self, orchestration: str | None = None, limit: int = 50,
                  statuses: Iterable[JobStatus] | None = None, before_id: int | None = None) -> list[Job]:
        """Jobs, newest first, optionally of one orchestration, with given statuses, older than ``before_id``."""

    def waiting_jobs(self) -> list[Job]:
        """The queue: waiting jobs, oldest first."""

    def jobs_updated_since(self, ts: float) -> list[Job]:
        """Jobs changed after ``ts`` (epoch seconds), what watchers poll."""

    def last_jobs(self, orchestrations: Iterable[str] | None = None) -> dict[str, Job]:
        """The latest job of each orchestration (or of the given ones)."""

    def request_cancel(self, job_id: int) -> None:
        """Ask the process running a job to cancel it."""

    def cancel_requested(self, job_ids: Sequence[int]) -> set[int]:
        """Which of these jobs were asked to cancel."""

    def average_duration(self, orchestration: str, n: int = 20) -> float | None:
        """Mean seconds of the last ``n`` successful jobs of an orchestration, or None."""

    def apply_retention(self, orchestration: str, keep: int) -> int:
        """Delete all but the newest ``keep`` finished jobs of an orchestration; returns how many went."""

    def claim_job(self, job_id: int, pid: int, worker: str | None = None) -> bool:
        """Mark a waiting job processing by ``pid`` of ``worker`` in one transaction; False if it is no longer
        waiting, or another job of its orchestration is processing (two never run at once, across workers)."""

    def cancel_waiting(self, job_id: int, message: str) -> bool:
        """Cancel a job that has not started, in one transaction; False if it is no longer waiting."""

    # -- task runs ---------------------------------------------------------------------------
    def create_task_runs(self, runs: list[TaskRun]) -> None:
        """Record a job's task runs."""

    def update_task(self, run: TaskRun) -> None:
        """A task run's fields and its job's ``updated_at``, in one transaction."""

    def task_runs(self, job_id: int) -> list[TaskRun]:
        """A job's task runs in order."""

    # -- log ---------------------------------------------------------------------------------
    def add_log(self, lines: Iterable[LogLine]) -> None:
        """Append log lines in one transaction."""

    def log(self, job_id: int, after_id: int = 0, limit: int | None = None) -> list[LogLine]:
        """A job's lines after line id ``after_id``, in order."""

    def log_tail(self, job_id: int, task: str | None = None, n: int = 20) -> list[LogLine]:
        """The last ``n`` lines of a job (of one task if it has any)."""

    def log_since(self, after_id: int, limit: int = 10000, *, upto: int | None = None,
                  exclude_jobs: Iterable[int] = ()) -> list[LogLine]:
        """Lines of all jobs after ``after_id`` (up to ``upto``), except those of ``exclude_jobs``, in order."""

    def max_log_id(self) -> int:
        """The id of the latest log line (0: none)."""

    def log_step(self, job_id: int, from_id: int, n: int) -> int | None:
        """The id ``n`` lines of the job after line ``from_id`` (``n = 0``: its first line with an id >= it)."""

    def log_count(self, job_id: int, from_id: int, before_id: int | None = None) -> int:
        """How many lines of the job have an id >= ``from_id`` (and < ``before_id``)."""

    def log_window(self, job_id: int, from_id: int, skip: int, limit: int) -> list[LogLine]:
        """Up to ``limit`` lines of the job from line ``from_id`` on, after skipping ``skip`` of them."""

    def search_log(self, job_id: int, needle: str, batch: int = 5000) -> array:
        """Ids of the job's lines whose text or level contains ``needle`` literally (ASCII case-blind), in order."""

    # -- notification outbox -----------------------------------------------------------------
    def add_notification(self, note: Notification) -> int | None:
        """Queue an e-mail; None if the job already has one for this event."""

    def notifications(self, *, job_id: int | None = None, due_before: float | None = None) -> list[Notification]:
        """A job's e-mails, or the pending ones due before ``due_before`` (epoch seconds)."""

    def next_notification_due(self, exclude: Iterable[int] = (), only: Iterable[int] | None = None) -> float | None:
        """When the next pending e-mail is due (epoch seconds), ignoring the ids in ``exclude``; with ``only``,
        among those ids alone (a shared state: the e-mails this worker sends)."""

    def update_notification(self, note: Notification) -> None:
        """Record an e-mail's status, attempts, next try and last error."""

    # -- component state ---------------------------------------------------------------------
    def component_state(self, component: str, config: str) -> dict:
        """A configuration's saved state ({} if none)."""

    def save_component_state(self, component: str, config: str, state: dict) -> None:
        """Replace a configuration's saved state."""

    # -- the scheduler -----------------------------------------------------------------------
    def checked_until(self) -> dict[str, datetime]:
        """Until when schedules were checked: per orchestration id (and the scheduler's heartbeat key)."""

    def advance_checked_until(self, key: str, moment: datetime) -> None:
        """Set ``key``'s checked-until time to ``moment`` unless it is later already."""

    def start_checked_until(self, key: str, moment: datetime) -> None:
        """Set ``key``'s checked-until time to ``moment`` if it has none yet."""

    def fire_recorded(self, orchestration: str, moment: datetime) -> bool:
        """Whether a fire of the orchestration at ``moment`` was recorded (by any scheduler)."""

    def record_fire(self, orchestration: str, moment: datetime, recorded_at: datetime,
                    spec_hash: str | None = None) -> FireRecord:
        """Record a fire once across processes and, in the same transaction, skip it (busy) or enqueue its job."""

    def fires(self, orchestration: str) -> list[tuple[datetime, str, int | None]]:
        """(fire time, outcome, job id) recorded for an orchestration, oldest first."""

    # -- workers: any number of processes on any number of machines run jobs (``shared`` states) -----------------
    # A shared state (PostgreSQL) has no runner file lock: every worker claims jobs itself (``claim_job`` never
    # lets two jobs of one orchestration be processing at once, across all workers), beats its heart, and
    # terminates the jobs of workers whose heart stopped (``stale_jobs`` + ``terminate_job``). The SQLite history
    # implements these too (one machine: the runner lock still decides who runs jobs).

    def register_worker(self, name: str, host: str, pid: int, timeout: float) -> None:
        """Announce a worker and beat once. ``StateError`` (kind ``"worker"``) if a live worker — one that beat
        within ``timeout`` seconds — has this name already (say which host and pid)."""

    def heartbeat(self, name: str) -> None:
        """The worker is alive (the state's own clock stamps it)."""

    def unregister_worker(self, name: str) -> None:
        """The worker stopped cleanly (its row goes)."""

    def workers(self) -> list[WorkerInfo]:
        """Registered workers, by name."""

    def stale_jobs(self, timeout: float) -> list[Job]:
        """``processing`` jobs whose worker has not beaten within ``timeout`` seconds (by the state's clock), or
        has no row (never registered / unregistered while the job was marked processing)."""

    def terminate_job(self, job_id: int, message: str, finished_at: datetime) -> Job | None:
        """End a job whose process died, in one transaction, only if it is still ``processing``: its processing
        task runs become ``terminated`` and its waiting ones ``skipped`` (with the reason), one ``error`` log line
        says ``Job N <message>``, the job becomes ``terminated`` with ``message``. Returns the job, or None when
        it was no longer processing (another worker ended it first)."""
