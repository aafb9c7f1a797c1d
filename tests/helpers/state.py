"""The job state of a test project through its public interface, whichever it is (SQLite, or PostgreSQL when
``KBC_STATE_URL`` is set: the ``postgresql`` parameter of ``state_backend``)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

from kbc_tui.model.job import JobStatus, Trigger
from kbc_tui.store.open_state import open_state
from kbc_tui.store.project import Project
from kbc_tui.store.state import JobState


def state_of(root: Path) -> JobState:
    """The project's job state, opened as the engine opens it (close it when done)."""
    return open_state(Project.load(root))


def usual_duration(history: JobState, orchestration: str, seconds: float, runs: int = 3) -> None:
    """``runs`` successful jobs of ``seconds`` each: the processing alert's usual duration."""
    for _ in range(runs):
        done = history.create_job(orchestration, Trigger.SCHEDULE, "scheduler")
        now = datetime.now(timezone.utc)
        history.update_job(done.id, status=JobStatus.SUCCESS, started_at=now - timedelta(seconds=seconds),
                           finished_at=now)
