"""Open a project's job state: SQLite in ``.kbc/jobs.sqlite`` (the default), or PostgreSQL when ``kbc.toml`` has
``[state] url`` — or the environment has ``KBC_STATE_URL``, which wins (a systemd unit, a test run) — shared by
workers on several servers."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from kbc_tui.errors import StateError

if TYPE_CHECKING:
    from kbc_tui.store.project import Project
    from kbc_tui.store.state import JobState

ENV_URL = "KBC_STATE_URL"


def state_url(project: "Project") -> str:
    """The PostgreSQL URL of the project's state ("" for SQLite): ``KBC_STATE_URL`` or ``[state] url``."""
    from_env = os.environ.get(ENV_URL, "").strip()
    if from_env:
        from kbc_tui.model.project import check_postgresql_url

        problem = check_postgresql_url(from_env)
        if problem:
            raise StateError(f"{ENV_URL}: {problem}", "config")
        return from_env
    return project.settings.state.url


def state_password(project: "Project") -> str:
    """The ``[state] #password`` resolved (env reference or encrypted value), or ""."""
    raw = project.settings.state.password
    return project.secrets.resolve(raw, where="[state] #password") if raw else ""


def open_state(project: "Project") -> "JobState":
    """The project's job state, opened for writing; ``StateError`` in words when it cannot be."""
    url = state_url(project)
    if not url:
        from kbc_tui.store.history import JobHistory

        return JobHistory(project.state_dir / "jobs.sqlite")
    from kbc_tui.store.pg_state import PgJobState

    return PgJobState(url, password=state_password(project))
