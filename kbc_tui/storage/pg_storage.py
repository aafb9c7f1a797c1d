"""Table storage in PostgreSQL (``[storage] url`` in kbc.toml): shared by workers on several servers.

Buckets are schemas named as the bucket id (``"in.c-shop"``), tables are typed tables (Arrow types map to
PostgreSQL types: ``ARROW_TO_PG``). The guarantees are the DuckDB storage's:

- **atomic writes**: rows are streamed with ``COPY … FROM STDIN`` into a staging table in the bucket
  (``__kbc_stage_<hex>``); one short transaction then swaps it in (drop the old table, rename the staging
  table) or, for an incremental write, upserts it (``INSERT … ON CONFLICT (primary key) DO UPDATE``). A failure
  or a cancel before that transaction commits leaves the previous table exactly as it was;
- **primary keys** are real ``PRIMARY KEY`` constraints (added to the staging table after the COPY, so a load
  with duplicate or empty keys fails in words and keeps the previous table);
- **no half tables**: a writer holds a session-level advisory lock named after its staging table while it
  exists. A killed writer's session ends, its lock goes with it, and ``drop_leftovers`` drops every staging
  table (and transformation scratch schema) whose lock nobody holds — never one a live writer on another
  machine is still filling;
- **cancel** sends PostgreSQL a cancel request for the running statement (a COPY too) and rolls back.

Rows go out (``read_arrow``, for writers and the DuckDB transformation backend) through a server-side cursor in
batches, typed by the column's PostgreSQL type (``_arrow_type``). ``write_select`` runs its ``SELECT`` (DuckDB SQL:
``read_csv`` of a download or a pipe) in an in-process DuckDB, confined to the project like the DuckDB storage,
and streams the result in with COPY: the components that load CSV files keep one code path for both storages.
"""

from __future__ import annotations

import io
import threading
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator, Sequence

from kbc_tui.errors import KbcError
from kbc_tui.model.cancel import Cancelled
from kbc_tui.storage.base import Column, TableId, TableInfo, _tid, qualified, quote  # noqa: F401 (re-exported)

if TYPE_CHECKING:
    import pyarrow as pa

    from kbc_tui.model.cancel import CancelToken

STAGE_PREFIX = "__kbc_stage_"
#: the SQL transformation's private schemas (backend "postgresql"; same prefix as the DuckDB storage's)
SCRATCH_SCHEMA_PREFIX = "_kbc_tx_"
#: first key of every advisory lock kbc-tui storage takes (the second: ``hashtext`` of the object's name)
LOCK_SPACE = 0x6B6263  # "kbc"
CONNECT_TIMEOUT = 10
#: how long ``drop_leftovers`` waits for a table lock (a leftover someone still uses: tried again next time)
LEFTOVER_LOCK_TIMEOUT = 3.0
MAX_NAME_BYTES = 63
COPY_CHUNK_ROWS = 50_000


def _fits(tid: TableId) -> TableId:
    """PostgreSQL cuts names longer than 63 bytes (silently): refuse them in words instead."""
    for what, name in (("bucket", tid.bucket_id), ("table name", tid.name)):
        if len(name.encode()) > MAX_NAME_BYTES:
            raise KbcError(f"cannot write {tid} to PostgreSQL storage: the {what} {name!r} is longer than "
                           f"{MAX_NAME_BYTES} bytes, PostgreSQL's limit for names (choose a shorter one)")
    return tid


