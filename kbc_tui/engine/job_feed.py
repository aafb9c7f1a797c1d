"""The job feed: what happens to jobs, told to the history and to subscribers in one place.

The Engine facade, the runner, the scheduler and the notifier all report job changes, task changes and
log lines through one ``JobFeed``; none of them reaches into another's internals. Log lines are buffered
and written to the history in batches (the engine's flush loop calls ``flush``); if the history cannot be
written they are kept (bounded) for a later write. Events go to the ``EventBus`` at once; log lines to
it coalesced.
"""

from __future__ import annotations

import collections
import threading
from typing import Callable, Sequence

from kbc_tui.engine.events import EventBus, JobChanged, TaskChanged
from kbc_tui.errors import StateError
from kbc_tui.model.job import Job, LogLine, TaskRun

MAX_UNWRITTEN_LOG_LINES = 100_000  # log lines kept in memory while the history cannot be written


class JobFeed:
    def __init__(self, events: EventBus, write_log: Callable[[Sequence[LogLine]], None]) -> None:
        """``write_log(lines)`` appends lines to the history; it raises ``StateError`` when it cannot."""
        self.events = events
        self._write_log = write_log
        self._buffer: collections.deque[LogLine] = collections.deque()
        self._lock = threading.Lock()
        #: job id -> (status, finished_at[, started_at]) last told to subscribers (the watcher skips repeats)
        self.seen: dict[int, tuple] = {}

    def job_changed(self, job: Job | None) -> None:
        """Tell subscribers a job's state (a snapshot without its tasks; call on the loop)."""
        if job is None:
            return
        snapshot = Job(job.id, job.orchestration, job.status, job.trigger, job.triggered_by, job.created_at,
                       job.started_at, job.finished_at, job.message, job.pid)
        self.seen[job.id] = (job.status, job.finished_at)
        self.events.emit(JobChanged(snapshot))

    def task_changed(self, run: TaskRun) -> None:
        self.events.emit(TaskChanged(run.job_id, TaskRun(**run.__dict__)))

    def log(self, line: LogLine) -> None:
        """Thread-safe: buffered for the history (see ``flush``) and sent to subscribers (coalesced)."""
        with self._lock:
            self._buffer.append(line)
        self.events.log(line)

    @property
    def unwritten(self) -> int:
        return len(self._buffer)

    def flush(self) -> None:
        """Write the buffered log lines to the history now; kept for the next flush if that fails."""
        with self._lock:
            if not self._buffer:
                return
            lines = list(self._buffer)
            self._buffer.clear()
        try:
            self._write_log(lines)
        except StateError:  # keep them for a later write (bounded); the runner has stopped taking jobs
            with self._lock:
                self._buffer.extendleft(reversed(lines))
                while len(self._buffer) > MAX_UNWRITTEN_LOG_LINES:
                    self._buffer.popleft()
