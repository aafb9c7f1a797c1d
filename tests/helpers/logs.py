"""A finished job with a big log, written into a project's job state (SQLite or PostgreSQL, as the test runs) in
one batch of lines."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

from kbc_tui.model.job import JobStatus, LogLine, Trigger
from tests.helpers.job_state import state_of

T0 = datetime(2026, 1, 5, 6, 0, tzinfo=timezone.utc)
LEVELS = ["info"] * 7 + ["debug", "warning", "error"]


def text_of(n: int) -> str:
    """The text of line ``n`` of a big job (unless ``special`` replaced it)."""
    return f"copied batch {n} of orders"


def big_job(root: Path, lines: int, special: dict[int, tuple[str, str]] | None = None,
            other_every: int = 10, status: JobStatus = JobStatus.SUCCESS) -> int:
    """A job of ``lines`` log lines; every ``other_every``-th row of the table belongs to another job (as when
    jobs run side by side). ``special``: line number -> (level, text). Returns the job's id."""
    special = special or {}
    history = state_of(root)
    other = history.create_job("sales-to-gooddata", Trigger.SCHEDULE, "scheduler")
    job = history.create_job("sales-to-tableau", Trigger.SCHEDULE, "scheduler")
    rows, n, i = [], 0, 0
    while n < lines:
        at = T0 + timedelta(milliseconds=i)
        if other_every and i % other_every == other_every - 1:
            rows.append(LogLine(other.id, at, "info", f"other job's line {i}"))
        else:
            level, text = special.get(n, (LEVELS[n % 10], text_of(n)))
            rows.append(LogLine(job.id, at, level, text, "db-extractor/shop"))
            n += 1
        i += 1
    history.add_log(rows)  # one transaction, ids in this order (jobs interleaved as when they run side by side)
    for j in (other, job):
        history.update_job(j.id, status=status, started_at=T0, finished_at=T0 + timedelta(hours=1))
    history.close()
    return job.id