class PostgresStorage:
    """The ``Storage`` protocol on a PostgreSQL database (see the module's docstring)."""

    kind = "postgresql"

    def __init__(self, url: str, *, password: str = "", memory_limit: str = "256MB",
                 confine_to: Sequence[Path] = (), state_dir: Path | None = None):
        from sqlalchemy.engine import make_url

        try:
            parsed = make_url(url)
        except Exception as exc:  # noqa: BLE001 (SQLAlchemy's ArgumentError and ValueError)
            raise KbcError(f"[storage] url: {exc}") from None
        self.url = url
        self.host = parsed.host or "localhost"
        self.port = parsed.port or 5432
        self.user = parsed.username or ""
        self.database = parsed.database or ""
        self._params: dict[str, Any] = {k: v for k, v in parsed.query.items() if isinstance(v, str)}
        self._params.update(host=self.host, port=self.port, dbname=self.database)
        if self.user:
            self._params["user"] = self.user
        if password or parsed.password:
            self._params["password"] = password or parsed.password
        self._params.setdefault("connect_timeout", CONNECT_TIMEOUT)
        self._params.setdefault("application_name", "kbc-tui storage")
        self.memory_limit = memory_limit
        self.confine_to: tuple[Path, ...] = ()
        if confine_to:
            import os

            folders = {Path(os.path.abspath(p)) for p in confine_to}
            folders |= {f.resolve() for f in folders}
            self.confine_to = tuple(sorted(folders))
        #: the state folder: DuckDB spills into this process's scratch folder there (``.kbc/tmp/<pid>``)
        self.state_dir = state_dir

    @property
    def where(self) -> str:
        return f"{self.host}:{self.port}/{self.database}"

    def __repr__(self) -> str:
        return f"PostgresStorage({self.where})"

    # -- connections ----------------------------------------------------------------------
    def _connect(self) -> Any:
        """A new autocommit connection (UTC, ISO dates); ``KbcError`` in words when it cannot be made."""
        import psycopg

        try:
            conn = psycopg.connect(autocommit=True, options="-c TimeZone=UTC -c DateStyle=ISO", **self._params)
        except psycopg.Error as exc:
            raise KbcError(self._connect_words(exc)) from None
        return conn

    def _connect_words(self, exc: BaseException) -> str:
        text = " ".join(str(exc).split())
        low = text.lower()
        where = f"PostgreSQL storage at {self.host}:{self.port}"
        if "password authentication failed" in low or "no password supplied" in low \
                or "authentication failed" in low:
            return (f"{where} refused user {self.user or '(none)'}: wrong user or password "
                    '(check [storage] url and "#password" in kbc.toml)')
        if "does not exist" in low and "database" in low:
            return (f"{where}: database {self.database!r} does not exist (create it, e.g. "
                    f"`createdb -h {self.host} {self.database}`, or fix [storage] url in kbc.toml)")
        if "role" in low and "does not exist" in low:
            return f"{where}: user {self.user!r} does not exist (fix [storage] url in kbc.toml)"
        if "permission denied" in low or "not permitted" in low or "pg_hba" in low:
            return f"{where} does not let user {self.user or '(none)'} in: {text[:200]}"
        return (f"cannot reach {where} ({text[:200]}): is the server running, and are host and port in "
                "[storage] url in kbc.toml right?")

    @contextmanager
    def _conn(self, doing: str = "PostgreSQL storage") -> Iterator[Any]:
        """A connection for one piece of work; PostgreSQL's errors in it become ``KbcError`` in words."""
        import psycopg

        conn = self._connect()
        try:
            yield conn
        except psycopg.Error as exc:
            raise KbcError(self.describe_error(exc, doing)) from None
        finally:
            conn.close()

    def describe_error(self, exc: BaseException, doing: str) -> str:
        """A PostgreSQL error while ``doing`` something, in one line with what to do."""
        import psycopg

        text = " ".join(str(exc).split()) or type(exc).__name__
        if isinstance(exc, psycopg.errors.InsufficientPrivilege):
            return (f"{doing}: user {self.user or '(none)'} lacks a permission in PostgreSQL storage {self.where} "
                    f"({text[:200]}); grant it CREATE on the database (GRANT CREATE ON DATABASE "
                    f"{quote(self.database)} TO {quote(self.user or 'user')}) or ownership of the schema")
        if isinstance(exc, psycopg.OperationalError) and not isinstance(exc, psycopg.errors.QueryCanceled):
            return f"{doing}: the connection to PostgreSQL storage at {self.host}:{self.port} failed ({text[:200]})"
        if isinstance(exc, psycopg.errors.UniqueViolation) or "could not create unique index" in text:
            return f"{doing}: the rows repeat a primary key value ({text[:200]})"
        if isinstance(exc, psycopg.errors.NotNullViolation):
            return f"{doing}: a primary key column has empty (null) values ({text[:200]})"
        return f"{doing}: {text[:300]}"

    @contextmanager
    def connect(self) -> Iterator[Any]:
        """An in-process DuckDB (empty, in memory) for SQL work: the ``duckdb`` SQL transformation backend
        loads its inputs into it, and ``write_select`` runs its ``SELECT`` there. Confined like the DuckDB
        storage: files outside the project and its state folder are out of its reach."""
        import duckdb

        con = duckdb.connect(":memory:", config={"memory_limit": self.memory_limit})
        try:
            if self.state_dir is not None:
                from kbc_tui.store.scratch import process_scratch

                spill = process_scratch(self.state_dir) / "duckdb"
                spill.mkdir(parents=True, exist_ok=True)
                con.execute(f"SET temp_directory = '{_lit(str(spill))}'")
            if self.confine_to:
                import os

                folders = ", ".join(f"'{_lit(os.path.join(str(f), ''))}'" for f in self.confine_to)
                con.execute(f"SET allowed_directories = [{folders}]")
                con.execute("SET enable_external_access = false")
            yield con
        finally:
            con.close()

    def may_read(self, path: Path) -> bool:
        import os

        if not self.confine_to:
            return True
        full = Path(os.path.abspath(path))
        return any(full == f or f in full.parents for f in self.confine_to)

    # -- what the engine calls on every storage (the DuckDB file's needs; nothing to do here) -------------
    def retain(self) -> None:
        """Nothing to keep open: a task connects to the server (a few ms) when it needs to."""

    def release(self) -> None:
        pass

    def reader_waiting(self) -> bool:
        return False  # PostgreSQL has no one-process lock: readers never wait for the runner

    def make_way(self) -> None:
        pass

    def file_size(self) -> int:
        return 0  # the server's disk, not ours: nothing to compact

    def compact_if_bloated(self) -> int:
        return 0  # autovacuum's job

    # -- reading ----------------------------------------------------------------------------
    def list_tables(self) -> list[TableInfo]:
        with self._conn() as conn:
            rows = conn.execute(
                "SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE c.relkind IN ('r', 'p') AND (n.nspname LIKE 'in.c-%%' OR n.nspname LIKE 'out.c-%%') "
                "AND left(c.relname, %s) <> %s ORDER BY n.nspname, c.relname",
                (len(STAGE_PREFIX), STAGE_PREFIX)).fetchall()
            infos = []
            for schema, name in rows:
                stage, bucket = schema.split(".c-", 1)
                try:
                    tid = TableId.parse(f"{stage}.c-{bucket}.{name}")
                except KbcError:
                    continue  # a table someone made by hand with a name storage does not use
                info = self._info(conn, tid)
                if info is not None:
                    infos.append(info)
            return infos

    def _info(self, conn: Any, tid: TableId) -> TableInfo | None:
        cols = self._columns(conn, tid)
        if not cols:
            return None
        count = conn.execute(f"SELECT count(*) FROM {qualified(tid)}").fetchone()[0]
        return TableInfo(tid, [Column(n, t) for n, t, _ in cols], count, self._primary_key(conn, tid))

    @staticmethod
    def _columns(conn: Any, tid: TableId) -> list[tuple[str, str, str]]:
        """(name, type as PostgreSQL writes it, type's base name) of a table's columns; [] when it does not exist."""
        return [tuple(r) for r in conn.execute(
            "SELECT a.attname, format_type(a.atttypid, a.atttypmod), t.typname FROM pg_attribute a "
            "JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace "
            "JOIN pg_type t ON t.oid = a.atttypid "
            "WHERE n.nspname = %s AND c.relname = %s AND c.relkind IN ('r', 'p', 'v') AND a.attnum > 0 "
            "AND NOT a.attisdropped ORDER BY a.attnum", (tid.bucket_id, tid.name)).fetchall()]

    @staticmethod
    def _primary_key(conn: Any, tid: TableId) -> list[str]:
        row = conn.execute(
            "SELECT array(SELECT a.attname FROM unnest(k.conkey) WITH ORDINALITY u(attnum, i) "
            "JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = u.attnum ORDER BY u.i) "
            "FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE k.contype = 'p' AND n.nspname = %s AND c.relname = %s", (tid.bucket_id, tid.name)).fetchone()
        return list(row[0]) if row else []

    @staticmethod
    def _exists(conn: Any, tid: TableId) -> bool:
        return conn.execute("SELECT to_regclass(%s) IS NOT NULL", (qualified(tid),)).fetchone()[0]

    def table(self, table_id: str | TableId) -> TableInfo | None:
        tid = _tid(table_id)
        with self._conn() as conn:
            return self._info(conn, tid)

    def preview(self, table_id: str | TableId, limit: int = 100) -> tuple[list[str], list[tuple]]:
        tid = _tid(table_id)
        with self._conn() as conn:
            if not self._exists(conn, tid):
                raise KbcError(f"table {tid} does not exist in storage")
            cur = conn.execute(f"SELECT * FROM {qualified(tid)} LIMIT {int(limit)}")
            return [d.name for d in cur.description], [tuple(r) for r in cur.fetchall()]

    def arrow_schema(self, table_id: str | TableId) -> "pa.Schema":
        """The Arrow schema ``read_arrow`` gives the table."""
        import pyarrow as pa

        tid = _tid(table_id)
        with self._conn() as conn:
            cols = self._columns(conn, tid)
        if not cols:
            raise KbcError(f"table {tid} does not exist in storage")
        return pa.schema([pa.field(n, _arrow_type(t, base)) for n, t, base in cols])

    def read_arrow(self, table_id: str | TableId, *, columns: Sequence[str] | None = None,
                   batch_size: int = 100_000) -> "pa.RecordBatchReader":
        """Stream a table as Arrow batches: ``COPY … TO STDOUT`` parsed by Arrow's CSV reader (native code, typed
        by the columns' types), or, when a column is binary, a server-side cursor. One snapshot either way."""
        import pyarrow as pa

        tid = _tid(table_id)
        conn = self._connect()
        try:
            cols = self._columns(conn, tid)
            if not cols:
                raise KbcError(f"table {tid} does not exist in storage")
            if columns:
                by_name = {c[0]: c for c in cols}
                unknown = [c for c in columns if c not in by_name]
                if unknown:
                    raise KbcError(f"table {tid} has no column(s) {', '.join(unknown)}")
                cols = [by_name[c] for c in columns]
            types = [_arrow_type(t, base) for _, t, base in cols]
            schema = pa.schema([pa.field(n, t) for (n, _, _), t in zip(cols, types)])
            if any(base == "bytea" for _, _, base in cols):
                batches = self._read_cursor(conn, tid, cols, types, schema, batch_size)
            else:
                batches = self._read_copy(conn, tid, cols, types, schema)
        except BaseException as exc:
            conn.close()
            if isinstance(exc, KbcError):
                raise
            import psycopg

            if isinstance(exc, psycopg.Error):
                raise KbcError(self.describe_error(exc, f"reading {tid}")) from None
            raise
        return pa.RecordBatchReader.from_batches(schema, batches)

    def _read_copy(self, conn: Any, tid: TableId, cols: list, types: list, schema: "pa.Schema") -> Iterator[Any]:
        import pyarrow as pa
        import pyarrow.csv as pacsv

        select = ", ".join(_select_expr(n, base, t, csv=True) for (n, _, base), t in zip(cols, types))
        # timestamps with a time zone come as UTC without an offset (Arrow's CSV reader wants none), then are cast
        csv_types = {n: (pa.timestamp("us") if pa.types.is_timestamp(t) else t) for (n, _, _), t in zip(cols, types)}
        names = [n for n, _, _ in cols]
        cm = conn.cursor().copy(f"COPY (SELECT {select} FROM {qualified(tid)}) TO STDOUT (FORMAT csv)")

        def batches() -> Iterator[pa.RecordBatch]:
            done = False
            try:
                copy = cm.__enter__()
                reader = pacsv.open_csv(
                    _CopySource(copy),
                    read_options=pacsv.ReadOptions(column_names=names, use_threads=False, block_size=4 << 20),
                    parse_options=pacsv.ParseOptions(newlines_in_values=True),
                    convert_options=pacsv.ConvertOptions(column_types=csv_types, null_values=[""],
                                                         strings_can_be_null=True, quoted_strings_can_be_null=False,
                                                         true_values=["t"], false_values=["f"]))
                for batch in reader:
                    if batch.schema != schema:
                        batch = pa.RecordBatch.from_arrays([c.cast(t) for c, t in zip(batch.columns, types)],
                                                           schema=schema)
                    yield batch
                cm.__exit__(None, None, None)
                done = True
            finally:
                try:
                    conn.close()  # at the end, or when the reader is closed early (ends the COPY)
                except Exception:  # noqa: BLE001
                    pass
                del done

        return batches()

    def _read_cursor(self, conn: Any, tid: TableId, cols: list, types: list, schema: "pa.Schema",
                     batch_size: int) -> Iterator[Any]:
        import pyarrow as pa

        select = ", ".join(_select_expr(n, base, t) for (n, _, base), t in zip(cols, types))
        conn.autocommit = False
        cur = conn.cursor(name=f"kbc_read_{uuid.uuid4().hex[:8]}")
        cur.itersize = batch_size
        cur.execute(f"SELECT {select} FROM {qualified(tid)}")

        def batches() -> Iterator[pa.RecordBatch]:
            try:
                while True:
                    rows = cur.fetchmany(batch_size)
                    if not rows:
                        break
                    arrays = [pa.array(list(values), type=t) for values, t in zip(zip(*rows), types)]
                    yield pa.RecordBatch.from_arrays(arrays, schema=schema)
            finally:
                try:
                    conn.close()  # at the last batch, or when the reader is closed early
                except Exception:  # noqa: BLE001
                    pass

        return batches()

    # -- writing ------------------------------------------------------------------------------
    def write_arrow(self, table_id: str | TableId, data: Any, *, schema: "pa.Schema | None" = None,
                    incremental: bool = False, primary_key: Sequence[str] = (),
                    cancel: "CancelToken | None" = None, inspect: Any = None) -> int:
        from kbc_tui.storage.duckdb_storage import _as_reader

        tid = _tid(table_id)
        source = _as_reader(data, schema)
        primary_key = list(primary_key)
        missing = [k for k in primary_key if k not in source.schema.names]
        if missing:
            raise KbcError(f"primary key column(s) {', '.join(missing)} not in the data for {tid} "
                           f"(columns: {', '.join(source.schema.names)})")
        columns = [(f.name, pg_type(f.type, f.name, tid)) for f in source.schema]
        if not columns:
            raise KbcError(f"writing {tid} failed: the data has no columns")
        counted = [0]

        def fill(conn: Any, stage: str) -> None:
            names = ", ".join(quote(n) for n, _ in columns)
            with conn.cursor() as cur:
                with cur.copy(f"COPY {stage} ({names}) FROM STDIN (FORMAT csv)") as copy:
                    for batch in source:
                        if cancel is not None:
                            cancel.check()
                        for offset in range(0, batch.num_rows, COPY_CHUNK_ROWS):
                            copy.write(_csv_bytes(batch.slice(offset, COPY_CHUNK_ROWS)))
                        counted[0] += batch.num_rows
                if cancel is not None:
                    cancel.check()

        self._stage_and_swap(tid, columns, fill, incremental=incremental, primary_key=primary_key, cancel=cancel,
                             inspect=inspect)
        return counted[0]

    def write_select(self, table_id: str | TableId, select_sql: str, *, incremental: bool = False,
                     primary_key: Sequence[str] = (), cancel: "CancelToken | None" = None,
                     inspect: Any = None) -> int:
        """Like ``write_arrow`` with the rows of a DuckDB ``SELECT`` (e.g. ``read_csv`` of a file or a pipe),
        run in an in-process DuckDB and streamed into PostgreSQL as it produces them. ``inspect(conn, stage)``
        gets the PostgreSQL connection and the filled staging table (quoted, qualified) before the swap."""
        import duckdb
        import pyarrow as pa

        tid = _tid(table_id)
        with self.connect() as con:
            remove = cancel.on_cancel(con.interrupt) if cancel is not None else (lambda: None)
            try:
                reader = con.sql(select_sql).to_arrow_reader(100_000)

                def rows() -> Iterator[pa.RecordBatch]:
                    try:
                        yield from reader
                    except (duckdb.Error, pa.ArrowException, OSError) as exc:  # DuckDB's, through Arrow's stream
                        raise _SelectFailed(exc) from None

                return self.write_arrow(tid, pa.RecordBatchReader.from_batches(reader.schema, rows()),
                                        incremental=incremental, primary_key=primary_key, cancel=cancel,
                                        inspect=inspect)
            except (duckdb.Error, _SelectFailed) as exc:
                if cancel is not None and cancel.cancelled:
                    raise Cancelled(cancel.reason) from None
                cause = exc.args[0] if isinstance(exc, _SelectFailed) else exc
                raise KbcError(f"writing {tid} failed: {_first_line(cause)}") from None
            finally:
                remove()

    def _stage_and_swap(self, tid: TableId, columns: list[tuple[str, str]], fill: Any, *, incremental: bool,
                        primary_key: list[str], cancel: "CancelToken | None", inspect: Any = None) -> None:
        """Create a staging table (committed, under this session's advisory lock), fill it in a transaction,
        then swap it in with one short transaction."""
        import psycopg

        _fits(tid)
        stage_name = f"{STAGE_PREFIX}{uuid.uuid4().hex[:16]}"
        stage = f"{quote(tid.bucket_id)}.{quote(stage_name)}"
        lock_name = f"{tid.bucket_id}.{stage_name}"
        conn = self._connect()
        remove = cancel.on_cancel(lambda: _cancel_in_background(conn)) if cancel is not None else (lambda: None)
        created = False
        try:
            try:
                conn.execute("SELECT pg_advisory_lock(%s, hashtext(%s))", (LOCK_SPACE, lock_name))
                self._ensure_schema(conn, tid.bucket_id)
                defs = ", ".join(f"{quote(n)} {t}" for n, t in columns)
                conn.execute(f"CREATE TABLE {stage} ({defs})")
                created = True
                with conn.transaction():
                    fill(conn, stage)
                    if primary_key:
                        conn.execute(f"ALTER TABLE {stage} ADD CONSTRAINT "
                                     f"{quote('__kbc_pk_' + uuid.uuid4().hex[:16])} "
                                     f"PRIMARY KEY ({', '.join(quote(k) for k in primary_key)})")
                if inspect is not None:
                    inspect(conn, stage)
                if cancel is not None:
                    cancel.check()
                with conn.transaction():
                    self._swap(conn, tid, stage, stage_name, columns, incremental=incremental,
                               primary_key=primary_key)
                    if cancel is not None:
                        cancel.check()
                created = False  # renamed into place or dropped in the swap
            except BaseException as exc:
                if cancel is not None and cancel.cancelled:
                    raise Cancelled(cancel.reason) from None
                if isinstance(exc, psycopg.Error):
                    raise KbcError(self.describe_error(exc, f"writing {tid} failed")) from None
                raise
            finally:
                remove()
                for _ in range(2 if created else 0):  # twice: a cancel request still on its way may hit the first
                    try:
                        conn.execute(f"DROP TABLE IF EXISTS {stage}")
                        break
                    except psycopg.errors.QueryCanceled:
                        continue
                    except psycopg.Error:
                        break  # the connection is gone: drop_leftovers sweeps it
        finally:
            try:
                conn.close()  # the advisory lock ends with the session
            except psycopg.Error:
                pass

    def _swap(self, conn: Any, tid: TableId, stage: str, stage_name: str, columns: list[tuple[str, str]], *,
              incremental: bool, primary_key: list[str]) -> None:
        target = qualified(tid)
        if incremental and self._exists(conn, tid):
            names = [n for n, _ in columns]
            cols = ", ".join(quote(n) for n in names)
            if primary_key:
                current = self._primary_key(conn, tid)
                if current != primary_key:
                    self._set_primary_key(conn, tid, primary_key)
                others = [n for n in names if n not in primary_key]
                action = ("DO UPDATE SET " + ", ".join(f"{quote(n)} = EXCLUDED.{quote(n)}" for n in others)
                          if others else "DO NOTHING")
                conn.execute(f"INSERT INTO {target} ({cols}) SELECT {cols} FROM {stage} "
                             f"ON CONFLICT ({', '.join(quote(k) for k in primary_key)}) {action}")
            else:
                conn.execute(f"INSERT INTO {target} ({cols}) SELECT {cols} FROM {stage}")
            conn.execute(f"DROP TABLE {stage}")
        else:
            conn.execute(f"DROP TABLE IF EXISTS {target}")
            conn.execute(f"ALTER TABLE {stage} RENAME TO {quote(tid.name)}")

    def _set_primary_key(self, conn: Any, tid: TableId, primary_key: list[str]) -> None:
        """An incremental write with another key than the table's: the table takes the new one (in the swap)."""
        row = conn.execute("SELECT k.conname FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid "
                           "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE k.contype = 'p' AND "
                           "n.nspname = %s AND c.relname = %s", (tid.bucket_id, tid.name)).fetchone()
        if row:
            conn.execute(f"ALTER TABLE {qualified(tid)} DROP CONSTRAINT {quote(row[0])}")
        conn.execute(f"ALTER TABLE {qualified(tid)} ADD CONSTRAINT {quote('__kbc_pk_' + uuid.uuid4().hex[:16])} "
                     f"PRIMARY KEY ({', '.join(quote(k) for k in primary_key)})")

    @staticmethod
    def _ensure_schema(conn: Any, schema: str) -> None:
        """Create a bucket's schema; two writers creating it at once is fine."""
        import psycopg

        if conn.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", (schema,)).fetchone():
            return
        try:
            conn.execute(f"CREATE SCHEMA IF NOT EXISTS {quote(schema)}")
        except psycopg.errors.UniqueViolation:
            pass  # made by a concurrent writer between our check and our CREATE

    def drop_table(self, table_id: str | TableId) -> None:
        tid = _tid(table_id)
        with self._conn() as conn:
            conn.execute(f"DROP TABLE IF EXISTS {qualified(tid)}")

    def drop_leftovers(self) -> int:
        """Drop the staging tables and transformation scratch schemas of writers that are gone: those whose
        advisory lock nobody holds (a live writer on any machine holds its own). Returns how many were dropped."""
        import psycopg

        dropped = 0
        with self._conn("dropping leftovers in PostgreSQL storage") as conn:
            conn.execute(f"SET lock_timeout = '{int(LEFTOVER_LOCK_TIMEOUT * 1000)}ms'")  # never hang a take-over
            stale = conn.execute(
                "SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE c.relkind = 'r' AND left(c.relname, %s) = %s",
                (len(STAGE_PREFIX), STAGE_PREFIX)).fetchall()
            schemas = [r[0] for r in conn.execute("SELECT nspname FROM pg_namespace WHERE left(nspname, %s) = %s",
                                                  (len(SCRATCH_SCHEMA_PREFIX), SCRATCH_SCHEMA_PREFIX)).fetchall()]
            for lock_name, drop in ([(f"{s}.{n}", f"DROP TABLE IF EXISTS {quote(s)}.{quote(n)}") for s, n in stale]
                                    + [(s, f"DROP SCHEMA IF EXISTS {quote(s)} CASCADE") for s in schemas]):
                if not conn.execute("SELECT pg_try_advisory_lock(%s, hashtext(%s))",
                                    (LOCK_SPACE, lock_name)).fetchone()[0]:
                    continue  # its writer is alive (on this machine or another)
                try:
                    conn.execute(drop)
                    dropped += 1
                except psycopg.Error:
                    pass  # tried again next time
                finally:
                    conn.execute("SELECT pg_advisory_unlock(%s, hashtext(%s))", (LOCK_SPACE, lock_name))
        return dropped

    # -- the SQL transformation's scratch schema (backend "postgresql") ---------------------------------
    @contextmanager
    def session(self, cancel: "CancelToken | None" = None) -> Iterator[Any]:
        """A connection of its own (autocommit; a cancel cancels its running statement), closed afterwards."""
        conn = self._connect()
        remove = cancel.on_cancel(lambda: _cancel_in_background(conn)) if cancel is not None else (lambda: None)
        try:
            yield conn
        finally:
            remove()
            try:
                conn.close()
            except Exception:  # noqa: BLE001
                pass

    def lock_scratch(self, conn: Any, schema: str) -> None:
        """Mark a scratch schema as in use by this session (``drop_leftovers`` leaves it alone)."""
        conn.execute("SELECT pg_advisory_lock(%s, hashtext(%s))", (LOCK_SPACE, schema))

    def stage_relation(self, conn: Any, tid: TableId, source: str, primary_key: Sequence[str]) -> "Staged":
        """Inside the caller's transaction: a staging table in ``tid``'s bucket with the rows of ``source`` (a
        qualified table or view in this database): the table itself, moved (no copy), or a copy of a view's rows;
        with its primary key. Swap it in with ``swap_staged``."""
        primary_key = list(primary_key)
        _fits(tid)
        self._ensure_schema(conn, tid.bucket_id)
        stage_name = f"{STAGE_PREFIX}{uuid.uuid4().hex[:16]}"
        stage = f"{quote(tid.bucket_id)}.{quote(stage_name)}"
        kind = conn.execute("SELECT c.relkind FROM pg_class c WHERE c.oid = to_regclass(%s)", (source,)).fetchone()
        if kind and kind[0] in ("r", "p"):
            schema = source.rsplit(".", 1)[0]
            conn.execute(f"ALTER TABLE {source} RENAME TO {quote(stage_name)}")
            conn.execute(f"ALTER TABLE {schema}.{quote(stage_name)} SET SCHEMA {quote(tid.bucket_id)}")
            for con_name, in conn.execute(  # constraints the script made (a key of its own, foreign keys) go
                    "SELECT conname FROM pg_constraint WHERE conrelid = to_regclass(%s) AND contype IN ('p', 'u', "
                    "'f', 'x')", (stage,)).fetchall():
                conn.execute(f"ALTER TABLE {stage} DROP CONSTRAINT IF EXISTS {quote(con_name)} CASCADE")
        else:
            conn.execute(f"CREATE TABLE {stage} AS SELECT * FROM {source}")
        cols = [(n, t) for n, t, _ in self._columns(conn, TableId(tid.stage, tid.bucket, stage_name))]
        missing = [k for k in primary_key if k not in [n for n, _ in cols]]
        if missing:
            raise KbcError(f"primary key column(s) {', '.join(missing)} not in the data for {tid} "
                           f"(columns: {', '.join(n for n, _ in cols)})")
        if primary_key:
            conn.execute(f"ALTER TABLE {stage} ADD CONSTRAINT {quote('__kbc_pk_' + uuid.uuid4().hex[:16])} "
                         f"PRIMARY KEY ({', '.join(quote(k) for k in primary_key)})")
        rows = conn.execute(f"SELECT count(*) FROM {stage}").fetchone()[0]
        return Staged(tid, stage, stage_name, cols, primary_key, rows)

    def swap_staged(self, conn: Any, staged: "Staged", *, incremental: bool) -> int:
        """Inside the caller's transaction: swap in (or upsert) a table ``stage_relation`` made. Returns its rows."""
        self._swap(conn, staged.table, staged.stage, staged.stage_name, staged.columns, incremental=incremental,
                   primary_key=staged.primary_key)
        return staged.rows


