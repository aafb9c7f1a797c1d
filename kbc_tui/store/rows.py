"""Rows of the job state read into model objects, and the times they hold (UTC epoch seconds): the same for the
SQLite history and the PostgreSQL state, whose tables have the same columns."""

from __future__ import annotations

import time
from datetime import datetime, timezone
from typing import Any, Sequence

from kbc_tui.model.job import Job, JobStatus, LogLine, TaskRun, TaskStatus, Trigger


def to_dt(value: float | None) -> datetime | None:
    return datetime.fromtimestamp(value, timezone.utc) if value is not None else None


def to_ts(value: datetime | None) -> float | None:
    return value.timestamp() if value is not None else None


def now_ts() -> float:
    return time.time()


def log_line_row(r: Sequence[Any]) -> LogLine:
    """A ``log_lines`` row read as ``id, job_id, time, level, task, text``."""
    return LogLine(job_id=r[1], time=to_dt(r[2]), level=r[3], text=r[5], task=r[4], id=r[0])


def job_row(r: Sequence[Any]) -> Job:
    """A ``jobs`` row read as ``id, orchestration, status, trigger, triggered_by, created_at, started_at,
    finished_at, message, pid, worker, spec_hash``."""
    return Job(id=r[0], orchestration=r[1], status=JobStatus(r[2]), trigger=Trigger(r[3]), triggered_by=r[4],
               created_at=to_dt(r[5]), started_at=to_dt(r[6]), finished_at=to_dt(r[7]), message=r[8], pid=r[9],
               worker=r[10], spec_hash=r[11])


def task_row(r: Sequence[Any]) -> TaskRun:
    """A ``task_runs`` row read as ``job_id, idx, phase, component, config, status, started_at, finished_at,
    rows, message, attempt``."""
    return TaskRun(job_id=r[0], index=r[1], phase=r[2], component=r[3], config=r[4], status=TaskStatus(r[5]),
                   started_at=to_dt(r[6]), finished_at=to_dt(r[7]), rows=r[8], message=r[9], attempt=r[10])
