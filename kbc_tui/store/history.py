"""Job history and queue: SQLite in ``.kbc/jobs.sqlite`` (WAL), shared by every process of a project.

Holds jobs (the queue is the ``waiting`` jobs), task runs, log lines and component state.
Times are stored as UTC epoch seconds and returned as aware UTC datetimes. One connection per
``JobHistory``, guarded by a lock so worker threads may call it too.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from datetime import datetime
from pathlib import Path
from array import array
from typing import Any, Iterable, Sequence

from kbc_tui.errors import KbcError, StateError, describe_os_error, is_disk_full, os_error_kind
from kbc_tui.model.job import Job, JobStatus, LogLine, Notification, TaskRun, Trigger
from kbc_tui.store.private import private_dir, private_file, tighten
from kbc_tui.store.rows import job_row as _job, log_line_row as _log_line, now_ts, task_row as _task, to_dt, to_ts
from kbc_tui.store.state import FireRecord, WorkerInfo

SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    orchestration TEXT NOT NULL,
    status TEXT NOT NULL,
    trigger TEXT NOT NULL,
    triggered_by TEXT NOT NULL DEFAULT '',
    created_at REAL NOT NULL,
    started_at REAL,
    finished_at REAL,
    message TEXT NOT NULL DEFAULT '',
    pid INTEGER,
    cancel_requested INTEGER NOT NULL DEFAULT 0,
    updated_at REAL NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS jobs_by_orchestration ON jobs (orchestration, id DESC);
CREATE INDEX IF NOT EXISTS jobs_by_status ON jobs (status, id);
CREATE INDEX IF NOT EXISTS jobs_by_update ON jobs (updated_at);
CREATE TABLE IF NOT EXISTS task_runs (
    job_id INTEGER NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
    idx INTEGER NOT NULL,
    phase INTEGER NOT NULL,
    component TEXT NOT NULL,
    config TEXT NOT NULL,
    status TEXT NOT NULL,
    started_at REAL,
    finished_at REAL,
    rows INTEGER,
    message TEXT NOT NULL DEFAULT '',
    attempt INTEGER NOT NULL DEFAULT 1,
    PRIMARY KEY (job_id, idx)
);
CREATE TABLE IF NOT EXISTS log_lines (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    job_id INTEGER NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
    time REAL NOT NULL,
    level TEXT NOT NULL,
    task TEXT,
    text TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS log_by_job ON log_lines (job_id, id);
CREATE TABLE IF NOT EXISTS component_state (
    component TEXT NOT NULL,
    config TEXT NOT NULL,
    state TEXT NOT NULL,
    updated_at REAL NOT NULL,
    PRIMARY KEY (component, config)
);
CREATE TABLE IF NOT EXISTS notifications (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    job_id INTEGER NOT NULL,
    event TEXT NOT NULL,
    recipients TEXT NOT NULL,
    subject TEXT NOT NULL,
    body_text TEXT NOT NULL,
    body_html TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'pending',
    attempts INTEGER NOT NULL DEFAULT 0,
    next_try REAL NOT NULL DEFAULT 0,
    last_error TEXT NOT NULL DEFAULT '',
    created_at REAL NOT NULL,
    UNIQUE (job_id, event)
);
CREATE INDEX IF NOT EXISTS notifications_pending ON notifications (status, next_try);
-- the scheduler: each fire time recorded once (UNIQUE), and until when schedules were checked
CREATE TABLE IF NOT EXISTS schedule_fires (
    orchestration TEXT NOT NULL,
    fire_at REAL NOT NULL,
    outcome TEXT NOT NULL,
    job_id INTEGER,
    recorded_at REAL NOT NULL,
    PRIMARY KEY (orchestration, fire_at)
);
CREATE TABLE IF NOT EXISTS schedule_state (
    orchestration TEXT PRIMARY KEY,
    checked_until REAL NOT NULL
);
"""

#: version 2 (issue 13): which worker claimed a job, the orchestration's content hash where it was queued, and the
#: workers (name, host, pid, heartbeat) that share the state
SCHEMA_V2 = """
ALTER TABLE jobs ADD COLUMN worker TEXT;
ALTER TABLE jobs ADD COLUMN spec_hash TEXT;
CREATE TABLE IF NOT EXISTS workers (
    name TEXT PRIMARY KEY,
    host TEXT NOT NULL,
    pid INTEGER NOT NULL,
    started_at REAL NOT NULL,
    beat_at REAL NOT NULL
);
"""

_JOB_COLS = ("id, orchestration, status, trigger, triggered_by, created_at, started_at, finished_at, "
             "message, pid, worker, spec_hash")


