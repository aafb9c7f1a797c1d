"""Copy a project's SQLite history (``.kbc/jobs.sqlite``) into an empty PostgreSQL job state (``kbc-tui state
copy``), keeping job, log line and e-mail ids: what a project had is there when ``[state] url`` points at it."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any, Iterator

from kbc_tui.errors import StateError
from kbc_tui.store.history import JobHistory, state_error
from kbc_tui.store.pg_state import _COLUMNS, PgJobState

#: what is copied, parents before children (workers are not: they are the processes alive now)
COPIED = ("jobs", "task_runs", "log_lines", "notifications", "component_state", "schedule_fires", "schedule_state")

#: how the counts are named when printed
WORDS = {"jobs": "jobs", "task_runs": "task runs", "log_lines": "log lines", "notifications": "e-mails",
         "component_state": "component states", "schedule_fires": "schedule fires",
         "schedule_state": "schedule checks"}


def copy_history(source: Path, target: PgJobState) -> dict[str, int]:
    """Copy the SQLite history at ``source`` into ``target`` (which must be empty) in one transaction of the
    target, from one consistent read of the source. Returns rows per table. ``StateError`` in words when the
    source is missing or unreadable or the target is not empty; nothing is copied then."""
    if not source.is_file():
        raise StateError(f"no job history at {source}: nothing to copy (has this project run jobs?)", "missing")
    JobHistory(source).close()  # brings an older history up to date; refuses a newer or damaged one in words
    try:
        db = sqlite3.connect(f"file:{source}?mode=ro", uri=True, timeout=30, isolation_level=None)
    except sqlite3.Error as exc:
        raise state_error(exc, source) from None
    try:
        db.execute("BEGIN")  # one snapshot of every table
        tables = []
        for table in COPIED:
            have = [r[1] for r in db.execute(f"PRAGMA table_info({table})")]
            columns = [c for c in have if c in _COLUMNS[table]]
            tables.append((table, columns, _rows(db, source, table, columns)))
        counts = target.copy_in(tables)
        db.execute("COMMIT")
        return counts
    except sqlite3.Error as exc:
        raise state_error(exc, source) from None
    finally:
        db.close()


def _rows(db: sqlite3.Connection, source: Path, table: str, columns: list[str]) -> Iterator[tuple[Any, ...]]:
    order = {"task_runs": "job_id, idx", "component_state": "component, config", "schedule_fires":
             "orchestration, fire_at", "schedule_state": "orchestration"}.get(table, "id")
    # rows of a job that is gone (a history written without foreign keys) would break PostgreSQL's: left out
    where = " WHERE job_id IN (SELECT id FROM jobs)" if table in ("task_runs", "log_lines") else ""
    cursor = db.execute(f"SELECT {', '.join(columns)} FROM {table}{where} ORDER BY {order}")
    while True:
        try:
            rows = cursor.fetchmany(5000)
        except sqlite3.Error as exc:
            raise state_error(exc, source) from None
        if not rows:
            return
        yield from rows