@dataclass
class Staged:
    table: TableId
    stage: str  # qualified, quoted
    stage_name: str
    columns: list[tuple[str, str]]
    primary_key: list[str]
    rows: int


# -- types ------------------------------------------------------------------------------------------

def pg_type(t: "pa.DataType", name: str = "", tid: Any = "") -> str:
    """The PostgreSQL column type for an Arrow type (``KbcError`` in words for one storage cannot hold)."""
    import pyarrow.types as at

    if at.is_dictionary(t):
        return pg_type(t.value_type, name, tid)
    if at.is_boolean(t):
        return "boolean"
    if at.is_int8(t) or at.is_int16(t) or at.is_uint8(t):
        return "smallint"
    if at.is_int32(t) or at.is_uint16(t):
        return "integer"
    if at.is_int64(t) or at.is_uint32(t):
        return "bigint"
    if at.is_uint64(t):
        return "numeric(20,0)"
    if at.is_float16(t) or at.is_float32(t):
        return "real"
    if at.is_float64(t):
        return "double precision"
    if at.is_decimal(t):
        return f"numeric({t.precision},{t.scale})"
    if at.is_string(t) or at.is_large_string(t) or getattr(at, "is_string_view", lambda _: False)(t) or at.is_null(t):
        return "text"
    if at.is_binary(t) or at.is_large_binary(t) or at.is_fixed_size_binary(t) \
            or getattr(at, "is_binary_view", lambda _: False)(t):
        return "bytea"
    if at.is_date(t):
        return "date"
    if at.is_timestamp(t):
        return "timestamp with time zone" if t.tz else "timestamp without time zone"
    if at.is_time(t):
        return "time without time zone"
    where = f" of {tid}" if tid else ""
    raise KbcError(f"column {name!r}{where} has type {t}, which PostgreSQL storage does not hold: cast it to "
                   "text, a number, a date or a timestamp first")