def state_error(exc: BaseException, path: Path) -> StateError:
    """A failure of the job history file in words: what is wrong with which file, and what to do."""
    if isinstance(exc, StateError):
        return exc
    text = " ".join(str(exc).split()) or type(exc).__name__
    low = text.lower()
    if isinstance(exc, OSError):
        return StateError(f"cannot open the job history: {describe_os_error(exc)}", os_error_kind(exc))
    if is_disk_full(exc) or ("disk i/o error" in low and _no_space(path)):
        return StateError(f"disk full: cannot write the job history {path} (free space on that disk; a job "
                          "that was running is marked terminated when kbc-tui next runs jobs here)", "full")
    if "not a database" in low or "malformed" in low or "corrupt" in low:
        return StateError(f"{path}: the job history is damaged ({text}). Move it aside and kbc-tui starts a new "
                          f"one: mv '{path}' '{path}.damaged' (its jobs, logs and schedule records are then no "
                          "longer shown)", "damaged")
    if "readonly" in low or "read-only" in low:
        return StateError(f"cannot write the job history {path}: it is read-only (check the owner and "
                          f"permissions of {path.parent}, or the mount)", "readonly")
    if "unable to open" in low:
        if path.parent.exists() and not path.parent.is_dir():
            return StateError(f"{path.parent}: a file is in the way where kbc-tui keeps its state folder "
                              "(move it aside)", "other")
        return StateError(f"cannot open the job history {path}: {text} (check that {path.parent} exists and "
                          "is writable)", "readonly")
    if "locked" in low or "busy" in low:
        return StateError(f"the job history {path} is busy: another kbc-tui process held it too long ({text}); "
                          "try again", "busy")
    return StateError(f"the job history {path} failed: {text}", "other")


def _no_space(path: Path) -> bool:
    import shutil

    try:
        return shutil.disk_usage(path.parent).free < 64 * 1024
    except OSError:
        return False


#: how long opening the history retries a "locked" that SQLite reports without waiting
OPEN_RETRY_SECONDS = 10.0

#: the history's layout, kept in SQLite's ``user_version``. A kbc-tui that finds an older one brings it up to
#: date in one transaction (version 0: a history made before versions were kept, or a new file); one that finds a
#: newer one refuses to touch it (it cannot know what the newer layout means) and says to upgrade.
SCHEMA_VERSION = 2
#: version -> the statements that bring the version before it up to it (version 1: the whole SCHEMA)
MIGRATIONS: dict[int, str] = {1: SCHEMA, 2: SCHEMA_V2}


def newer_history_error(path: Path, version: int) -> StateError:
    return StateError(f"the job history {path} was written by a newer kbc-tui (history version {version}; this "
                      f"kbc-tui knows up to version {SCHEMA_VERSION}): upgrade kbc-tui on this machine (pip install "
                      "--upgrade kbc-tui) or use the newer one; the history is left as it is", "newer")


class _Cursor:
    """A cursor whose failures are ``StateError`` (rows are fetched lazily: errors can come late)."""

    __slots__ = ("_cur", "_fail")

    def __init__(self, cur: sqlite3.Cursor, fail):
        self._cur, self._fail = cur, fail

    def fetchall(self) -> list[tuple]:
        try:
            return self._cur.fetchall()
        except sqlite3.Error as exc:
            raise self._fail(exc) from None

    def fetchone(self) -> tuple | None:
        try:
            return self._cur.fetchone()
        except sqlite3.Error as exc:
            raise self._fail(exc) from None

    @property
    def rowcount(self) -> int:
        return self._cur.rowcount

    @property
    def lastrowid(self) -> int | None:
        return self._cur.lastrowid


class _Connection:
    """The SQLite connection, with every failure turned into a ``StateError`` in words.

    ``uri``: open this SQLite URI instead of ``path`` (a read-only opening); ``fail``: how a failure is put into
    words (``state_error`` by default)."""

    def __init__(self, path: Path, *, uri: str | None = None, fail=None):
        self.path = path
        self._fail = fail or (lambda exc: state_error(exc, path))
        try:
            self._db = sqlite3.connect(uri or path, timeout=30, check_same_thread=False, isolation_level=None,
                                       uri=uri is not None)
        except sqlite3.Error as exc:
            raise self._fail(exc) from None

    def execute(self, sql: str, params: Sequence[Any] = ()) -> _Cursor:
        try:
            return _Cursor(self._db.execute(sql, params), self._fail)
        except sqlite3.Error as exc:
            raise self._fail(exc) from None

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> _Cursor:
        try:
            return _Cursor(self._db.executemany(sql, rows), self._fail)
        except sqlite3.Error as exc:
            raise self._fail(exc) from None

    def executescript(self, script: str) -> None:
        try:
            self._db.executescript(script)
        except sqlite3.Error as exc:
            raise self._fail(exc) from None

    @property
    def in_transaction(self) -> bool:
        return self._db.in_transaction

    def close(self) -> None:
        try:
            self._db.close()
        except sqlite3.Error:
            pass


