"""The job state in PostgreSQL (``[state] url``): jobs, task runs, log lines, the e-mail outbox, component state,
the scheduler's records and the workers, shared by every worker on every server of a project.

The same ``JobState`` (``state.py``) as the SQLite ``JobHistory``, with the same semantics: times are stored as
UTC epoch seconds (``double precision``) and returned as aware UTC datetimes; ids come from sequences and only
grow. Where SQLite serialises every writer (one file), PostgreSQL serialises only what must be:

* claiming a job and recording a fire take a transaction-scoped advisory lock keyed on the orchestration, so two
  jobs of one orchestration are never ``processing`` at once and a fire is acted on once, across any number of
  processes and machines;
* log lines are appended under one advisory lock, so their ids become visible in order (a reader that saw line
  ``n`` has seen every line before it: ``log_since`` never skips a line committed late);
* heartbeats, staleness and the jobs' change stamps (``updated_at``, what ``jobs_updated_since`` polls) use the
  database server's clock, never a worker's: machines whose clocks disagree still see each other's changes.

One connection per ``PgJobState`` (autocommit, explicit transactions), guarded by a lock so worker threads may
call it too. A lost connection (server restarted, network) fails the call that met it with a ``StateError`` and
the next call connects again. Every failure is a ``StateError`` in words with a ``kind``: ``"unreachable"``,
``"auth"``, ``"missing"`` (no such database), ``"permission"``, ``"newer"`` (a newer kbc-tui's schema),
``"worker"``, ``"busy"``, ``"readonly"``, ``"closed"`` or ``"other"``. The password is never in a message.
"""

from __future__ import annotations

import json
import threading
import time
from array import array
from contextlib import contextmanager
from datetime import datetime
from typing import Any, Iterable, Iterator, Sequence
from urllib.parse import parse_qs, unquote, urlsplit, urlunsplit

import psycopg

from kbc_tui.errors import StateError
from kbc_tui.model.job import Job, JobStatus, LogLine, Notification, TaskRun, Trigger
from kbc_tui.store.rows import job_row as _job, log_line_row as _log_line, now_ts, task_row as _task, to_dt, to_ts
from kbc_tui.store.state import FireRecord, WorkerInfo

#: seconds to wait for the server when connecting (an unreachable server must not hang the app)
CONNECT_TIMEOUT = 5

#: the schema's version, kept in ``kbc_meta``. A kbc-tui that finds an older one brings it up to date in one
#: transaction under an advisory lock (several workers start at once: the first migrates, the others wait and
#: find it done); one that finds a newer one refuses to touch the database and says to upgrade.
SCHEMA_VERSION = 1

SCHEMA_V1 = """
CREATE TABLE jobs (
    id bigserial PRIMARY KEY,
    orchestration text NOT NULL,
    status text NOT NULL,
    trigger text NOT NULL,
    triggered_by text NOT NULL DEFAULT '',
    created_at double precision NOT NULL,
    started_at double precision,
    finished_at double precision,
    message text NOT NULL DEFAULT '',
    pid bigint,
    worker text,
    spec_hash text,
    cancel_requested integer NOT NULL DEFAULT 0,
    updated_at double precision NOT NULL DEFAULT 0
);
CREATE INDEX jobs_by_orchestration ON jobs (orchestration, id DESC);
CREATE INDEX jobs_by_status ON jobs (status, id);
CREATE INDEX jobs_by_update ON jobs (updated_at);
CREATE INDEX jobs_active ON jobs (orchestration, id) WHERE status IN ('waiting', 'processing');
CREATE TABLE task_runs (
    job_id bigint NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    idx integer NOT NULL,
    phase integer NOT NULL,
    component text NOT NULL,
    config text NOT NULL,
    status text NOT NULL,
    started_at double precision,
    finished_at double precision,
    rows bigint,
    message text NOT NULL DEFAULT '',
    attempt integer NOT NULL DEFAULT 1,
    PRIMARY KEY (job_id, idx)
);
CREATE TABLE log_lines (
    id bigserial PRIMARY KEY,
    job_id bigint NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    time double precision NOT NULL,
    level text NOT NULL,
    task text,
    text text NOT NULL
);
CREATE INDEX log_by_job ON log_lines (job_id, id);
CREATE TABLE component_state (
    component text NOT NULL,
    config text NOT NULL,
    state text NOT NULL,
    updated_at double precision NOT NULL,
    PRIMARY KEY (component, config)
);
CREATE TABLE notifications (
    id bigserial PRIMARY KEY,
    job_id bigint NOT NULL,
    event text NOT NULL,
    recipients text NOT NULL,
    subject text NOT NULL,
    body_text text NOT NULL,
    body_html text NOT NULL,
    status text NOT NULL DEFAULT 'pending',
    attempts integer NOT NULL DEFAULT 0,
    next_try double precision NOT NULL DEFAULT 0,
    last_error text NOT NULL DEFAULT '',
    created_at double precision NOT NULL,
    UNIQUE (job_id, event)
);
CREATE INDEX notifications_pending ON notifications (status, next_try);
CREATE TABLE schedule_fires (
    orchestration text NOT NULL,
    fire_at double precision NOT NULL,
    outcome text NOT NULL,
    job_id bigint,
    recorded_at double precision NOT NULL,
    PRIMARY KEY (orchestration, fire_at)
);
CREATE TABLE schedule_state (
    orchestration text PRIMARY KEY,
    checked_until double precision NOT NULL
);
CREATE TABLE workers (
    name text PRIMARY KEY,
    host text NOT NULL,
    pid bigint NOT NULL,
    started_at double precision NOT NULL,
    beat_at double precision NOT NULL
)
"""

#: version -> the statements that bring the version before it up to it
MIGRATIONS: dict[int, str] = {1: SCHEMA_V1}

#: the tables kbc-tui keeps (``state copy`` and the "is it empty" check read them)
TABLES = ("jobs", "task_runs", "log_lines", "component_state", "notifications", "schedule_fires", "schedule_state",
          "workers")

#: each table's columns (what ``copy_in`` accepts)
_COLUMNS: dict[str, set[str]] = {}
for _block in SCHEMA_V1.split("CREATE TABLE ")[1:]:
    _name, _body = _block.split(" (", 1)
    _COLUMNS[_name.strip()] = {ln.split()[0] for ln in _body.split("\n);")[0].splitlines()
                               if ln.startswith("    ") and ln.split()[0] not in ("PRIMARY", "UNIQUE")}