_PG_TO_ARROW = {
    "int2": "int16", "int4": "int32", "int8": "int64", "float4": "float32", "float8": "float64",
    "bool": "bool_", "date": "date32", "bytea": "binary",
}


def _arrow_type(formatted: str, base: str) -> "pa.DataType":
    """The Arrow type ``read_arrow`` gives a PostgreSQL column (text for any type without a closer one)."""
    import re

    import pyarrow as pa

    if base in _PG_TO_ARROW:
        return getattr(pa, _PG_TO_ARROW[base])()
    if base == "numeric":
        m = re.match(r"numeric\((\d+),(\d+)\)", formatted)
        if m and int(m.group(1)) <= 38:
            return pa.decimal128(int(m.group(1)), int(m.group(2)))
        return pa.float64()  # a numeric without (or beyond Arrow's) precision: a double
    if base == "timestamp":
        return pa.timestamp("us")
    if base == "timestamptz":
        return pa.timestamp("us", tz="UTC")
    if base == "time":
        return pa.time64("us")
    return pa.string()


def _select_expr(name: str, base: str, arrow: "pa.DataType", csv: bool = False) -> str:
    """How ``read_arrow`` selects a column: as it is when its Arrow type takes the value, else as text (or, for a
    numeric without precision, as a double). ``csv``: for COPY's text, a timestamp with a time zone as UTC."""
    import pyarrow as pa

    if base == "numeric" and arrow == pa.float64():
        return f"{quote(name)}::double precision AS {quote(name)}"
    if csv and base == "timestamptz":
        return f"({quote(name)} AT TIME ZONE 'UTC') AS {quote(name)}"
    if base in _PG_TO_ARROW or base in ("numeric", "timestamp", "timestamptz", "time", "text", "varchar", "bpchar"):
        return quote(name)
    return f"{quote(name)}::text AS {quote(name)}"


