"""Open a project's job state: SQLite in ``.kbc/jobs.sqlite`` (the default), or PostgreSQL when ``kbc.toml`` has
``[state] url`` (shared by workers on several servers)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kbc_tui.store.project import Project
    from kbc_tui.store.state import JobState


def state_password(project: "Project") -> str:
    """The ``[state] #password`` resolved (env reference or encrypted value), or ""."""
    raw = project.settings.state.password
    return project.secrets.resolve(raw, where="[state] #password") if raw else ""


def open_state(project: "Project") -> "JobState":
    """The project's job state, opened for writing; ``StateError`` in words when it cannot be."""
    settings = project.settings.state
    if not settings.url:
        from kbc_tui.store.history import JobHistory

        return JobHistory(project.state_dir / "jobs.sqlite")
    from kbc_tui.store.pg_state import PgJobState

    return PgJobState(settings.url, password=state_password(project))