# advisory lock keys (two int4: a namespace of kbc-tui's own, then the key), database-wide
_LOCK_ORCHESTRATION = 0x6B6263  # "kbc" + hashtext(orchestration id): claiming, recording fires
_LOCK_GLOBAL = 0x6B6264  # + one of:
_KEY_MIGRATE = 1
_KEY_LOG = 2

#: session settings: UTC; and a client that froze or vanished mid-transaction (holding a claim's or the log's lock)
#: is cut off by the server within about a minute instead of the operating system's two hours
SESSION_OPTIONS = ("-c TimeZone=UTC -c idle_in_transaction_session_timeout=60000 -c tcp_keepalives_idle=30 "
                   "-c tcp_keepalives_interval=10 -c tcp_keepalives_count=3")

#: joined into a statement (autocommit: its own transaction), its commit does not wait for the server's disk
#: (``synchronous_commit`` off for it alone). For the frequent progress writes only — task runs and log lines:
#: a server crash can lose the last fraction of a second of them, never more; every other write (claims, fires,
#: job status) waits for the disk, and flushes the progress written before it with it, so a finished job's
#: lines and task runs are as durable as its final status.
_NO_FLUSH = "(SELECT set_config('synchronous_commit', 'off', true)) AS no_flush"

#: how often ``jobs_updated_since`` measures again how far the server's clock is from this machine's (seconds)
OFFSET_TTL = 60.0

#: the server's clock in epoch seconds (heartbeats and staleness never use a worker's clock)
_DB_NOW = "extract(epoch FROM clock_timestamp())::double precision"

_JOB_COLS = ("id, orchestration, status, trigger, triggered_by, created_at, started_at, finished_at, message, pid, "
             "worker, spec_hash")
_JOB_FIELDS = {"orchestration", "status", "trigger", "triggered_by", "created_at", "started_at", "finished_at",
               "message", "pid", "worker", "spec_hash", "cancel_requested"}
_LOG_COLS = "id, job_id, time, level, task, text"
_TASK_COLS = "job_id, idx, phase, component, config, status, started_at, finished_at, rows, message, attempt"
_NOTE_COLS = ("id, job_id, event, recipients, subject, body_text, body_html, status, attempts, next_try, "
              "last_error")


def _text(value: str | None) -> str | None:
    """Text PostgreSQL accepts: a NUL (which a component may print) becomes U+FFFD, a lone surrogate '?'."""
    if value is None:
        return None
    if "\x00" in value:
        value = value.replace("\x00", "\ufffd")
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            value = value.encode("utf-8", "replace").decode("utf-8")
    return value


def _note(r: Sequence[Any]) -> Notification:
    return Notification(r[1], r[2], json.loads(r[3]), r[4], r[5], r[6], r[7], r[8], r[9], r[10], id=r[0])


class PgUrl:
    """A ``[state] url`` taken apart: what psycopg connects to, and how messages name it (never the password)."""

    def __init__(self, url: str):
        parts = urlsplit(url.strip())
        scheme = parts.scheme.split("+", 1)[0]
        if scheme not in ("postgresql", "postgres"):
            raise StateError(f"[state] url: expected a PostgreSQL URL like postgresql+psycopg://user@host:5432/"
                             f"database, got {parts.scheme or '(no scheme)'!r}", "config")
        try:
            port = parts.port
        except ValueError as exc:
            raise StateError(f"[state] url: {exc}", "config") from None
        self.user = unquote(parts.username or "")
        self.url_password = unquote(parts.password or "")
        self.host = parts.hostname or "localhost"
        self.port = port or 5432
        self.dbname = unquote(parts.path.lstrip("/")) or self.user
        netloc = (f"{parts.username}@" if parts.username else "") + (parts.netloc.rsplit("@", 1)[-1])
        #: what psycopg connects to (the driver suffix dropped)
        self.conninfo = urlunsplit(("postgresql", netloc if not self.url_password else parts.netloc,
                                    parts.path, parts.query, ""))
        #: the URL without its password, for messages
        self.display = urlunsplit(("postgresql", netloc, parts.path, parts.query, ""))
        #: host:port/database, for messages
        self.where = f"{self.host}:{self.port}/{self.dbname}"
        #: the URL's own ``?options=`` (``-csearch_path=kbc``: a schema of kbc-tui's own), kept after kbc-tui's
        self.options = " ".join(parse_qs(parts.query).get("options", []))

    def __str__(self) -> str:
        return self.display