class _SelectFailed(Exception):
    """``write_select``'s DuckDB query failed while its rows were streaming (its error is the argument)."""


class _CopySource(io.RawIOBase):
    """``COPY … TO STDOUT``'s rows as a file Arrow's CSV reader reads in blocks."""

    def __init__(self, copy: Any) -> None:
        self._copy = copy
        self._pending = b""
        self._ended = False

    def readable(self) -> bool:
        return True

    def readinto(self, out: Any) -> int:
        want = len(out)
        chunks, have = ([self._pending], len(self._pending)) if self._pending else ([], 0)
        while have < want and not self._ended:
            data = self._copy.read()
            if not data:
                self._ended = True
                break
            chunks.append(bytes(data))
            have += len(data)
        blob = b"".join(chunks)
        n = min(want, len(blob))
        out[:n] = blob[:n]
        self._pending = blob[n:]
        return n


def _csv_bytes(batch: "pa.RecordBatch") -> bytes:
    """A batch as CSV for ``COPY … (FORMAT csv)``: null is an unquoted empty field, an empty text a quoted one;
    binary as PostgreSQL's hex text (``\\x…``), dictionaries decoded."""
    import pyarrow as pa
    import pyarrow.csv as pacsv
    import pyarrow.types as at

    arrays, fields, changed = [], [], False
    for field, column in zip(batch.schema, batch.columns):
        t = field.type
        if at.is_dictionary(t):
            column, t, changed = column.cast(t.value_type), t.value_type, True
        if at.is_binary(t) or at.is_large_binary(t) or at.is_fixed_size_binary(t) \
                or getattr(at, "is_binary_view", lambda _: False)(t):
            column = pa.array([None if v is None else "\\x" + v.hex() for v in column.to_pylist()], pa.string())
            t, changed = pa.string(), True
        elif at.is_null(t):
            column, t, changed = pa.nulls(len(column), pa.string()), pa.string(), True
        elif at.is_float16(t):
            column, t, changed = column.cast(pa.float32()), pa.float32(), True
        arrays.append(column)
        fields.append(pa.field(field.name, t))
    if changed:
        batch = pa.RecordBatch.from_arrays(arrays, schema=pa.schema(fields))
    out = io.BytesIO()
    pacsv.write_csv(batch, out, pacsv.WriteOptions(include_header=False))
    return out.getvalue()


