"""A project's job state as the product opens it: SQLite in ``.kbc/jobs.sqlite``, or PostgreSQL when the test
runs with ``KBC_STATE_URL`` (the ``state_backend`` parameter). Tests read and write the state through this, so
they run on both."""

from __future__ import annotations

from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Iterator

from kbc_tui.model.job import JobStatus, Trigger
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


def usual_duration(state: JobState, orchestration: str, seconds: float, runs: int = 3) -> None:
    """``runs`` successful jobs of ``seconds`` each: the processing alert's usual duration."""
    for _ in range(runs):
        done = state.create_job(orchestration, Trigger.SCHEDULE, "scheduler")
        now = datetime.now(timezone.utc)
        state.update_job(done.id, status=JobStatus.SUCCESS, started_at=now - timedelta(seconds=seconds),
                         finished_at=now)


# -- the state refusing writes (a read-only or full disk), on either backend ------------------------------------

def _is_postgresql(state: JobState) -> bool:
    from kbc_tui.store.pg_state import PgJobState

    return isinstance(state, PgJobState)


@contextmanager
def _pg(root: Path) -> Iterator:
    """A psycopg connection of its own (autocommit) to the PostgreSQL job state of the project at ``root``."""
    import psycopg

    from kbc_tui.store.open_state import state_url
    from tests.helpers.pg import admin_conninfo

    with psycopg.connect(admin_conninfo(state_url(Project.load(root))), autocommit=True, connect_timeout=5) as conn:
        yield conn


def _pg_refuse(root: Path, tables: tuple[str, ...], errcode: str, message: str,
               ops: str = "INSERT OR UPDATE OR DELETE") -> None:
    with _pg(root) as conn:
        conn.execute(f"CREATE OR REPLACE FUNCTION kbc_test_refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                     f"RAISE EXCEPTION '{message}' USING ERRCODE = '{errcode}'; END $$")
        for table in tables:
            conn.execute(f"CREATE TRIGGER kbc_test_refuse BEFORE {ops} ON {table} "
                         "FOR EACH STATEMENT EXECUTE FUNCTION kbc_test_refuse()")


def _pg_allow(root: Path, tables: tuple[str, ...]) -> None:
    with _pg(root) as conn:
        for table in tables:
            conn.execute(f"DROP TRIGGER IF EXISTS kbc_test_refuse ON {table}")


@contextmanager
def refusing_writes(root: Path, state: JobState) -> Iterator[None]:
    """Within the block the job state takes no writes: SQLite ``PRAGMA query_only`` on ``state``'s connection;
    PostgreSQL: every table refuses writes as a read-only transaction does (SQLSTATE 25006), for every session."""
    if not _is_postgresql(state):
        state.execute("PRAGMA query_only = 1")  # type: ignore[attr-defined]
        try:
            yield
        finally:
            state.execute("PRAGMA query_only = 0")  # type: ignore[attr-defined]
        return
    from kbc_tui.store.pg_state import TABLES

    _pg_refuse(root, TABLES, "25006", "cannot write in a read-only transaction")
    try:
        yield
    finally:
        _pg_allow(root, TABLES)


@contextmanager
def jobs_refusing_inserts(root: Path, state: JobState) -> Iterator[None]:
    """Within the block no job can be created (as on a full disk); other writes go on."""
    if not _is_postgresql(state):
        import sqlite3

        conn = sqlite3.connect(root / ".kbc" / "jobs.sqlite")
        try:
            conn.execute("CREATE TRIGGER refuse BEFORE INSERT ON jobs BEGIN SELECT RAISE(ABORT, 'database or disk "
                         "is full'); END")
            conn.commit()
            yield
        finally:
            conn.execute("DROP TRIGGER IF EXISTS refuse")
            conn.commit()
            conn.close()
        return
    _pg_refuse(root, ("jobs",), "53100", "could not extend file: No space left on device", "INSERT")
    try:
        yield
    finally:
        _pg_allow(root, ("jobs",))


def execute_on_state(root: Path, state: JobState, sql: str) -> None:
    """Run one statement (written to run on both SQLite and PostgreSQL) on the job state, committed: to damage
    the state as a test needs."""
    if not _is_postgresql(state):
        state.execute(sql)  # type: ignore[attr-defined]
        return
    with _pg(root) as conn:
        conn.execute(sql)
