"""What the runner does when it takes over a project: end the jobs a dead runner left ``processing``, and
remove what dead processes left behind (scratch files, partial outputs, storage staging tables).

A job is an orphan when its status says ``processing`` but no live runner executes it: its process was
killed, lost power, or could not write the job history any more. The new runner marks it ``terminated``
with the reason (never a job stuck in ``processing``), and its error e-mail goes out then.
"""

from __future__ import annotations

import os
from datetime import datetime, timezone
from typing import Callable, Iterable

from kbc_tui.model.job import Job, JobStatus, LogLine, TaskStatus
from kbc_tui.store.state import JobState


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def termination_reason(job: Job, own_fault: str | None) -> str:
    if job.pid == os.getpid() and own_fault:
        return f"terminated: the job history could not be written while it ran ({own_fault})"
    if job.pid:
        return f"terminated: the process running this job (pid {job.pid}) died"
    return "terminated: the process running this job died"


def reap_orphans(history: JobState, running: Iterable[int], *, orchestration: str | None = None,
                 own_fault: str | None = None, finished: Callable[[Job], None] = lambda job: None) -> list[int]:
    """Mark every ``processing`` job not in ``running`` as terminated (call while holding the runner lock).

    ``finished(job)`` is called for each (to emit the change and send the alert). Returns their ids."""
    running = set(running)
    reaped = []
    for job in history.list_jobs(orchestration, statuses=[JobStatus.PROCESSING], limit=100_000):
        if job.id in running:
            continue
        now = utcnow()
        message = termination_reason(job, own_fault)
        for run in history.task_runs(job.id):
            if run.status in (TaskStatus.PROCESSING, TaskStatus.WAITING):
                was_running = run.status is TaskStatus.PROCESSING
                run.status = TaskStatus.TERMINATED if was_running else TaskStatus.SKIPPED
                run.finished_at = now
                run.message = ("the process running the job died" if was_running
                               else "not run: the process running the job died")
                history.update_task(run)
        history.add_log([LogLine(job.id, now, "error", f"Job {job.id} {message}")])
        history.update_job(job.id, status=JobStatus.TERMINATED, finished_at=now, message=message)
        reaped.append(job.id)
        finished(history.job(job.id, with_tasks=False))
    return reaped


def clean_leftovers(state_dir, storage) -> tuple[int, int]:
    """Remove the scratch and partial files of dead processes and the storage's leftovers; returns (things
    removed, bytes freed on disk). Never fails the take-over: what cannot be removed now is tried next time."""
    from kbc_tui.errors import KbcError
    from kbc_tui.store.scratch import clean_dead

    try:
        removed, freed = clean_dead(state_dir)
    except OSError:
        removed, freed = 0, 0
    try:
        before = storage.file_size()
        removed += storage.drop_leftovers()
        storage.compact_if_bloated()  # the blocks of what was dropped (or replaced) go back to the disk
        freed += max(0, before - storage.file_size())
    except KbcError:
        pass  # storage busy or unreadable now: the next write will say so
    return removed, freed