def _cancel_in_background(conn: Any) -> None:
    """Ask the server to cancel the connection's running statement, without blocking the caller (the event loop)."""
    def cancel() -> None:
        try:
            conn.cancel_safe(timeout=5)
        except Exception:  # noqa: BLE001 (closed meanwhile, or the server is gone: nothing to cancel)
            pass

    threading.Thread(target=cancel, name="kbc-pg-cancel", daemon=True).start()


def _lit(value: str) -> str:
    return value.replace("'", "''")


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def open_storage(project: Any, duckdb_path: Path | None = None) -> Any:
    """The project's table storage: the DuckDB file (default; at ``duckdb_path`` when the caller resolved
    ``[storage] path`` already) or PostgreSQL when ``[storage] url`` is set. ``KbcError`` in words for a bad
    path, ``SecretError`` for a password that cannot be resolved."""
    from kbc_tui.model.paths import inside_project
    from kbc_tui.storage.duckdb_storage import DuckDBStorage

    settings = project.settings.storage
    root, state_dir = project.root, project.state_dir
    if settings.url:
        password = project.secrets.resolve(settings.password, where='[storage] "#password"') \
            if settings.password else ""
        return PostgresStorage(settings.url, password=password, memory_limit=settings.memory_limit,
                               confine_to=(root, state_dir), state_dir=state_dir)
    if duckdb_path is not None:
        storage_path = duckdb_path
    else:
        try:
            storage_path = inside_project(root, settings.path)
        except KbcError as exc:
            raise KbcError(f"kbc.toml: storage.path: {exc}") from None
    # DuckDB (and so every SQL script) reads and writes files only in the project and its state folder
    return DuckDBStorage(storage_path, memory_limit=settings.memory_limit, confine_to=(root, state_dir))