class PgJobState:
    """The ``JobState`` (``kbc_tui.store.state``) in PostgreSQL. Raises ``StateError`` in words for every
    failure: unreachable server, refused login, missing database, newer schema, lost connection."""

    shared = True
    available = True

    def __init__(self, url: str, *, password: str = "", connect_timeout: float = CONNECT_TIMEOUT):
        self._url = PgUrl(url)
        self._password = password or self._url.url_password
        self._connect_timeout = max(1, int(round(connect_timeout)))
        #: named in messages: the URL without its password
        self.path = self._url.display
        self._lock = threading.RLock()
        self._conn: psycopg.Connection | None = None
        self._closed = False
        self._registered: dict[str, tuple[str, int]] = {}  # the workers registered through this state
        self._offset, self._offset_at, self._offset_conn = 0.0, 0.0, None  # see ``_clock_offset``
        with self._lock:
            try:
                self._migrate()
            except BaseException:
                self._drop_connection()
                raise

    def __repr__(self) -> str:
        return f"PgJobState({self.path!r})"

    # -- connection --------------------------------------------------------------------------------
    def _connect(self, **extra: Any) -> psycopg.Connection:
        kwargs: dict[str, Any] = dict(autocommit=True, connect_timeout=self._connect_timeout,
                                      application_name="kbc-tui", client_encoding="utf8",
                                      keepalives=1, keepalives_idle=15, keepalives_interval=5, keepalives_count=3,
                                      tcp_user_timeout=30000,
                                      options=f"{SESSION_OPTIONS} {self._url.options}".strip())
        if self._password:
            kwargs["password"] = self._password
        kwargs.update(extra)
        try:
            return psycopg.connect(self._url.conninfo, **kwargs)
        except psycopg.Error as exc:
            raise self._connect_error(exc) from None
        except OSError as exc:  # name resolution and the like, when psycopg lets them through
            raise self._connect_error(exc) from None

    def _connection(self) -> psycopg.Connection:
        if self._closed:
            raise StateError(f"the job state at {self._url.where} was closed", "closed")
        conn = self._conn
        if conn is None or conn.closed:
            self._conn = conn = self._connect()
        return conn

    def _drop_connection(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.close()
            except Exception:  # noqa: BLE001 - closing a broken connection: nothing more to do
                pass

    def _drop_if_busy(self, conn: psycopg.Connection) -> None:
        """A connection not idle after an interruption is in an unknown state: the next call gets a new one."""
        try:
            idle = not conn.closed and conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
        except Exception:  # noqa: BLE001 - whatever it is, it is not usable
            idle = False
        if not idle:
            self._drop_connection()

    @contextmanager
    def _cursor(self) -> Iterator[psycopg.Cursor]:
        """A cursor on the connection, statements autocommitted; every failure a ``StateError``."""
        with self._lock:
            conn = self._connection()
            try:
                with conn.cursor() as cur:
                    yield cur
            except psycopg.Error as exc:
                raise self._failed(exc, conn) from None
            except BaseException:
                self._drop_if_busy(conn)  # interrupted mid-statement (Ctrl-C, a cancelled thread)
                raise

    @contextmanager
    def _tx(self) -> Iterator[psycopg.Cursor]:
        """A cursor in one transaction (committed on leaving, rolled back on an exception)."""
        with self._lock:
            conn = self._connection()
            try:
                with conn.transaction(), conn.cursor() as cur:
                    yield cur
            except psycopg.Error as exc:
                raise self._failed(exc, conn) from None
            except BaseException:
                self._drop_if_busy(conn)
                raise

    def _rows(self, sql: str, params: Sequence[Any] | dict = ()) -> list[tuple]:
        with self._cursor() as cur:
            cur.execute(sql, params)
            return cur.fetchall()

    def close(self) -> None:
        with self._lock:
            self._closed = True
            self._drop_connection()

    # -- failures in words -------------------------------------------------------------------------
    def _scrub(self, text: str) -> str:
        text = " ".join(text.split())
        if self._password:
            text = text.replace(self._password, "***")
        return text

    def _connect_error(self, exc: BaseException) -> StateError:
        u = self._url
        text = self._scrub(str(exc)) or type(exc).__name__
        low = text.lower()
        reason = text.split(" failed: ", 1)[-1].removeprefix("FATAL: ").strip()
        if "database" in low and "does not exist" in low:
            return StateError(f'the job state database "{u.dbname}" does not exist on {u.host}:{u.port} — create it '
                              f'(as a superuser: CREATE DATABASE "{u.dbname}" OWNER "{u.user or "kbc"}") or fix the '
                              "database in [state] url in kbc.toml", "missing")
        if "role" in low and "does not exist" in low:
            return StateError(f'PostgreSQL at {u.host}:{u.port} has no user "{u.user}" — create it (as a superuser: '
                              f'CREATE ROLE "{u.user}" LOGIN PASSWORD \'…\') or fix the user in [state] url in '
                              "kbc.toml", "auth")
        if "password authentication failed" in low or "authentication failed" in low:
            return StateError(f'PostgreSQL at {u.host}:{u.port} refused the password of user "{u.user}" — check '
                              "[state] #password in kbc.toml (an env: reference, or a value kbc-tui encrypt "
                              "encrypted) and the user's password on the server", "auth")
        if "no password supplied" in low or "password is required" in low:
            return StateError(f'PostgreSQL at {u.host}:{u.port} asks for a password for user "{u.user}" and none '
                              "is set — set [state] #password in kbc.toml", "auth")
        if "pg_hba.conf" in low:
            return StateError(f"PostgreSQL at {u.host}:{u.port} does not let user \"{u.user}\" connect from this "
                              f"machine ({reason}) — allow it in the server's pg_hba.conf", "auth")
        if "too many connections" in low or "remaining connection slots" in low:
            return StateError(f"PostgreSQL at {u.host}:{u.port} has no free connection ({reason}) — raise its "
                              "max_connections or stop some clients, then try again", "busy")
        if "timeout expired" in low:
            reason = f"no answer within {self._connect_timeout} s"
        elif "connection refused" in low:
            reason = "connection refused"
        elif "resolve host" in low or "translate host name" in low or "name or service not known" in low:
            reason = f"unknown host {u.host}"
        elif "starting up" in low or "shutting down" in low or "recovery" in low:
            reason = f"the server is {'starting up' if 'starting up' in low else 'shutting down'}"
        return StateError(f"cannot reach the job state at {u.where}: {reason} — check [state] url in kbc.toml and "
                          "that PostgreSQL runs", "unreachable")

    def _failed(self, exc: psycopg.Error, conn: psycopg.Connection) -> StateError:
        """A failed call in words; a connection that broke is dropped (the next call connects again)."""
        u = self._url
        text = self._scrub(str(exc)) or type(exc).__name__
        state = getattr(exc, "sqlstate", None) or ""
        if conn.broken or conn.closed:
            self._drop_connection()
            return StateError(f"lost the connection to the job state at {u.where} ({text}) — the last change may "
                              "not be recorded; kbc-tui connects again on the next try", "unreachable")
        if state == "42501":
            return StateError(f'PostgreSQL user "{u.user}" may not do this in the job state database {u.where} '
                              f'({text}) — make it the owner of the database (ALTER DATABASE "{u.dbname}" OWNER TO '
                              f'"{u.user}") or grant it the rights', "permission")
        if state == "3F000":
            return StateError(f"the job state database {u.where} has no schema to make kbc-tui's tables in ({text}) "
                              "— create the schema named in search_path (CREATE SCHEMA ...) or fix [state] url",
                              "other")
        if state == "25006":
            return StateError(f"the job state at {u.where} is read-only ({text}) — point [state] url at the "
                              "primary server, not a standby", "readonly")
        if state == "53100":
            return StateError(f"the PostgreSQL server of the job state at {u.where} has a full disk ({text}) — "
                              "free space on that server", "other")
        if state[:2] in ("40", "55", "57") or state == "53300":
            return StateError(f"the job state at {u.where} is busy ({text}); try again", "busy")
        return StateError(f"the job state at {u.where} failed: {text}", "other")

    def _newer_error(self, version: int) -> StateError:
        return StateError(f"the job state at {self._url.where} was written by a newer kbc-tui (state version "
                          f"{version}; this kbc-tui knows up to version {SCHEMA_VERSION}): upgrade kbc-tui on this "
                          "machine (pip install --upgrade kbc-tui) or use the newer one; the database is left as "
                          "it is", "newer")

    # -- schema ------------------------------------------------------------------------------------
    def _version(self, cur: psycopg.Cursor) -> int:
        # pg_tables, not to_regclass: a name lookup may answer from this backend's cache, stale right after
        # another worker made the schema (found by four workers opening a new database at once)
        cur.execute("SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_tables WHERE schemaname = current_schema() "
                    "AND tablename = 'kbc_meta')")
        if not cur.fetchone()[0]:
            return 0
        cur.execute("SELECT value FROM kbc_meta WHERE key = 'schema_version'")
        row = cur.fetchone()
        return int(row[0]) if row else 0

    def schema_version(self) -> int:
        """The version of the schema in the database (0: none yet)."""
        with self._cursor() as cur:
            return self._version(cur)

    def _migrate(self) -> None:
        """Bring the schema up to ``SCHEMA_VERSION`` in one transaction under an advisory lock; refuse a newer
        one without changing anything."""
        with self._cursor() as cur:
            version = self._version(cur)
        if version > SCHEMA_VERSION:
            raise self._newer_error(version)
        if version == SCHEMA_VERSION:
            return
        with self._tx() as cur:
            cur.execute("SELECT pg_advisory_xact_lock(%s, %s)", (_LOCK_GLOBAL, _KEY_MIGRATE))
            version = self._version(cur)  # another worker may have migrated while this one waited
            if version > SCHEMA_VERSION:
                raise self._newer_error(version)
            if version == SCHEMA_VERSION:
                return
            if version == 0:
                self._check_fresh(cur)
                cur.execute("CREATE TABLE IF NOT EXISTS kbc_meta (key text PRIMARY KEY, value text NOT NULL)")
            for step in range(version + 1, SCHEMA_VERSION + 1):
                for statement in MIGRATIONS[step].split(";"):
                    if statement.strip():
                        cur.execute(statement)
            cur.execute("INSERT INTO kbc_meta (key, value) VALUES ('schema_version', %s) ON CONFLICT (key) DO "
                        "UPDATE SET value = excluded.value", (str(SCHEMA_VERSION),))

    def _check_fresh(self, cur: psycopg.Cursor) -> None:
        """Before making the schema: a UTF-8 database whose tables are not someone else's."""
        cur.execute("SELECT current_setting('server_encoding')")
        encoding = cur.fetchone()[0]
        if encoding.upper() not in ("UTF8", "UTF-8"):
            raise StateError(f"the job state database {self._url.where} uses the encoding {encoding}; kbc-tui "
                             f"needs UTF8 (create it with: CREATE DATABASE \"{self._url.dbname}\" ENCODING 'UTF8' "
                             "TEMPLATE template0)", "other")
        cur.execute("SELECT array_agg(tablename::text ORDER BY tablename) FROM pg_catalog.pg_tables "
                    "WHERE schemaname = current_schema() AND tablename = ANY(%s)", (list(TABLES),))
        taken = cur.fetchone()[0]
        if taken:
            raise StateError(f"the database {self._url.where} has tables named like kbc-tui's ({', '.join(taken)}) "
                             "that kbc-tui did not make — give kbc-tui a database of its own (or a schema: "
                             "?options=-csearch_path%3Dkbc in [state] url)", "other")

    # -- jobs --------------------------------------------------------------------------------------
    def create_job(self, orchestration: str, trigger: Trigger, triggered_by: str,
                   spec_hash: str | None = None) -> Job:
        ts = now_ts()
        rows = self._rows("INSERT INTO jobs (orchestration, status, trigger, triggered_by, created_at, updated_at, "
                          f"spec_hash) VALUES (%s, %s, %s, %s, %s, {_DB_NOW}, %s) RETURNING id",
                          (orchestration, JobStatus.WAITING.value, trigger.value, _text(triggered_by), ts,
                           spec_hash))
        return Job(rows[0][0], orchestration, JobStatus.WAITING, trigger, triggered_by, to_dt(ts),
                   spec_hash=spec_hash)

    def update_job(self, job_id: int, **fields: Any) -> None:
        sets, values = [], []
        for key, value in fields.items():
            if key not in _JOB_FIELDS:
                raise ValueError(f"update_job: jobs have no field {key!r}")
            if isinstance(value, datetime):
                value = value.timestamp()
            elif isinstance(value, (JobStatus, Trigger)):
                value = value.value
            elif isinstance(value, bool):
                value = int(value)
            elif isinstance(value, str):
                value = _text(value)
            sets.append(f"{key} = %s")
            values.append(value)
        sets.append(f"updated_at = {_DB_NOW}")
        with self._cursor() as cur:
            cur.execute(f"UPDATE jobs SET {', '.join(sets)} WHERE id = %s", (*values, job_id))

    def job(self, job_id: int, *, with_tasks: bool = True) -> Job | None:
        with self._cursor() as cur:
            cur.execute(f"SELECT {_JOB_COLS} FROM jobs WHERE id = %s", (job_id,))
            row = cur.fetchone()
            if row is None:
                return None
            job = _job(row)
            if with_tasks:
                cur.execute(f"SELECT {_TASK_COLS} FROM task_runs WHERE job_id = %s ORDER BY idx", (job_id,))
                job.tasks = [_task(r) for r in cur.fetchall()]
        return job

    def list_jobs(self, orchestration: str | None = None, limit: int = 50,
                  statuses: Iterable[JobStatus] | None = None, before_id: int | None = None) -> list[Job]:
        where, params = [], []
        if orchestration is not None:
            where.append("orchestration = %s")
            params.append(orchestration)
        if statuses is not None:
            where.append("status = ANY(%s)")
            params.append([JobStatus(s).value for s in statuses])
        if before_id is not None:
            where.append("id < %s")
            params.append(before_id)
        sql = f"SELECT {_JOB_COLS} FROM jobs"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY id DESC LIMIT %s"
        return [_job(r) for r in self._rows(sql, (*params, limit))]

    def waiting_jobs(self) -> list[Job]:
        return [_job(r) for r in self._rows(f"SELECT {_JOB_COLS} FROM jobs WHERE status = 'waiting' ORDER BY id")]

    def active_jobs(self) -> list[Job]:
        return [_job(r) for r in self._rows(f"SELECT {_JOB_COLS} FROM jobs WHERE status IN ('waiting', "
                                            "'processing') ORDER BY id")]

    def jobs_updated_since(self, ts: float) -> list[Job]:
        """Jobs changed after ``ts``, this machine's epoch seconds. Changes are stamped by the server's clock
        (workers on several machines), so ``ts`` is first moved to it by this machine's measured offset: a
        machine whose clock is ahead of another's still sees that one's changes."""
        with self._cursor() as cur:
            since = ts + self._clock_offset(cur)
            cur.execute(f"SELECT {_JOB_COLS} FROM jobs WHERE updated_at > %s ORDER BY id", (since,))
            return [_job(r) for r in cur.fetchall()]

    def _clock_offset(self, cur: psycopg.Cursor) -> float:
        """The server's clock minus this machine's (seconds), measured again every ``OFFSET_TTL`` seconds and
        on every new connection (to within half a round trip)."""
        if self._offset_conn is not cur.connection or time.monotonic() - self._offset_at > OFFSET_TTL:
            before = time.time()
            cur.execute(f"SELECT {_DB_NOW}")
            server = cur.fetchone()[0]
            after = time.time()
            self._offset, self._offset_at, self._offset_conn = server - (before + after) / 2, time.monotonic(), \
                cur.connection
        return self._offset

    def last_jobs(self, orchestrations: Iterable[str] | None = None) -> dict[str, Job]:
        """The latest job of each orchestration (or of the given ones), in one query."""
        if orchestrations is None:
            # each orchestration name found by one index probe from the last (a "loose index scan"): ~4 ms for
            # 100,000 jobs of 100 orchestrations, where DISTINCT ON reads them all (~100 ms)
            rows = self._rows(f"WITH RECURSIVE o AS (SELECT min(orchestration) AS name FROM jobs UNION ALL "
                              "SELECT (SELECT min(orchestration) FROM jobs WHERE orchestration > o.name) FROM o "
                              f"WHERE o.name IS NOT NULL) SELECT j.* FROM o CROSS JOIN LATERAL (SELECT {_JOB_COLS} "
                              "FROM jobs WHERE orchestration = o.name ORDER BY id DESC LIMIT 1) j")
        else:
            wanted = list(dict.fromkeys(orchestrations))
            if not wanted:
                return {}
            rows = self._rows(f"SELECT j.* FROM unnest(%s::text[]) AS o(name) CROSS JOIN LATERAL (SELECT "
                              f"{_JOB_COLS} FROM jobs WHERE orchestration = o.name ORDER BY id DESC LIMIT 1) j",
                              (wanted,))
        return {j.orchestration: j for j in map(_job, rows)}

    def request_cancel(self, job_id: int) -> None:
        self.update_job(job_id, cancel_requested=1)

    def cancel_requested(self, job_ids: Sequence[int]) -> set[int]:
        if not job_ids:
            return set()
        return {r[0] for r in self._rows("SELECT id FROM jobs WHERE cancel_requested = 1 AND id = ANY(%s)",
                                         (list(job_ids),))}

    def average_duration(self, orchestration: str, n: int = 20) -> float | None:
        rows = self._rows("SELECT avg(finished_at - started_at), count(*) FROM (SELECT started_at, finished_at "
                          "FROM jobs WHERE orchestration = %s AND status = 'success' AND started_at IS NOT NULL "
                          "ORDER BY id DESC LIMIT %s) AS recent", (orchestration, n))
        return rows[0][0] if rows and rows[0][1] else None

    def apply_retention(self, orchestration: str, keep: int) -> int:
        with self._tx() as cur:
            cur.execute("DELETE FROM jobs WHERE orchestration = %s AND status NOT IN ('waiting', 'processing') "
                        "AND id < (SELECT min(id) FROM (SELECT id FROM jobs WHERE orchestration = %s "
                        "ORDER BY id DESC LIMIT %s) AS kept)", (orchestration, orchestration, keep))
            gone = cur.rowcount
            if gone:
                cur.execute("DELETE FROM notifications n WHERE status != 'pending' "
                            "AND NOT EXISTS (SELECT 1 FROM jobs j WHERE j.id = n.job_id)")
        return gone

    def claim_job(self, job_id: int, pid: int, worker: str | None = None) -> bool:
        """Mark a waiting job processing, in one transaction serialised per orchestration (an advisory lock):
        False if it is no longer waiting, another job of its orchestration is processing, or another process is
        claiming one of its orchestration this very moment (the caller looks again at its next poll)."""
        with self._tx() as cur:
            # try, not wait: a claimer stuck mid-transaction must not stall every worker's loop (the engine
            # claims on its event loop); a claim refused here is tried again at the next look at the queue
            cur.execute("SELECT pg_try_advisory_xact_lock(%s, hashtext(orchestration)) FROM jobs "
                        "WHERE id = %s AND status = 'waiting'", (_LOCK_ORCHESTRATION, job_id))
            row = cur.fetchone()
            if row is None or not row[0]:
                return False
            # a statement of its own: under READ COMMITTED it sees what the lock's previous holder committed
            cur.execute(f"UPDATE jobs SET status = 'processing', pid = %s, worker = %s, updated_at = {_DB_NOW} "
                        "WHERE id = %s AND status = 'waiting' AND NOT EXISTS (SELECT 1 FROM jobs other "
                        "WHERE other.orchestration = jobs.orchestration AND other.status = 'processing')",
                        (pid, _text(worker), job_id))
            return cur.rowcount == 1

    def cancel_waiting(self, job_id: int, message: str) -> bool:
        ts = now_ts()
        with self._cursor() as cur:
            cur.execute("UPDATE jobs SET status = 'cancelled', finished_at = %s, message = %s, "
                        f"updated_at = {_DB_NOW} WHERE id = %s AND status = 'waiting'", (ts, _text(message), job_id))
            return cur.rowcount == 1

    # -- task runs ---------------------------------------------------------------------------------
    def create_task_runs(self, runs: list[TaskRun]) -> None:
        if not runs:
            return
        with self._tx() as cur:
            cur.executemany("INSERT INTO task_runs (job_id, idx, phase, component, config, status, message) "
                            "VALUES (%s, %s, %s, %s, %s, %s, %s)",
                            [(r.job_id, r.index, r.phase, r.component, r.config, r.status.value, _text(r.message))
                             for r in runs])

    def update_task(self, run: TaskRun) -> None:
        """The task run's fields and its job's ``updated_at`` (what watchers poll), in one statement, committed
        without waiting for the server's disk (``_NO_FLUSH``)."""
        with self._cursor() as cur:
            cur.execute(
                "WITH t AS (UPDATE task_runs SET status = %s, started_at = %s, finished_at = %s, rows = %s, "
                "message = %s, attempt = %s WHERE job_id = %s AND idx = %s) "
                f"UPDATE jobs SET updated_at = {_DB_NOW} FROM {_NO_FLUSH} WHERE id = %s",
                (run.status.value, to_ts(run.started_at), to_ts(run.finished_at), run.rows, _text(run.message),
                 run.attempt, run.job_id, run.index, run.job_id))

    def task_runs(self, job_id: int) -> list[TaskRun]:
        return [_task(r) for r in self._rows(f"SELECT {_TASK_COLS} FROM task_runs WHERE job_id = %s ORDER BY idx",
                                             (job_id,))]

    # -- log ---------------------------------------------------------------------------------------
    def add_log(self, lines: Iterable[LogLine]) -> None:
        """Append log lines in one transaction (COPY: the engine writes them in batches), under the log's
        advisory lock: ids are taken and made visible in order."""
        rows = [(ln.job_id, ln.time.timestamp(), ln.level, _text(ln.task), _text(ln.text)) for ln in lines]
        if not rows:
            return
        with self._tx() as cur:
            cur.execute("SELECT pg_advisory_xact_lock(%s, %s), set_config('synchronous_commit', 'off', true)",
                        (_LOCK_GLOBAL, _KEY_LOG))  # no disk wait while holding the log's lock (``_NO_FLUSH``)
            with cur.copy("COPY log_lines (job_id, time, level, task, text) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)

    def log(self, job_id: int, after_id: int = 0, limit: int | None = None) -> list[LogLine]:
        sql = f"SELECT {_LOG_COLS} FROM log_lines WHERE job_id = %s AND id > %s ORDER BY id"
        params: tuple = (job_id, after_id)
        if limit is not None:
            sql += " LIMIT %s"
            params += (limit,)
        return [_log_line(r) for r in self._rows(sql, params)]

    def log_tail(self, job_id: int, task: str | None = None, n: int = 20) -> list[LogLine]:
        """The last ``n`` lines of a job (of one task, ``component/config``; all its lines if it has none)."""
        sql = f"SELECT {_LOG_COLS} FROM log_lines WHERE job_id = %s"
        with self._cursor() as cur:
            rows: list = []
            if task:
                cur.execute(sql + " AND task = %s ORDER BY id DESC LIMIT %s", (job_id, task, n))
                rows = cur.fetchall()
            if not rows:
                cur.execute(sql + " ORDER BY id DESC LIMIT %s", (job_id, n))
                rows = cur.fetchall()
        return [_log_line(r) for r in reversed(rows)]

    def log_since(self, after_id: int, limit: int = 10000, *, upto: int | None = None,
                  exclude_jobs: Iterable[int] = ()) -> list[LogLine]:
        exclude = sorted(set(exclude_jobs))
        sql = f"SELECT {_LOG_COLS} FROM log_lines WHERE id > %s"
        args: list = [after_id]
        if upto is not None:
            sql += " AND id <= %s"
            args.append(upto)
        if exclude:
            sql += " AND NOT (job_id = ANY(%s))"
            args.append(exclude)
        return [_log_line(r) for r in self._rows(sql + " ORDER BY id LIMIT %s", (*args, limit))]

    def max_log_id(self) -> int:
        return self._rows("SELECT coalesce(max(id), 0) FROM log_lines")[0][0]

    def log_step(self, job_id: int, from_id: int, n: int) -> int | None:
        rows = self._rows("SELECT id FROM log_lines WHERE job_id = %s AND id >= %s ORDER BY id LIMIT 1 OFFSET %s",
                          (job_id, from_id, n))
        return rows[0][0] if rows else None

    def log_count(self, job_id: int, from_id: int, before_id: int | None = None) -> int:
        if before_id is None:
            return self._rows("SELECT count(*) FROM log_lines WHERE job_id = %s AND id >= %s",
                              (job_id, from_id))[0][0]
        return self._rows("SELECT count(*) FROM log_lines WHERE job_id = %s AND id >= %s AND id < %s",
                          (job_id, from_id, before_id))[0][0]

    def log_window(self, job_id: int, from_id: int, skip: int, limit: int) -> list[LogLine]:
        rows = self._rows(f"SELECT {_LOG_COLS} FROM log_lines WHERE job_id = %s AND id >= %s ORDER BY id "
                          "LIMIT %s OFFSET %s", (job_id, from_id, limit, skip))
        return [_log_line(r) for r in rows]

    def search_log(self, job_id: int, needle: str, batch: int = 5000) -> array:
        """Ids of the job's lines whose text or level contains ``needle`` literally (ASCII letters in any case,
        as SQLite's LIKE), in order. One scan on a connection of its own: safe from a worker thread."""
        low = _text(needle).translate(_ASCII_LOWER)
        pattern = "%" + low.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        ids = array("q")
        conn = self._connect(autocommit=False)
        try:
            with conn.cursor(name="kbc_search_log") as cur:
                cur.itersize = max(1, batch)
                cur.execute('SELECT id FROM log_lines WHERE job_id = %s AND (lower(text COLLATE "C") LIKE %s '
                            'OR lower(level COLLATE "C") LIKE %s) ORDER BY id', (job_id, pattern, pattern))
                while rows := cur.fetchmany(max(1, batch)):
                    ids.extend(r[0] for r in rows)
            conn.rollback()
        except psycopg.Error as exc:
            raise StateError(f"cannot read the log of job {job_id} from the job state at {self._url.where}: "
                             f"{self._scrub(str(exc))}", "unreachable" if conn.broken else "other") from None
        finally:
            conn.close()
        return ids

    # -- notification outbox -----------------------------------------------------------------------
    def add_notification(self, note: Notification) -> int | None:
        rows = self._rows(
            "INSERT INTO notifications (job_id, event, recipients, subject, body_text, body_html, status, attempts, "
            "next_try, last_error, created_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) "
            "ON CONFLICT (job_id, event) DO NOTHING RETURNING id",
            (note.job_id, note.event, json.dumps(note.recipients), _text(note.subject), _text(note.body_text),
             _text(note.body_html), note.status, note.attempts, note.next_try, _text(note.last_error), now_ts()))
        return rows[0][0] if rows else None

    def notifications(self, *, job_id: int | None = None, due_before: float | None = None) -> list[Notification]:
        sql = f"SELECT {_NOTE_COLS} FROM notifications"
        if job_id is not None:
            rows = self._rows(sql + " WHERE job_id = %s ORDER BY id", (job_id,))
        elif due_before is not None:
            rows = self._rows(sql + " WHERE status = 'pending' AND next_try <= %s ORDER BY id", (due_before,))
        else:
            rows = self._rows(sql + " WHERE status = 'pending' ORDER BY id")
        return [_note(r) for r in rows]

    def next_notification_due(self, exclude: Iterable[int] = (), only: Iterable[int] | None = None) -> float | None:
        ids = [i for i in exclude if i is not None]
        sql, params = "SELECT min(next_try) FROM notifications WHERE status = 'pending'", []
        if ids:
            sql += " AND NOT (id = ANY(%s))"
            params.append(ids)
        if only is not None:
            wanted = [i for i in only if i is not None]
            if not wanted:
                return None
            sql += " AND id = ANY(%s)"
            params.append(wanted)
        rows = self._rows(sql, tuple(params))
        return rows[0][0] if rows else None

    def update_notification(self, note: Notification) -> None:
        with self._cursor() as cur:
            cur.execute("UPDATE notifications SET status = %s, attempts = %s, next_try = %s, last_error = %s "
                        "WHERE id = %s", (note.status, note.attempts, note.next_try, _text(note.last_error),
                                          note.id))

    # -- component state ---------------------------------------------------------------------------
    def component_state(self, component: str, config: str) -> dict:
        rows = self._rows("SELECT state FROM component_state WHERE component = %s AND config = %s",
                          (component, config))
        return json.loads(rows[0][0]) if rows else {}

    def save_component_state(self, component: str, config: str, state: dict) -> None:
        with self._cursor() as cur:
            cur.execute("INSERT INTO component_state (component, config, state, updated_at) VALUES (%s, %s, %s, %s) "
                        "ON CONFLICT (component, config) DO UPDATE SET state = excluded.state, "
                        "updated_at = excluded.updated_at",
                        (component, config, _text(json.dumps(state, default=str)), now_ts()))

    # -- the scheduler -----------------------------------------------------------------------------
    def checked_until(self) -> dict[str, datetime]:
        return {r[0]: to_dt(r[1]) for r in self._rows("SELECT orchestration, checked_until FROM schedule_state")}

    def advance_checked_until(self, key: str, moment: datetime) -> None:
        with self._cursor() as cur:
            cur.execute("INSERT INTO schedule_state (orchestration, checked_until) VALUES (%s, %s) ON CONFLICT "
                        "(orchestration) DO UPDATE SET checked_until = greatest(schedule_state.checked_until, "
                        "excluded.checked_until)", (key, moment.timestamp()))

    def start_checked_until(self, key: str, moment: datetime) -> None:
        with self._cursor() as cur:
            cur.execute("INSERT INTO schedule_state (orchestration, checked_until) VALUES (%s, %s) "
                        "ON CONFLICT (orchestration) DO NOTHING", (key, moment.timestamp()))

    def fire_recorded(self, orchestration: str, moment: datetime) -> bool:
        return bool(self._rows("SELECT 1 FROM schedule_fires WHERE orchestration = %s AND fire_at = %s",
                               (orchestration, moment.timestamp())))

    def record_fire(self, orchestration: str, moment: datetime, recorded_at: datetime,
                    spec_hash: str | None = None) -> FireRecord:
        """Record a fire exactly once across processes and act on it, in one transaction serialised per
        orchestration: while it has a waiting or processing job the fire is recorded ``skipped`` (with that job),
        else a scheduled job is created and the fire recorded ``enqueued`` as it. A failure anywhere leaves
        neither: the next look at the schedule fires it again."""
        ts = moment.timestamp()
        job = None
        with self._tx() as cur:
            cur.execute("SET LOCAL lock_timeout = '10s'")  # a holder stuck mid-transaction: fail in words
            cur.execute("SELECT pg_advisory_xact_lock(%s, hashtext(%s))", (_LOCK_ORCHESTRATION, orchestration))
            cur.execute("INSERT INTO schedule_fires (orchestration, fire_at, outcome, recorded_at) "
                        "VALUES (%s, %s, 'pending', %s) ON CONFLICT DO NOTHING",
                        (orchestration, ts, recorded_at.timestamp()))
            inserted = cur.rowcount == 1
            cur.execute("SELECT id FROM jobs WHERE orchestration = %s AND status IN ('waiting', 'processing') "
                        "ORDER BY id LIMIT 1", (orchestration,))
            busy = cur.fetchone()
            if inserted and busy:
                cur.execute("UPDATE schedule_fires SET outcome = 'skipped', job_id = %s WHERE orchestration = %s "
                            "AND fire_at = %s", (busy[0], orchestration, ts))
            elif inserted:
                created = now_ts()
                cur.execute("WITH j AS (INSERT INTO jobs (orchestration, status, trigger, triggered_by, created_at, "
                            f"updated_at, spec_hash) VALUES (%s, %s, %s, 'scheduler', %s, {_DB_NOW}, %s) RETURNING id) "
                            "UPDATE schedule_fires SET outcome = 'enqueued', job_id = (SELECT id FROM j) "
                            "WHERE orchestration = %s AND fire_at = %s RETURNING job_id",
                            (orchestration, JobStatus.WAITING.value, Trigger.SCHEDULE.value, created, spec_hash,
                             orchestration, ts))
                job = Job(cur.fetchone()[0], orchestration, JobStatus.WAITING, Trigger.SCHEDULE, "scheduler",
                          to_dt(created), spec_hash=spec_hash)
        return FireRecord(inserted, busy[0] if busy else None, job)

    def fires(self, orchestration: str) -> list[tuple[datetime, str, int | None]]:
        rows = self._rows("SELECT fire_at, outcome, job_id FROM schedule_fires WHERE orchestration = %s "
                          "ORDER BY fire_at", (orchestration,))
        return [(to_dt(r[0]), r[1], r[2]) for r in rows]

    # -- workers -----------------------------------------------------------------------------------
    def register_worker(self, name: str, host: str, pid: int, timeout: float) -> None:
        """Announce a worker (stamped by the server's clock); ``StateError`` (kind ``"worker"``) when another
        live worker — one that beat within ``timeout`` seconds — has the name. The same process (host and pid)
        registering again is welcome."""
        with self._cursor() as cur:
            cur.execute(f"INSERT INTO workers (name, host, pid, started_at, beat_at) VALUES (%s, %s, %s, {_DB_NOW}, "
                        f"{_DB_NOW}) ON CONFLICT (name) DO UPDATE SET host = excluded.host, pid = excluded.pid, "
                        "started_at = excluded.started_at, beat_at = excluded.beat_at "
                        "WHERE workers.beat_at < excluded.beat_at - %s "
                        "OR (workers.host = excluded.host AND workers.pid = excluded.pid) RETURNING 1",
                        (_text(name), _text(host), pid, float(timeout)))
            if cur.fetchone() is not None:
                self._registered[name] = (_text(host), pid)
                return
            cur.execute(f"SELECT host, pid, {_DB_NOW} - beat_at FROM workers WHERE name = %s", (name,))
            row = cur.fetchone()
        if row is None:  # it stopped between the two statements: the name is free now
            return self.register_worker(name, host, pid, timeout)
        raise StateError(f"another worker named {name!r} is running (on {row[0]}, pid {row[1]}; last heartbeat "
                         f"{max(0.0, row[2]):.0f} s ago) — give this worker another name, or stop that one;"
                         f" a worker is presumed dead {timeout:g} s after its last heartbeat", "worker")

    def heartbeat(self, name: str) -> None:
        """Stamp the worker alive by the server's clock. A worker registered through this state whose row went
        (deleted by hand, a restored database) gets it back: without it its jobs would look stale; a row that
        another process took over (this one was presumed dead) is left to it."""
        me = self._registered.get(name)
        with self._cursor() as cur:
            if me is None:
                cur.execute(f"UPDATE workers SET beat_at = {_DB_NOW} WHERE name = %s", (name,))
            else:
                cur.execute(f"INSERT INTO workers (name, host, pid, started_at, beat_at) VALUES (%s, %s, %s, "
                            f"{_DB_NOW}, {_DB_NOW}) ON CONFLICT (name) DO UPDATE SET beat_at = excluded.beat_at "
                            "WHERE workers.host = excluded.host AND workers.pid = excluded.pid",
                            (_text(name), *me))

    def unregister_worker(self, name: str) -> None:
        """The worker's row goes — only its own: one presumed dead that stops later leaves its successor's."""
        me = self._registered.pop(name, None)
        with self._cursor() as cur:
            if me is None:
                cur.execute("DELETE FROM workers WHERE name = %s", (name,))
            else:
                cur.execute("DELETE FROM workers WHERE name = %s AND host = %s AND pid = %s", (name, *me))

    def workers(self) -> list[WorkerInfo]:
        rows = self._rows("SELECT name, host, pid, started_at, beat_at FROM workers ORDER BY name")
        return [WorkerInfo(r[0], r[1], r[2], to_dt(r[3]), to_dt(r[4])) for r in rows]

    def stale_jobs(self, timeout: float) -> list[Job]:
        cols = ", ".join(f"j.{c.strip()}" for c in _JOB_COLS.split(","))
        rows = self._rows(f"SELECT {cols} FROM jobs j LEFT JOIN workers w ON w.name = j.worker "
                          f"WHERE j.status = 'processing' AND (w.name IS NULL OR w.beat_at < {_DB_NOW} - %s) "
                          "ORDER BY j.id", (float(timeout),))
        return [_job(r) for r in rows]

    def terminate_job(self, job_id: int, message: str, finished_at: datetime) -> Job | None:
        """End a job whose process died, in one transaction, only if it is still ``processing``."""
        ts, message = finished_at.timestamp(), _text(message)
        with self._tx() as cur:
            cur.execute(f"UPDATE jobs SET status = 'terminated', finished_at = %s, message = %s, "
                        f"updated_at = {_DB_NOW} WHERE id = %s AND status = 'processing' RETURNING {_JOB_COLS}",
                        (ts, message, job_id))
            row = cur.fetchone()
            if row is None:
                return None
            cur.execute("UPDATE task_runs SET status = CASE status WHEN 'processing' THEN 'terminated' ELSE 'skipped' "
                        "END, finished_at = %s, message = CASE status WHEN 'processing' THEN %s ELSE %s END "
                        "WHERE job_id = %s AND status IN ('processing', 'waiting')",
                        (ts, TERMINATED_TASK, SKIPPED_TASK, job_id))
            cur.execute("SELECT pg_advisory_xact_lock(%s, %s)", (_LOCK_GLOBAL, _KEY_LOG))
            cur.execute("INSERT INTO log_lines (job_id, time, level, task, text) VALUES (%s, %s, 'error', NULL, %s)",
                        (job_id, ts, f"Job {job_id} {message}"))
            cur.execute(f"SELECT {_TASK_COLS} FROM task_runs WHERE job_id = %s ORDER BY idx", (job_id,))
            tasks = [_task(r) for r in cur.fetchall()]
        job = _job(row)
        job.tasks = tasks
        return job

    # -- moving a project's history here (``kbc-tui state copy``) ----------------------------------------
    def is_empty(self) -> bool:
        """Whether the state holds nothing yet (no job, log line, fire, check, outbox e-mail, component state)."""
        with self._cursor() as cur:
            return self._empty(cur)

    @staticmethod
    def _empty(cur: psycopg.Cursor) -> bool:
        cur.execute("SELECT NOT (EXISTS (SELECT 1 FROM jobs) OR EXISTS (SELECT 1 FROM log_lines) OR EXISTS "
                    "(SELECT 1 FROM schedule_fires) OR EXISTS (SELECT 1 FROM schedule_state) OR EXISTS (SELECT 1 "
                    "FROM component_state) OR EXISTS (SELECT 1 FROM notifications))")
        return cur.fetchone()[0]

    def copy_in(self, tables: Iterable[tuple[str, Sequence[str], Iterable[Sequence[Any]]]]) -> dict[str, int]:
        """Load rows into an empty state in one transaction, keeping their ids (``tables``: name, columns, rows,
        parents before children); the id sequences then continue after them. Returns rows per table.
        ``StateError`` (kind ``"notempty"``) if the state holds anything already: nothing is changed then."""
        counts: dict[str, int] = {}
        with self._tx() as cur:
            cur.execute("SELECT pg_advisory_xact_lock(%s, %s)", (_LOCK_GLOBAL, _KEY_MIGRATE))
            cur.execute("SELECT pg_advisory_xact_lock(%s, %s)", (_LOCK_GLOBAL, _KEY_LOG))
            if not self._empty(cur):
                cur.execute("SELECT count(*) FROM jobs")
                raise StateError(f"the job state at {self._url.where} is not empty (it holds {cur.fetchone()[0]} "
                                 "jobs and more): copy only into a new, empty state — nothing was copied",
                                 "notempty")
            for table, columns, rows in tables:
                if table not in TABLES or not set(columns) <= _COLUMNS[table]:
                    raise ValueError(f"copy_in: unknown table or columns: {table} {columns}")
                n = 0
                with cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row([_text(v) if isinstance(v, str) else v for v in row])
                        n += 1
                counts[table] = n
            for table in ("jobs", "log_lines", "notifications"):
                cur.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), coalesce(max(id), 0) + 1, "
                            f"false) FROM {table}")
        return counts


#: the reasons ``terminate_job`` gives the task runs it ends (as ``recovery.reap_orphans`` words them)
TERMINATED_TASK = "the process running the job died"
SKIPPED_TASK = "not run: the process running the job died"

_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


