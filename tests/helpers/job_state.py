"""A project's job state as the product opens it: SQLite in ``.kbc/jobs.sqlite``, or PostgreSQL when the test
runs with ``KBC_STATE_URL`` (the ``state_backend`` parameter). Tests read and write the state through this, so
they run on both."""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from kbc_tui.store.open_state import open_state
from kbc_tui.store.project import Project
from kbc_tui.store.state import JobState


def state_of(root: Path) -> JobState:
    """The job state of the project at ``root``, opened for writing (close it when done)."""
    return open_state(Project.load(root))


@contextmanager
def opened_state(root: Path) -> Iterator[JobState]:
    """``state_of(root)``, closed at the end of the block."""
    state = state_of(root)
    try:
        yield state
    finally:
        state.close()


def component_state(root: Path, component: str, config: str) -> dict:
    """The state saved for a component's configuration (its last fetched values...)."""
    with opened_state(root) as state:
        return state.component_state(component, config)
