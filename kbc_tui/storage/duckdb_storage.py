"""The default table store: one DuckDB file (``.kbc/storage.duckdb``).

Buckets are schemas (``"in.c-shop"``), tables are tables. Every write runs in one DuckDB
transaction that streams an Arrow reader: a failure or a cancel rolls it back and the previous
table stays exactly as it was. Connections are short-lived (DuckDB lets one process hold the
file; DESIGN.md); the runner ``retain``s the database while it has jobs running, so a task connects
in microseconds instead of opening the file, and releases it when they end. Another process that
needs the storage meanwhile (a reader) leaves a note; the runner then closes the file between two
tasks and waits a moment (``make_way``), so the reader gets in.
"""

from __future__ import annotations

import json
import os
import threading
import time
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator, Sequence

from kbc_tui.model.cancel import Cancelled
from kbc_tui.errors import KbcError, StorageBusyError
from kbc_tui.storage.base import Column, TableId, TableInfo, _tid, qualified, quote  # noqa: F401 (re-exported)
from kbc_tui.store.private import private_dir, tighten

if TYPE_CHECKING:
    import pyarrow as pa

    from kbc_tui.model.cancel import CancelToken

META_SCHEMA = "_kbc"
STAGE_PREFIX = "__kbc_stage_"
#: schemas a task may create for its own scratch work (the SQL transformation's workspace), dropped when it ends
#: and, if its process was killed, by the next runner
SCRATCH_SCHEMA_PREFIX = "_kbc_tx_"
READER_WAIT_SECONDS = 5.0  # a reader's note that it waits for the storage counts this long
COMPACT_FREE_FRACTION = 0.2
COMPACT_MIN_BYTES = 8 * 2**20
BUSY_RETRY_SECONDS = 3.0


