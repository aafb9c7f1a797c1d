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


#: the JobState methods that write
WRITES = ("create_job", "update_job", "request_cancel", "apply_retention", "claim_job", "cancel_waiting",
          "create_task_runs", "update_task", "add_log", "add_notification", "update_notification",
          "save_component_state", "advance_checked_until", "start_checked_until", "record_fire", "register_worker",
          "unregister_worker", "terminate_job")


def refuse_writes(history: JobState, refuse: bool = True) -> None:
    """Make the job state refuse writes (``refuse=False``: take them again), as a full disk or a file turned
    read-only does (SQLite: its own ``query_only``), or a PostgreSQL standby (the state's own ``readonly`` error,
    raised by each write method of this instance; the heartbeat writes through a connection of its own)."""
    from kbc_tui.errors import StateError

    if not getattr(history, "shared", False):
        history.execute(f"PRAGMA query_only = {int(refuse)}")  # type: ignore[attr-defined]
        return
    for name in WRITES:
        if not refuse:
            history.__dict__.pop(name, None)
            continue

        def refused(*args, _name=name, **kwargs):
            raise StateError(f"the job state at {history.path} is read-only (cannot execute {_name} in a "
                             "read-only transaction)", "readonly")

        setattr(history, name, refused)