class JobHistory:
    """The ``JobState`` (``kbc_tui.store.state``) in SQLite. Raises ``StateError`` (a ``KbcError`` in words)
    for every failure of the file: damaged, full, read-only."""

    available = True
    shared = False  # one machine: the runner lock decides who runs jobs

    def __init__(self, path: Path):
        self.path = path
        self._lock = threading.RLock()
        try:
            private_dir(path.parent)
            private_file(path)  # 0600 before SQLite opens it: its -wal and -shm files take the database file's mode
            for side in ("-wal", "-shm"):
                tighten(path.with_name(path.name + side))  # left by an older version
        except OSError as exc:
            raise state_error(exc, path) from None
        self._db = _Connection(path)
        # Opening races other kbc-tui processes opening or closing the same file (the last one to close
        # checkpoints and removes the log): SQLite can then say "locked" at once, without waiting on its
        # busy timeout. Such a moment passes in milliseconds, so the opening is tried again for a while.
        deadline = time.monotonic() + OPEN_RETRY_SECONDS
        while True:
            try:
                if self._db.execute("PRAGMA journal_mode").fetchall()[0][0].lower() != "wal":
                    self._db.execute("PRAGMA journal_mode=WAL").fetchall()  # once, when the file is made
                self._db.execute("PRAGMA synchronous=NORMAL")
                self._db.execute("PRAGMA foreign_keys=ON")
                with self._lock:
                    self._migrate()
                break
            except StateError as exc:
                if exc.kind != "busy" or time.monotonic() >= deadline:
                    self._db.close()
                    raise
                time.sleep(0.05)

    def _version(self) -> int:
        return self._db.execute("PRAGMA user_version").fetchall()[0][0]

    def _migrate(self) -> None:
        """Bring the layout up to ``SCHEMA_VERSION`` in one IMMEDIATE transaction (two processes opening a new
        file at once: the second finds it done); refuse a newer one."""
        version = self._version()
        if version > SCHEMA_VERSION:
            raise newer_history_error(self.path, version)
        if version == SCHEMA_VERSION:
            return
        self._db.execute("BEGIN IMMEDIATE")
        try:
            version = self._version()
            if version > SCHEMA_VERSION:
                raise newer_history_error(self.path, version)
            for step in range(version + 1, SCHEMA_VERSION + 1):
                for statement in MIGRATIONS[step].split(";"):
                    if statement.strip() and not self._has_column(statement):
                        self._db.execute(statement)
            self._db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            self._db.execute("COMMIT")
        except BaseException:
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
            raise

    def _has_column(self, statement: str) -> bool:
        """An ``ALTER TABLE t ADD COLUMN c`` whose column is there already (a version-0 history: made before
        versions were kept, or by a newer kbc-tui and set back) is skipped: every migration can run again."""
        words = statement.split()
        if [w.upper() for w in words[:2] + words[3:5]] != ["ALTER", "TABLE", "ADD", "COLUMN"]:
            return False
        return any(r[1] == words[5] for r in self._db.execute(f"PRAGMA table_info('{words[2]}')").fetchall())

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # -- low level --------------------------------------------------------------------
    def execute(self, sql: str, params: Sequence[Any] = ()) -> list[tuple]:
        with self._lock:
            return self._db.execute(sql, params).fetchall()

    def transaction(self) -> "_Tx":
        return _Tx(self)

    # -- jobs -------------------------------------------------------------------------
    def create_job(self, orchestration: str, trigger: Trigger, triggered_by: str,
                   spec_hash: str | None = None) -> Job:
        ts = now_ts()
        with self._lock:
            cur = self._db.execute(
                "INSERT INTO jobs (orchestration, status, trigger, triggered_by, created_at, updated_at, spec_hash) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)", (orchestration, JobStatus.WAITING.value, trigger.value, triggered_by,
                                                ts, ts, spec_hash))
            job_id = cur.lastrowid
        return Job(job_id, orchestration, JobStatus.WAITING, trigger, triggered_by, to_dt(ts), spec_hash=spec_hash)

    def update_job(self, job_id: int, **fields: Any) -> None:
        sets, values = [], []
        for key, value in fields.items():
            if isinstance(value, datetime):
                value = value.timestamp()
            elif isinstance(value, (JobStatus, Trigger)):
                value = value.value
            sets.append(f"{key} = ?")
            values.append(value)
        sets.append("updated_at = ?")
        values.append(now_ts())
        with self._lock:
            self._db.execute(f"UPDATE jobs SET {', '.join(sets)} WHERE id = ?", (*values, job_id))

    def job(self, job_id: int, *, with_tasks: bool = True) -> Job | None:
        rows = self.execute(f"SELECT {_JOB_COLS} FROM jobs WHERE id = ?", (job_id,))
        if not rows:
            return None
        job = _job(rows[0])
        if with_tasks:
            job.tasks = self.task_runs(job_id)
        return job

    def list_jobs(self, orchestration: str | None = None, limit: int = 50,
                  statuses: Iterable[JobStatus] | None = None, before_id: int | None = None) -> list[Job]:
        where, params = [], []
        if orchestration is not None:
            where.append("orchestration = ?")
            params.append(orchestration)
        if statuses is not None:
            statuses = [s.value for s in statuses]
            where.append(f"status IN ({', '.join('?' for _ in statuses)})")
            params.extend(statuses)
        if before_id is not None:
            where.append("id < ?")
            params.append(before_id)
        sql = f"SELECT {_JOB_COLS} FROM jobs"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY id DESC LIMIT ?"
        return [_job(r) for r in self.execute(sql, (*params, limit))]

    def waiting_jobs(self) -> list[Job]:
        rows = self.execute(f"SELECT {_JOB_COLS} FROM jobs WHERE status = 'waiting' ORDER BY id")
        return [_job(r) for r in rows]

    def active_jobs(self) -> list[Job]:
        rows = self.execute(f"SELECT {_JOB_COLS} FROM jobs WHERE status IN ('waiting', 'processing') ORDER BY id")
        return [_job(r) for r in rows]

    def jobs_updated_since(self, ts: float) -> list[Job]:
        rows = self.execute(f"SELECT {_JOB_COLS} FROM jobs WHERE updated_at > ? ORDER BY id", (ts,))
        return [_job(r) for r in rows]

    def last_jobs(self, orchestrations: Iterable[str] | None = None) -> dict[str, Job]:
        """The latest job of each orchestration (or of the given ones: one index lookup each)."""
        if orchestrations is None:
            rows = self.execute(
                f"SELECT {_JOB_COLS} FROM jobs WHERE id IN (SELECT max(id) FROM jobs GROUP BY orchestration)")
            return {j.orchestration: j for j in map(_job, rows)}
        out: dict[str, Job] = {}
        with self._lock:
            for orch in orchestrations:
                row = self._db.execute(f"SELECT {_JOB_COLS} FROM jobs WHERE orchestration = ? ORDER BY id DESC "
                                       "LIMIT 1", (orch,)).fetchone()
                if row is not None:
                    out[orch] = _job(row)
        return out

    def request_cancel(self, job_id: int) -> None:
        self.update_job(job_id, cancel_requested=1)

    def cancel_requested(self, job_ids: Sequence[int]) -> set[int]:
        if not job_ids:
            return set()
        marks = ", ".join("?" for _ in job_ids)
        return {r[0] for r in self.execute(
            f"SELECT id FROM jobs WHERE cancel_requested = 1 AND id IN ({marks})", tuple(job_ids))}

    def average_duration(self, orchestration: str, n: int = 20) -> float | None:
        rows = self.execute(
            "SELECT avg(finished_at - started_at), count(*) FROM (SELECT started_at, finished_at FROM jobs "
            "WHERE orchestration = ? AND status = 'success' AND started_at IS NOT NULL "
            "ORDER BY id DESC LIMIT ?)", (orchestration, n))
        return rows[0][0] if rows and rows[0][1] else None

    def apply_retention(self, orchestration: str, keep: int) -> int:
        with self._lock:
            cur = self._db.execute(
                "DELETE FROM jobs WHERE orchestration = ? AND status NOT IN ('waiting', 'processing') AND id < "
                "(SELECT min(id) FROM (SELECT id FROM jobs WHERE orchestration = ? ORDER BY id DESC LIMIT ?))",
                (orchestration, orchestration, keep))
            if cur.rowcount:
                self._db.execute("DELETE FROM notifications WHERE status != 'pending' "
                                 "AND job_id NOT IN (SELECT id FROM jobs)")
            return cur.rowcount

    def claim_job(self, job_id: int, pid: int, worker: str | None = None) -> bool:
        """Mark a waiting job processing by ``pid`` of ``worker``; False if it is no longer waiting (claimed or
        cancelled), or another job of its orchestration is processing (two never run at once)."""
        with self.transaction() as db:
            return bool(db.execute(
                "UPDATE jobs SET status = 'processing', pid = ?, worker = ?, updated_at = ? "
                "WHERE id = ? AND status = 'waiting' AND NOT EXISTS (SELECT 1 FROM jobs AS other "
                "WHERE other.orchestration = jobs.orchestration AND other.status = 'processing' "
                "AND other.id != jobs.id)", (pid, worker, now_ts(), job_id)).rowcount)

    def cancel_waiting(self, job_id: int, message: str) -> bool:
        """Cancel a job that has not started; False if it is no longer waiting."""
        with self.transaction() as db:
            ts = now_ts()
            return bool(db.execute("UPDATE jobs SET status = 'cancelled', finished_at = ?, message = ?, "
                                   "updated_at = ? WHERE id = ? AND status = 'waiting'",
                                   (ts, message, ts, job_id)).rowcount)

    # -- task runs ----------------------------------------------------------------------
    def create_task_runs(self, runs: list[TaskRun]) -> None:
        with self._lock:
            self._db.executemany(
                "INSERT INTO task_runs (job_id, idx, phase, component, config, status, message) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                [(r.job_id, r.index, r.phase, r.component, r.config, r.status.value, r.message) for r in runs])

    def update_task(self, run: TaskRun) -> None:
        """The task run's fields and its job's ``updated_at`` (what watchers poll), in one commit."""
        with self.transaction() as db:
            db.execute(
                "UPDATE task_runs SET status = ?, started_at = ?, finished_at = ?, rows = ?, message = ?, "
                "attempt = ? WHERE job_id = ? AND idx = ?",
                (run.status.value, to_ts(run.started_at), to_ts(run.finished_at), run.rows, run.message,
                 run.attempt, run.job_id, run.index))
            db.execute("UPDATE jobs SET updated_at = ? WHERE id = ?", (now_ts(), run.job_id))

    def task_runs(self, job_id: int) -> list[TaskRun]:
        rows = self.execute(
            "SELECT job_id, idx, phase, component, config, status, started_at, finished_at, rows, message, "
            "attempt FROM task_runs WHERE job_id = ? ORDER BY idx", (job_id,))
        return [_task(r) for r in rows]

    # -- log ------------------------------------------------------------------------------
    def add_log(self, lines: Iterable[LogLine]) -> None:
        """Append log lines in one transaction (a line a transaction would cap a job at ~25,000 lines/s)."""
        rows = [(ln.job_id, ln.time.timestamp(), ln.level, ln.task, ln.text) for ln in lines]
        if not rows:
            return
        with self.transaction() as db:
            db.executemany("INSERT INTO log_lines (job_id, time, level, task, text) VALUES (?, ?, ?, ?, ?)", rows)

    def log(self, job_id: int, after_id: int = 0, limit: int | None = None) -> list[LogLine]:
        sql = "SELECT id, job_id, time, level, task, text FROM log_lines WHERE job_id = ? AND id > ? ORDER BY id"
        params: tuple = (job_id, after_id)
        if limit is not None:
            sql += " LIMIT ?"
            params += (limit,)
        return [_log_line(r) for r in self.execute(sql, params)]

    def log_tail(self, job_id: int, task: str | None = None, n: int = 20) -> list[LogLine]:
        """The last ``n`` lines of a job (of one task, ``component/config``; all its lines if it has none)."""
        sql = "SELECT id, job_id, time, level, task, text FROM log_lines WHERE job_id = ?"
        rows = self.execute(sql + " AND task = ? ORDER BY id DESC LIMIT ?", (job_id, task, n)) if task else []
        if not rows:
            rows = self.execute(sql + " ORDER BY id DESC LIMIT ?", (job_id, n))
        return [_log_line(r) for r in reversed(rows)]

    def log_since(self, after_id: int, limit: int = 10000, *, upto: int | None = None,
                  exclude_jobs: Iterable[int] = ()) -> list[LogLine]:
        """Lines after ``after_id`` (up to ``upto``), in order; lines of ``exclude_jobs`` are not read at all."""
        exclude = sorted(set(exclude_jobs))
        sql = "SELECT id, job_id, time, level, task, text FROM log_lines WHERE id > ?"
        args: list = [after_id]
        if upto is not None:
            sql += " AND id <= ?"
            args.append(upto)
        if exclude:
            sql += f" AND job_id NOT IN ({', '.join('?' * len(exclude))})"
            args.extend(exclude)
        rows = self.execute(sql + " ORDER BY id LIMIT ?", (*args, limit))
        return [_log_line(r) for r in rows]

    def max_log_id(self) -> int:
        return self.execute("SELECT coalesce(max(id), 0) FROM log_lines")[0][0]

    def log_step(self, job_id: int, from_id: int, n: int) -> int | None:
        """The id ``n`` lines of the job after line ``from_id`` (``n = 0``: its first line with an id >= it)."""
        rows = self.execute("SELECT id FROM log_lines WHERE job_id = ? AND id >= ? ORDER BY id LIMIT 1 OFFSET ?",
                            (job_id, from_id, n))
        return rows[0][0] if rows else None

    def log_count(self, job_id: int, from_id: int, before_id: int | None = None) -> int:
        """How many lines of the job have an id >= ``from_id`` (and < ``before_id``)."""
        if before_id is None:
            sql, params = "id >= ?", (job_id, from_id)
        else:
            sql, params = "id >= ? AND id < ?", (job_id, from_id, before_id)
        return self.execute(f"SELECT count(*) FROM log_lines WHERE job_id = ? AND {sql}", params)[0][0]

    def log_window(self, job_id: int, from_id: int, skip: int, limit: int) -> list[LogLine]:
        """Up to ``limit`` lines of the job from line ``from_id`` on, after skipping ``skip`` of them."""
        rows = self.execute("SELECT id, job_id, time, level, task, text FROM log_lines WHERE job_id = ? AND id >= ? "
                            "ORDER BY id LIMIT ? OFFSET ?", (job_id, from_id, limit, skip))
        return [_log_line(r) for r in rows]

    def search_log(self, job_id: int, needle: str, batch: int = 5000) -> array:
        """Ids of the job's lines whose text or level contains ``needle`` (ASCII letters in any case), in order.

        One scan on a connection of its own: safe to call from a worker thread while others read."""
        escaped = needle.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        pattern = f"%{escaped}%"
        ids = array("q")
        try:
            db = sqlite3.connect(self.path, timeout=30)
            try:
                cursor = db.execute("SELECT id FROM log_lines WHERE job_id = ? AND (text LIKE ? ESCAPE '\\' "
                                    "OR level LIKE ? ESCAPE '\\') ORDER BY id", (job_id, pattern, pattern))
                while rows := cursor.fetchmany(batch):
                    ids.extend(r[0] for r in rows)
            finally:
                db.close()
        except sqlite3.Error as exc:
            raise KbcError(f"Cannot read the log of job {job_id} from {self.path}: {exc}") from exc
        return ids

    # -- notification outbox -------------------------------------------------------------------
    def add_notification(self, note: "Notification") -> int | None:
        """Queue an e-mail; None if this job already has one for this event (each is sent once)."""
        with self._lock:
            cur = self._db.execute(
                "INSERT OR IGNORE INTO notifications (job_id, event, recipients, subject, body_text, body_html, "
                "status, attempts, next_try, last_error, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (note.job_id, note.event, json.dumps(note.recipients), note.subject, note.body_text,
                 note.body_html, note.status, note.attempts, note.next_try, note.last_error, now_ts()))
            return cur.lastrowid if cur.rowcount else None

    def notifications(self, *, job_id: int | None = None, due_before: float | None = None) -> list["Notification"]:
        """A job's e-mails, or the pending ones due before a time (the outbox)."""
        sql = ("SELECT id, job_id, event, recipients, subject, body_text, body_html, status, attempts, next_try, "
               "last_error FROM notifications")
        if job_id is not None:
            rows = self.execute(sql + " WHERE job_id = ? ORDER BY id", (job_id,))
        else:
            rows = self.execute(sql + " WHERE status = 'pending' AND next_try <= ? ORDER BY id",
                                (due_before if due_before is not None else float("inf"),))
        return [Notification(r[1], r[2], json.loads(r[3]), r[4], r[5], r[6], r[7], r[8], r[9], r[10], id=r[0])
                for r in rows]

    def next_notification_due(self, exclude: Iterable[int] = (), only: Iterable[int] | None = None) -> float | None:
        """When the next pending e-mail is due (``exclude``: ids being sent right now; ``only``: just these ids)."""
        ids = [i for i in exclude if i is not None]
        sql, params = "SELECT min(next_try) FROM notifications WHERE status = 'pending'", list(ids)
        if ids:
            sql += f" AND id NOT IN ({', '.join('?' for _ in ids)})"
        if only is not None:
            wanted = [i for i in only if i is not None]
            if not wanted:
                return None
            sql += f" AND id IN ({', '.join('?' for _ in wanted)})"
            params += wanted
        rows = self.execute(sql, tuple(params))
        return rows[0][0] if rows else None

    def update_notification(self, note: "Notification") -> None:
        with self._lock:
            self._db.execute("UPDATE notifications SET status = ?, attempts = ?, next_try = ?, last_error = ? "
                             "WHERE id = ?", (note.status, note.attempts, note.next_try, note.last_error, note.id))

    # -- component state --------------------------------------------------------------------
    def component_state(self, component: str, config: str) -> dict:
        rows = self.execute("SELECT state FROM component_state WHERE component = ? AND config = ?",
                            (component, config))
        return json.loads(rows[0][0]) if rows else {}

    def save_component_state(self, component: str, config: str, state: dict) -> None:
        with self._lock:
            self._db.execute(
                "INSERT INTO component_state (component, config, state, updated_at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (component, config) DO UPDATE SET state = excluded.state, "
                "updated_at = excluded.updated_at", (component, config, json.dumps(state, default=str), now_ts()))


    # -- the scheduler ------------------------------------------------------------------------
    def checked_until(self) -> dict[str, datetime]:
        """Until when schedules were checked: per orchestration id (and the scheduler's heartbeat key)."""
        rows = self.execute("SELECT orchestration, checked_until FROM schedule_state")
        return {r[0]: to_dt(r[1]) for r in rows}

    def advance_checked_until(self, key: str, moment: datetime) -> None:
        """Set ``key``'s checked-until time to ``moment`` unless it is later already."""
        self.execute("INSERT INTO schedule_state (orchestration, checked_until) VALUES (?, ?) ON CONFLICT "
                     "(orchestration) DO UPDATE SET checked_until = max(checked_until, excluded.checked_until)",
                     (key, moment.timestamp()))

    def start_checked_until(self, key: str, moment: datetime) -> None:
        """Set ``key``'s checked-until time to ``moment`` if it has none yet (a schedule first seen)."""
        self.execute("INSERT OR IGNORE INTO schedule_state (orchestration, checked_until) VALUES (?, ?)",
                     (key, moment.timestamp()))

    def fire_recorded(self, orchestration: str, moment: datetime) -> bool:
        """Whether a fire of the orchestration at ``moment`` was recorded (by any scheduler)."""
        return bool(self.execute("SELECT 1 FROM schedule_fires WHERE orchestration = ? AND fire_at = ?",
                                 (orchestration, moment.timestamp())))

    def record_fire(self, orchestration: str, moment: datetime, recorded_at: datetime,
                    spec_hash: str | None = None) -> FireRecord:
        """Record a fire exactly once across processes and act on it, all in one transaction: while the
        orchestration has a waiting or processing job the fire is recorded ``skipped`` (with that job), else a
        scheduled job is created and the fire recorded ``enqueued`` as it. A failure anywhere (a full disk, a
        killed process) leaves neither the fire nor the job: the next look at the schedule fires it again."""
        with self.transaction() as db:
            ts = moment.timestamp()
            inserted = db.execute(
                "INSERT OR IGNORE INTO schedule_fires (orchestration, fire_at, outcome, recorded_at) "
                "VALUES (?, ?, 'pending', ?)", (orchestration, ts, recorded_at.timestamp())).rowcount
            busy = db.execute("SELECT id FROM jobs WHERE orchestration = ? AND status IN ('waiting', 'processing') "
                              "ORDER BY id LIMIT 1", (orchestration,)).fetchone()
            job = None
            if inserted and busy:
                db.execute("UPDATE schedule_fires SET outcome = 'skipped', job_id = ? WHERE orchestration = ? "
                           "AND fire_at = ?", (busy[0], orchestration, ts))
            elif inserted:
                created = now_ts()
                job_id = db.execute(
                    "INSERT INTO jobs (orchestration, status, trigger, triggered_by, created_at, updated_at, "
                    "spec_hash) VALUES (?, ?, ?, ?, ?, ?, ?)", (orchestration, JobStatus.WAITING.value,
                                                               Trigger.SCHEDULE.value, "scheduler", created,
                                                               created, spec_hash)).lastrowid
                db.execute("UPDATE schedule_fires SET outcome = 'enqueued', job_id = ? WHERE orchestration = ? "
                           "AND fire_at = ?", (job_id, orchestration, ts))
                job = Job(job_id, orchestration, JobStatus.WAITING, Trigger.SCHEDULE, "scheduler", to_dt(created),
                          spec_hash=spec_hash)
        return FireRecord(bool(inserted), busy[0] if busy else None, job)

    def fires(self, orchestration: str) -> list[tuple[datetime, str, int | None]]:
        """(fire time, outcome, job id) recorded for an orchestration, oldest first."""
        rows = self.execute("SELECT fire_at, outcome, job_id FROM schedule_fires WHERE orchestration = ? "
                            "ORDER BY fire_at", (orchestration,))
        return [(to_dt(r[0]), r[1], r[2]) for r in rows]

    # -- workers ------------------------------------------------------------------------------
    def register_worker(self, name: str, host: str, pid: int, timeout: float) -> None:
        """Announce a worker and beat once; ``StateError`` (kind ``worker``) if a live one has the name."""
        with self.transaction() as db:
            ts = now_ts()
            row = db.execute("SELECT host, pid, beat_at FROM workers WHERE name = ?", (name,)).fetchone()
            if row is not None and ts - row[2] <= timeout and (row[0], row[1]) != (host, pid):
                raise StateError(f"a worker named {name!r} is running already (on {row[0]}, pid {row[1]}, last "
                                 f"heartbeat {ts - row[2]:.0f} s ago): give this one another name (--name) or "
                                 "stop that one", "worker")
            db.execute("INSERT INTO workers (name, host, pid, started_at, beat_at) VALUES (?, ?, ?, ?, ?) "
                       "ON CONFLICT (name) DO UPDATE SET host = excluded.host, pid = excluded.pid, "
                       "started_at = excluded.started_at, beat_at = excluded.beat_at", (name, host, pid, ts, ts))

    def heartbeat(self, name: str) -> None:
        with self._lock:
            self._db.execute("UPDATE workers SET beat_at = ? WHERE name = ?", (now_ts(), name))

    def unregister_worker(self, name: str) -> None:
        with self._lock:
            self._db.execute("DELETE FROM workers WHERE name = ?", (name,))

    def workers(self) -> list[WorkerInfo]:
        rows = self.execute("SELECT name, host, pid, started_at, beat_at FROM workers ORDER BY name")
        return [WorkerInfo(r[0], r[1], r[2], to_dt(r[3]), to_dt(r[4])) for r in rows]

    def stale_jobs(self, timeout: float) -> list[Job]:
        """``processing`` jobs whose worker has not beaten within ``timeout`` s, or has no row."""
        cols = ", ".join(f"jobs.{c.strip()}" for c in _JOB_COLS.split(","))
        rows = self.execute(f"SELECT {cols} FROM jobs LEFT JOIN workers ON workers.name = jobs.worker "
                            "WHERE jobs.status = 'processing' AND (workers.name IS NULL OR workers.beat_at < ?) "
                            "ORDER BY jobs.id", (now_ts() - timeout,))
        return [_job(r) for r in rows]

    def terminate_job(self, job_id: int, message: str, finished_at: datetime) -> Job | None:
        """End a job whose process died, in one transaction, only if it is still ``processing``."""
        ts = finished_at.timestamp()
        with self.transaction() as db:
            if not db.execute("UPDATE jobs SET status = 'terminated', finished_at = ?, message = ?, updated_at = ? "
                              "WHERE id = ? AND status = 'processing'", (ts, message, now_ts(), job_id)).rowcount:
                return None
            db.execute("UPDATE task_runs SET status = 'terminated', finished_at = ?, "
                       "message = 'the process running the job died' WHERE job_id = ? AND status = 'processing'",
                       (ts, job_id))
            db.execute("UPDATE task_runs SET status = 'skipped', finished_at = ?, "
                       "message = 'not run: the process running the job died' WHERE job_id = ? "
                       "AND status = 'waiting'", (ts, job_id))
            db.execute("INSERT INTO log_lines (job_id, time, level, task, text) VALUES (?, ?, 'error', NULL, ?)",
                       (job_id, ts, f"Job {job_id} {message}"))
        return self.job(job_id, with_tasks=False)


class _Tx:
    """``with history.transaction() as db:`` — an IMMEDIATE transaction (serialises writers across processes)."""

    def __init__(self, history: JobHistory):
        self.history = history

    def __enter__(self) -> _Connection:
        self.history._lock.acquire()
        try:
            self.history._db.execute("BEGIN IMMEDIATE")
        except BaseException:
            self.history._lock.release()
            raise
        return self.history._db

    def __exit__(self, exc_type, exc, tb) -> None:
        db = self.history._db
        try:
            if exc_type is None:
                db.execute("COMMIT")
        except StateError:
            self._rollback(db)
            raise
        finally:
            if exc_type is not None:
                self._rollback(db)
            self.history._lock.release()

    @staticmethod
    def _rollback(db: _Connection) -> None:
        if db.in_transaction:
            try:
                db.execute("ROLLBACK")
            except StateError:
                pass  # nothing more to undo: SQLite rolled back itself