class DuckDBStorage:
    kind = "duckdb"

    def __init__(self, path: Path, busy_retry_seconds: float = BUSY_RETRY_SECONDS, memory_limit: str = "256MB",
                 confine_to: Sequence[Path] = ()):
        self.path = Path(path)
        self.memory_limit = memory_limit
        #: folders DuckDB may read and write files in (SQL scripts included); none given: no confinement.
        #: The storage file's own folder is always one of them (DuckDB spills and compacts there).
        self.confine_to: tuple[Path, ...] = ()
        if confine_to:
            folders = {Path(os.path.abspath(p)) for p in (*confine_to, self.path.parent)}
            folders |= {f.resolve() for f in folders}
            self.confine_to = tuple(sorted(folders))
        self.busy_retry_seconds = busy_retry_seconds
        self._held: Any = None
        #: how many times the database was opened (or joined) afresh: with ``retain`` held, only the first use
        self.opens = 0
        self._hold_count = 0
        self._read_wanted_name = str(self._read_wanted)
        self._hold_lock = threading.Lock()
        self._commit_lock = threading.Lock()

    # -- connections ----------------------------------------------------------------------
    def _connect(self):
        """Open the database file (or join it if this process has it open already), confined."""
        import duckdb

        self.opens += 1
        con = duckdb.connect(str(self.path), config={"memory_limit": self.memory_limit})
        if self.confine_to:
            self._confine(con)
        tighten(self.path)  # DuckDB creates it with the umask's mode (it cannot open an empty file)
        tighten(self.path.with_name(self.path.name + ".wal"))  # one left by a crash
        return con

    def _connect_held(self):
        """A connection to the retained database, open in this process (``_held``; call with ``_hold_lock``
        held, so it stays open meanwhile): DuckDB hands out the same database, no file work, and it is confined
        already (``_held`` was, and the settings belong to the database, not a connection), so it costs ~40 µs
        instead of ~0.7 ms. Not ``_held.cursor()``: closing ``_held`` (``make_way``) would close it too."""
        import duckdb

        return duckdb.connect(str(self.path), config={"memory_limit": self.memory_limit})

    def _confine(self, con: Any) -> None:
        """Files outside ``confine_to`` are out of DuckDB's reach for the life of the open database (a SQL
        script's ``read_csv('/etc/passwd')`` or ``COPY … TO '~/.bashrc'`` is refused; so are ATTACH and
        extension installs elsewhere). The setting cannot be turned back on while the database is open."""
        if con.execute("SELECT current_setting('enable_external_access')").fetchall()[0][0]:
            folders = ", ".join(f"'{_sql_literal(os.path.join(str(f), ''))}'" for f in self.confine_to)
            con.execute(f"SET allowed_directories = [{folders}]")
            con.execute("SET enable_external_access = false")

    def may_read(self, path: Path) -> bool:
        """Whether DuckDB may open ``path`` itself (else hand it the bytes through a pipe in the state folder)."""
        if not self.confine_to:
            return True
        full = Path(os.path.abspath(path))
        return any(full == f or f in full.parents for f in self.confine_to)

    def _open(self):
        import duckdb

        with self._hold_lock:  # retained and open: a new connection to it (no file work, confined already)
            if self._held is not None:
                return self._connect_held()
        private_dir(self.path.parent, tighten_existing=False)  # a folder it makes is private; the user's, theirs
        deadline = time.monotonic() + self.busy_retry_seconds
        while True:
            try:
                with self._hold_lock:
                    if self._hold_count:  # retained: keep the database open between uses
                        if self._held is None:
                            self._held = self._connect()
                        return self._connect_held()
                return self._connect()
            except duckdb.IOException as exc:
                if "lock" not in str(exc).lower():
                    raise KbcError(f"cannot open storage {self.path}: {exc}") from None
                if time.monotonic() >= deadline:
                    raise StorageBusyError(
                        f"storage is busy: another kbc-tui process is running jobs on {self.path}") from None
                self._ask_for_way()
                time.sleep(0.1)

    @contextmanager
    def connect(self) -> Iterator[Any]:
        """A DuckDB connection for one piece of work (one per thread; closed afterwards)."""
        con = self._open()
        try:
            yield con
        finally:
            con.close()

    # -- keeping the database open while jobs run, and making way for a reader ---------------------------
    def retain(self) -> None:
        """Keep the database open from its next use until ``release``: a task then connects in microseconds
        instead of opening the file (~20 ms). The runner retains it while it has jobs running."""
        with self._hold_lock:
            self._hold_count += 1

    def release(self) -> None:
        """Undo one ``retain``; the last one closes the database (DuckDB may checkpoint: call from a thread)."""
        with self._hold_lock:
            self._hold_count = max(0, self._hold_count - 1)
            held, self._held = (self._held, None) if self._hold_count == 0 else (None, self._held)
        if held is not None:
            held.close()

    @property
    def _read_wanted(self) -> Path:
        return self.path.with_name(self.path.name + ".read-wanted")

    def _ask_for_way(self) -> None:
        """Another process holds the database: leave a note that a reader waits (see ``reader_waiting``)."""
        try:
            os.close(os.open(self._read_wanted, os.O_WRONLY | os.O_CREAT, 0o600))
            os.utime(self._read_wanted)
        except OSError:
            pass

    def reader_waiting(self) -> bool:
        """True while another process has been waiting to open the storage (a note younger than a few seconds)."""
        try:  # asked before every task: one stat of a name made once
            return time.time() - os.stat(self._read_wanted_name).st_mtime < READER_WAIT_SECONDS
        except OSError:
            return False

    def make_way(self) -> None:
        """Close the retained database so a waiting reader can open it; it is opened again on the next use."""
        with self._hold_lock:
            held, self._held = self._held, None
        if held is not None:
            held.close()
        try:
            self._read_wanted.unlink()
        except OSError:
            pass

    # -- metadata ---------------------------------------------------------------------------
    def _ensure_meta(self, con: Any) -> None:
        con.execute(f"CREATE SCHEMA IF NOT EXISTS {META_SCHEMA}")
        con.execute(f"CREATE TABLE IF NOT EXISTS {META_SCHEMA}.tables "
                    "(table_id VARCHAR PRIMARY KEY, primary_key VARCHAR, updated_at DOUBLE)")

    def _primary_keys(self, con: Any) -> dict[str, list[str]]:
        exists = con.execute("SELECT count(*) FROM duckdb_tables() WHERE schema_name = ? AND table_name = 'tables'",
                             [META_SCHEMA]).fetchall()[0][0]
        if not exists:
            return {}
        return {r[0]: json.loads(r[1]) for r in con.execute(f"SELECT table_id, primary_key FROM {META_SCHEMA}.tables")
                .fetchall()}

    # -- reading ----------------------------------------------------------------------------
    def list_tables(self) -> list[TableInfo]:
        if not self.path.exists():
            return []
        with self.connect() as con:
            keys = self._primary_keys(con)
            rows = con.execute(
                "SELECT schema_name, table_name FROM duckdb_tables() "
                "WHERE (schema_name LIKE 'in.c-%' OR schema_name LIKE 'out.c-%') AND NOT starts_with(table_name, ?) "
                "ORDER BY schema_name, table_name", [STAGE_PREFIX]
            ).fetchall()
            infos = []
            for schema, name in rows:
                stage, bucket = schema.split(".c-", 1)
                tid = TableId(stage, bucket, name)
                infos.append(self._info(con, tid, keys))
            return infos

    def _info(self, con: Any, tid: TableId, keys: dict[str, list[str]]) -> TableInfo:
        cols = con.execute("SELECT column_name, data_type FROM duckdb_columns() WHERE schema_name = ? AND "
                           "table_name = ? ORDER BY column_index", [tid.bucket_id, tid.name]).fetchall()
        count = con.execute(f"SELECT count(*) FROM {qualified(tid)}").fetchall()[0][0]
        return TableInfo(tid, [Column(c, t) for c, t in cols], count, keys.get(str(tid), []))

    def table(self, table_id: str | TableId) -> TableInfo | None:
        tid = _tid(table_id)
        if not self.path.exists():
            return None
        with self.connect() as con:
            if not self._exists(con, tid):
                return None
            return self._info(con, tid, self._primary_keys(con))

    @staticmethod
    def _exists(con: Any, tid: TableId) -> bool:
        return bool(con.execute("SELECT count(*) FROM duckdb_tables() WHERE schema_name = ? AND table_name = ?",
                                [tid.bucket_id, tid.name]).fetchall()[0][0])

    def preview(self, table_id: str | TableId, limit: int = 100) -> tuple[list[str], list[tuple]]:
        tid = _tid(table_id)
        with self.connect() as con:
            if not self._exists(con, tid):
                raise KbcError(f"table {tid} does not exist in storage")
            cur = con.execute(f"SELECT * FROM {qualified(tid)} LIMIT {int(limit)}")
            return [d[0] for d in cur.description], cur.fetchall()

    def read_arrow(self, table_id: str | TableId, *, columns: Sequence[str] | None = None,
                   batch_size: int = 100_000) -> "pa.RecordBatchReader":
        import pyarrow as pa

        tid = _tid(table_id)
        con = self._open()
        try:
            if not self._exists(con, tid):
                raise KbcError(f"table {tid} does not exist in storage")
            cols = ", ".join(quote(c) for c in columns) if columns else "*"
            reader = con.sql(f"SELECT {cols} FROM {qualified(tid)}").to_arrow_reader(batch_size)
        except BaseException:
            con.close()
            raise

        def batches() -> Iterator[pa.RecordBatch]:
            try:
                yield from reader
            finally:
                con.close()  # at the last batch, or when the reader is closed early

        return pa.RecordBatchReader.from_batches(reader.schema, batches())

    # -- writing ------------------------------------------------------------------------------
    def write_arrow(self, table_id: str | TableId, data: Any, *, schema: "pa.Schema | None" = None,
                    incremental: bool = False, primary_key: Sequence[str] = (),
                    cancel: "CancelToken | None" = None) -> int:
        import pyarrow as pa

        tid = _tid(table_id)
        source = _as_reader(data, schema)
        counted = [0]

        def guarded() -> Iterator[pa.RecordBatch]:
            for batch in source:
                if cancel is not None:
                    cancel.check()
                counted[0] += batch.num_rows
                yield batch

        reader = pa.RecordBatchReader.from_batches(source.schema, guarded())
        primary_key = list(primary_key)
        missing = [k for k in primary_key if k not in source.schema.names]
        if missing:
            raise KbcError(f"primary key column(s) {', '.join(missing)} not in the data for {tid} "
                           f"(columns: {', '.join(source.schema.names)})")

        def fill(con: Any, stage: str) -> None:
            con.register("__kbc_source", reader)
            try:
                con.execute(f"CREATE TABLE {stage} AS SELECT * FROM __kbc_source")
            finally:
                con.unregister("__kbc_source")

        self._stage_and_swap(tid, fill, incremental=incremental, primary_key=primary_key, cancel=cancel)
        return counted[0]

    def write_select(self, table_id: str | TableId, select_sql: str, *, incremental: bool = False,
                     primary_key: Sequence[str] = (), cancel: "CancelToken | None" = None,
                     inspect: Any = None) -> int:
        """Like ``write_arrow``, but the rows come from a DuckDB ``SELECT`` run inside storage (e.g. over
        ``read_csv``): no second database, no Python in the data path. ``inspect(con, stage)`` may look at
        the staged rows before they are swapped in. Returns rows written."""
        tid = _tid(table_id)
        primary_key = list(primary_key)
        rows = [0]

        def fill(con: Any, stage: str) -> None:
            remove = cancel.on_cancel(con.interrupt) if cancel is not None else (lambda: None)
            try:
                con.execute(f"CREATE TABLE {stage} AS {select_sql}")
            finally:
                remove()
            columns = [r[0] for r in con.execute(f"DESCRIBE {stage}").fetchall()]
            missing = [k for k in primary_key if k not in columns]
            if missing:
                raise KbcError(f"primary key column(s) {', '.join(missing)} not in the data for {tid} "
                               f"(columns: {', '.join(columns)})")
            rows[0] = con.execute(f"SELECT count(*) FROM {stage}").fetchall()[0][0]
            if inspect is not None:
                inspect(con, stage)

        self._stage_and_swap(tid, fill, incremental=incremental, primary_key=primary_key, cancel=cancel)
        return rows[0]

    def _stage_and_swap(self, tid: TableId, fill: Any, *, incremental: bool, primary_key: list[str],
                        cancel: "CancelToken | None") -> None:
        """Fill a private staging table (long, concurrent), then swap it in (short, serialised, atomic)."""
        import duckdb

        target = qualified(tid)
        stage_name = f"{STAGE_PREFIX}{uuid.uuid4().hex[:12]}"
        stage = f"{quote(tid.bucket_id)}.{quote(stage_name)}"
        with self.connect() as con:
            try:
                self._ensure_schemas(con, tid)  # a bucket another connection is still creating: failed in words
                fill(con, stage)
            except BaseException as exc:
                self._drop_quietly(con, stage)
                _reraise(exc, tid, cancel)
            with self._commit_lock:
                try:
                    con.execute("BEGIN TRANSACTION")
                    if incremental and self._exists(con, tid):
                        if primary_key:
                            cond = " AND ".join(f"t.{quote(k)} IS NOT DISTINCT FROM s.{quote(k)}"
                                                for k in primary_key)
                            con.execute(f"DELETE FROM {target} t WHERE EXISTS (SELECT 1 FROM {stage} s WHERE {cond})")
                        con.execute(f"INSERT INTO {target} BY NAME SELECT * FROM {stage}")
                        con.execute(f"DROP TABLE {stage}")
                    else:
                        con.execute(f"DROP TABLE IF EXISTS {target}")
                        con.execute(f"ALTER TABLE {stage} RENAME TO {quote(tid.name)}")
                    con.execute(f"INSERT OR REPLACE INTO {META_SCHEMA}.tables VALUES (?, ?, ?)",
                                [str(tid), json.dumps(primary_key), time.time()])
                    if cancel is not None:
                        cancel.check()
                    con.execute("COMMIT")
                except BaseException as exc:
                    try:
                        con.execute("ROLLBACK")
                    except duckdb.Error:
                        pass
                    self._drop_quietly(con, stage)
                    _reraise(exc, tid, cancel)

    def _ensure_schemas(self, con: Any, tid: TableId) -> None:
        """Create the metadata and bucket schemas (autocommit; a concurrent creator is fine)."""
        import duckdb

        for _ in range(5):
            try:
                self._ensure_meta(con)
                con.execute(f"CREATE SCHEMA IF NOT EXISTS {quote(tid.bucket_id)}")
                return
            except duckdb.TransactionException:
                time.sleep(0.05)
        self._ensure_meta(con)
        con.execute(f"CREATE SCHEMA IF NOT EXISTS {quote(tid.bucket_id)}")

    @staticmethod
    def _drop_quietly(con: Any, table: str) -> None:
        import duckdb

        try:
            con.execute(f"DROP TABLE IF EXISTS {table}")
        except duckdb.Error:
            pass

    def file_size(self) -> int:
        """Bytes the storage takes on disk (its file and write-ahead log)."""
        total = 0
        for path in (self.path, self.path.with_name(self.path.name + ".wal")):
            try:
                total += path.stat().st_size
            except OSError:
                pass
        return total

    def drop_leftovers(self) -> int:
        """Drop what writes and transformations of killed processes left: staging tables and scratch schemas.

        Call only while holding the runner lock, before running anything: every one of them is then a dead
        process's (the storage is written only by the process that runs jobs). Returns how many were dropped."""
        if not self.path.exists():
            return 0
        with self.connect() as con:
            stale = con.execute("SELECT schema_name, table_name FROM duckdb_tables() WHERE starts_with(table_name, ?)",
                                [STAGE_PREFIX]).fetchall()
            for schema, name in stale:
                self._drop_quietly(con, f"{quote(schema)}.{quote(name)}")
            schemas = [r[0] for r in con.execute("SELECT DISTINCT schema_name FROM duckdb_schemas() WHERE "
                                                 "starts_with(schema_name, ?)", [SCRATCH_SCHEMA_PREFIX]).fetchall()]
            for schema in schemas:
                try:
                    con.execute(f"DROP SCHEMA IF EXISTS {quote(schema)} CASCADE")
                except duckdb_error():
                    pass
            if stale or schemas:
                con.execute("CHECKPOINT")
            return len(stale) + len(schemas)

    def compact_if_bloated(self) -> int:
        """Give free space back to the disk: when free blocks (left by dropped leftovers) are more than
        ``COMPACT_FREE_FRACTION`` of the file, rewrite it without them (a copy, then an atomic rename over
        the file). Call only while holding the runner lock with nothing running. Returns bytes freed."""
        import duckdb

        self._drop_dead_copies()
        if not self.path.exists():
            return 0
        size = self.file_size()
        with self.connect() as con:
            block, free = con.execute("SELECT block_size, free_blocks FROM pragma_database_size() "
                                      "WHERE database_name = current_database()").fetchall()[0]
        if free * block < max(COMPACT_MIN_BYTES, COMPACT_FREE_FRACTION * size):
            return 0
        copy = self.path.with_name(f".{self.path.name}.compact-{os.getpid()}")
        wal = self.path.with_name(self.path.name + ".wal")
        try:
            with self.connect() as con:
                name = con.execute("SELECT current_database()").fetchall()[0][0]
                con.execute(f"ATTACH '{_sql_literal(copy)}' AS __kbc_compact")
                con.execute(f"COPY FROM DATABASE {quote(name)} TO __kbc_compact")
                con.execute("DETACH __kbc_compact")
                con.execute("CHECKPOINT")
            if wal.exists() and wal.stat().st_size or copy.with_name(copy.name + ".wal").exists():
                raise OSError("a write-ahead log is pending")  # never swap under unapplied changes
            fd = os.open(copy, os.O_RDONLY)
            try:
                os.fsync(fd)  # the copy's bytes on disk before it replaces the storage
            finally:
                os.close(fd)
            tighten(copy)
            os.replace(copy, self.path)
            fsync_dir(self.path.parent)
        except (duckdb.Error, OSError):  # no room for the copy, or busy: the file stays as it is
            for leftover in (copy, copy.with_name(copy.name + ".wal")):
                leftover.unlink(missing_ok=True)
            return 0
        return max(0, size - self.file_size())

    def _drop_dead_copies(self) -> None:
        """Half-made compaction copies of processes that were killed meanwhile."""
        from kbc_tui.store.scratch import alive

        for copy in self.path.parent.glob(f".{self.path.name}.compact-*"):
            pid = copy.name.rsplit("-", 1)[-1].split(".")[0]
            if pid.isdigit() and not alive(int(pid)):
                copy.unlink(missing_ok=True)

    def drop_table(self, table_id: str | TableId) -> None:
        tid = _tid(table_id)
        with self.connect() as con:
            con.execute(f"DROP TABLE IF EXISTS {qualified(tid)}")


def _sql_literal(path: Path) -> str:
    return str(path).replace("'", "''")


def fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def duckdb_error() -> type:
    import duckdb

    return duckdb.Error


def _as_reader(data: Any, schema: "pa.Schema | None") -> "pa.RecordBatchReader":
    import pyarrow as pa

    if isinstance(data, pa.RecordBatchReader):
        return data
    if isinstance(data, pa.Table):
        return data.to_reader()
    if isinstance(data, pa.RecordBatch):
        return pa.RecordBatchReader.from_batches(data.schema, [data])
    if schema is None:
        raise KbcError("write_arrow needs a schema when given an iterable of batches")
    return pa.RecordBatchReader.from_batches(schema, iter(data))  # type: ignore[arg-type]


def _reraise(exc: BaseException, tid: TableId, cancel: "CancelToken | None") -> None:
    """A failed write, in the words the caller needs: cancelled, a storage error in one line, or as it was."""
    import duckdb

    if cancel is not None and cancel.cancelled:
        raise Cancelled(cancel.reason) from None
    if isinstance(exc, duckdb.Error):
        raise KbcError(f"writing {tid} failed: {_first_line(exc)}") from None
    raise exc


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
