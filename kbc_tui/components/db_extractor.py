"""``db-extractor``: copy tables or query results from a SQL database into storage (``in.c-…``).

SQLite, PostgreSQL and MySQL/MariaDB through SQLAlchemy. Rows stream from a server-side cursor
in chunks into an Arrow reader that storage consumes (memory stays flat). Column types come from
the table's definition (decimals stay exact, timestamps keep their zone); for a custom query they
are inferred from the first chunk. Incremental fetching keeps the last value of a column as state.
Fast paths (``fast``, on by default): PostgreSQL ``COPY`` (``_pg_copy``), MySQL/MariaDB and SQLite tables
through ConnectorX into Arrow batches (``_mysql_arrow``, ``_sqlite_arrow``).
"""

from __future__ import annotations

import datetime as dt
import decimal
from typing import Any, Iterator

from kbc_tui.components._params import ParamCheck, sub
from kbc_tui.components._sqldb import (MixedColumn, check_connection_params, connection_paths, create_engine,
                                      describe_error, make_url, query_interrupter)
from kbc_tui.components.base import Cancelled, Component, RunContext, TaskResult
from kbc_tui.errors import ComponentError, KbcError

CHUNK_ROWS = 1_000


class DbExtractor(Component):
    type_id = "db-extractor"
    paths = staticmethod(connection_paths)  # a SQLite file

    def validate(self, parameters: dict[str, Any]) -> list[tuple[str, str]]:
        check = ParamCheck(parameters)
        check_connection_params(check)
        check.int("chunk_rows", minimum=1)
        names = set()
        for prefix, item in check.tables("tables"):
            t = sub(check, prefix, item)
            name = t.str("name", required=True)
            if name in names:
                t.add("name", f"duplicate table name {name!r}")
            names.add(name)
            table, query = t.str("table"), t.str("query")
            if bool(table) == bool(query):
                t.add("table", "give either 'table' or 'query' (a custom SQL query), not both")
            t.table_id("output")
            t.str_list("primary_key")
            incremental = t.bool("incremental")
            fetch_col = t.str("incremental_fetching_column")
            if fetch_col and query:
                t.add("incremental_fetching_column", "not allowed with a custom query (as in Keboola): "
                      "filter in the query instead")
            if fetch_col and not t.data.get("primary_key"):
                t.add("primary_key", "incremental_fetching_column needs a primary key: each run reads the rows "
                      "with the last fetched value again (>=, so rows written in the same instant are not lost), "
                      "and without a key to upsert by they would be stored twice")
            elif incremental and not t.data.get("primary_key"):
                t.add("primary_key", "incremental loading needs a primary key to upsert by")
            t.bool("enabled")
            t.bool("fast")
            t.finish()
        return check.finish()

    async def run(self, ctx: RunContext) -> TaskResult:
        return await ctx.to_thread(self._run, ctx)

    def _run(self, ctx: RunContext) -> TaskResult:
        params = ctx.parameters
        url = make_url(params["url"], params.get("#password"), ctx.project_root)
        engine = create_engine(url)
        total = 0
        tables = [t for t in params["tables"] if t.get("enabled", True)]
        state = ctx.state.setdefault("last_fetched", {})
        try:
            for table in tables:
                ctx.cancel.check()
                rows = self._extract(ctx, engine, url, table, state, params.get("chunk_rows", CHUNK_ROWS))
                total += rows
        finally:
            engine.dispose()
        return TaskResult(rows=total, message=f"{len(tables)} table(s)")

    def _extract(self, ctx: RunContext, engine, url, table: dict, state: dict, chunk_rows: int) -> int:
        import sqlalchemy as sa

        name = table["name"]
        fetch_col = table.get("incremental_fetching_column")
        last = state.get(name) if fetch_col else None
        try:
            with engine.connect() as conn:
                if table.get("query"):
                    statement = sa.text(table["query"])
                    types = None
                    source = "custom query"
                else:
                    schema, _, tname = table["table"].rpartition(".")
                    meta = sa.MetaData()
                    try:
                        reflected = sa.Table(tname, meta, schema=schema or None, autoload_with=conn)
                    except sa.exc.NoSuchTableError:
                        raise ComponentError(f"table {table['table']!r} not found in "
                                             f"{url.drivername.split('+')[0]} database {url.database!r}") from None
                    from kbc_tui.components import _mysql_arrow

                    for column in reflected.columns:
                        if isinstance(column.type, sa.Float):
                            column.type.asdecimal = False  # MySQL's DOUBLE reflects as a 10-digit Decimal
                        if _mysql_arrow.is_time(column.type):
                            column.type = _mysql_arrow.raw_time()  # the timedelta as the driver reads it
                    statement = sa.select(reflected)
                    if fetch_col:
                        if fetch_col not in reflected.c:
                            raise ComponentError(f"incremental_fetching_column {fetch_col!r} is not a column of "
                                                 f"{table['table']!r}")
                        if last is not None:
                            statement = statement.where(_since(reflected.c[fetch_col], last, engine.dialect.name))
                        statement = statement.order_by(reflected.c[fetch_col])
                    source = f"table {table['table']}"
                    if engine.dialect.name == "postgresql" and not params_generic(table):
                        from kbc_tui.components import _pg_copy

                        duck_types = _pg_copy.copy_types(reflected)
                        if duck_types is not None:  # (no pyarrow in this path: its memory counts)
                            conn.close()
                            return _extract_copy(ctx, url, reflected, table, state, duck_types, source, last)
                    from kbc_tui.components._arrow import arrow_type

                    types = [arrow_type(c.type) for c in reflected.columns]
                    if engine.dialect.name in ("mysql", "mariadb") and not params_generic(table):
                        if _mysql_arrow.eligible(url, types):
                            sql = _mysql_arrow.select_sql(statement, reflected, engine.dialect)
                            conn.close()
                            return _extract_arrow(ctx, url, sql, reflected, types, table, state, source, last)
                    if engine.dialect.name == "sqlite" and not params_generic(table):
                        from kbc_tui.components import _sqlite_arrow

                        if _sqlite_arrow.eligible(url, types):
                            try:
                                return _extract_arrow(ctx, url, _sqlite_arrow.select_sql(statement, engine.dialect),
                                                      reflected, types, table, state, source, last,
                                                      _sqlite_arrow.read_batches)
                            except _sqlite_arrow.Unfit as exc:
                                ctx.log.info(f"{source}: the fast path cannot read it ({exc}); reading it again "
                                             "row by row")
                import pyarrow as pa

                from kbc_tui.components._arrow import rows_to_batch

                stop_query = ctx.cancel.on_cancel(query_interrupter(conn, engine))
                result = conn.execution_options(stream_results=True, max_row_buffer=chunk_rows).execute(statement)
                fetchmany = result.fetchmany
                if engine.dialect.name == "sqlite" and types is not None:
                    def fetchmany(n: int) -> list:  # a value SQLAlchemy cannot parse (text in a DATE column): words
                        try:
                            return result.fetchmany(n)
                        except (ValueError, TypeError, ArithmeticError):
                            found = _diagnose_sqlite(conn, statement, reflected, engine.dialect)
                            if found is None:
                                raise
                            raise found from None
                names = list(result.keys())
                fetch_index = names.index(fetch_col) if fetch_col else None
                newest: list[Any] = [None]  # the largest value fetched in this run

                first = fetchmany(chunk_rows)
                if types is None:
                    types = [None] * len(names)
                first_batch = rows_to_batch(first, names, types)
                types = [first_batch.schema.field(i).type if t is None else t for i, t in enumerate(types)]
                types = [pa.string() if pa.types.is_null(t) else t for t in types]
                schema = pa.schema([pa.field(n, t) for n, t in zip(names, types)])
                first_batch = rows_to_batch(first, names, types)

                mixed: list[MixedColumn] = []

                def batches() -> Iterator[pa.RecordBatch]:
                    rows = first
                    batch = first_batch
                    while True:
                        if fetch_index is not None and rows:
                            newest[0] = _newest(newest[0], rows, fetch_index)
                        if batch.num_rows:
                            yield batch
                        ctx.cancel.check()
                        try:
                            rows = fetchmany(chunk_rows)
                            if not rows:
                                return
                            batch = rows_to_batch(rows, names, types)
                        except MixedColumn as exc:  # storage reports it as its own error: keep the words
                            mixed.append(exc)
                            raise

                try:
                    written = ctx.storage.write_arrow(table["output"],
                                                      pa.RecordBatchReader.from_batches(schema, batches()),
                                                      incremental=bool(table.get("incremental") or fetch_col),
                                                      primary_key=table.get("primary_key", []), cancel=ctx.cancel)
                except KbcError:
                    if mixed:
                        raise mixed[0] from None
                    raise
                finally:
                    stop_query()
                result.close()
        except (ComponentError, Cancelled):
            raise
        except MixedColumn as exc:
            raise ComponentError(_mixed_message(exc, table, engine.dialect.name)) from None
        except Exception as exc:
            if ctx.cancel.cancelled:  # the query was stopped on purpose: the job was cancelled
                raise Cancelled(ctx.cancel.reason) from None
            if isinstance(exc, KbcError):
                raise ComponentError(str(exc)) from None
            if isinstance(exc, sa.exc.SQLAlchemyError):
                raise ComponentError(describe_error(exc, url)) from None
            raise
        return _finish(ctx, table, state, newest[0], written, source, last, "")


_SQLITE_KINDS = {"integer": "integers", "real": "real numbers", "text": "text", "blob": "binary values"}


def _diagnose_sqlite(conn, statement, reflected, dialect) -> MixedColumn | None:
    """After SQLAlchemy failed to read a SQLite row: the first value its column's type cannot read, and the
    kinds of values (SQLite storage classes) that column holds. Only on the failure path (reads the rows again)."""
    sql = str(statement.compile(dialect=dialect, compile_kwargs={"literal_binds": True}))
    processors = [c.type.dialect_impl(dialect).result_processor(dialect, None) for c in reflected.columns]
    cursor = conn.connection.dbapi_connection.cursor()
    try:
        cursor.execute(sql)
        while rows := cursor.fetchmany(10_000):
            for row in rows:
                for column, process, value in zip(reflected.columns, processors, row):
                    if process is None or value is None:
                        continue
                    try:
                        process(value)
                    except Exception:
                        name = column.name.replace('"', '""')
                        cursor.execute(f'SELECT DISTINCT typeof("{name}") FROM ({sql}) WHERE "{name}" IS NOT NULL')
                        kinds = [_SQLITE_KINDS.get(r[0], r[0]) for r in cursor.fetchall()]
                        return MixedColumn(column.name, kinds, value, str(column.type))
    finally:
        cursor.close()
    return None


def _mixed_message(exc: MixedColumn, table: dict, dialect: str) -> str:
    """What a column of mixed value types holds, and the query that reads it (as text) instead."""
    allows = " (SQLite allows that)" if dialect == "sqlite" else ""
    where = "in its custom query" if table.get("query") else f"in table {table['table']!r}"
    col = exc.name
    quoted = '"' + col.replace('"', '""') + '"' if not col.isidentifier() else col
    if table.get("query"):
        hint = f"cast it in the query: SELECT CAST({quoted} AS TEXT) AS {quoted}, …"
    else:
        hint = (f"cast it in a query instead of 'table': query = \"SELECT CAST({quoted} AS TEXT) AS {quoted}, … "
                f"FROM {table['table']}\" (or fix the values in the database)")
    return (f"column {col!r} {where} holds {' and '.join(exc.kinds) or 'values'}{allows}, e.g. {exc.example!r}, "
            f"which cannot be stored as its type {exc.type}; {hint}")


def _finish(ctx: RunContext, table: dict, state: dict, newest: Any, written: int, source: str, last: Any,
            how: str) -> int:
    """Keep the newest incremental value as state and log what was loaded; returns rows written."""
    fetch_col = table.get("incremental_fetching_column")
    if fetch_col and newest is not None:
        state[table["name"]] = _to_state(newest)
    mode = "incremental" if (table.get("incremental") or fetch_col) else "full"
    since = f" since {fetch_col} >= {last}" if fetch_col and last is not None else ""
    ctx.log.info(f"{source} -> {table['output']}: {written:,} rows ({mode}{since}{how})")
    return written


def params_generic(table: dict) -> bool:
    """``fast = false`` in a table's settings forces the generic (row by row) path."""
    return table.get("fast") is False


def _newest(current: Any, rows: list, index: int) -> Any:
    values = [r[index] for r in rows if r[index] is not None]
    if not values:
        return current
    top = max(values)
    return top if current is None or top > current else current


def _to_state(value: Any) -> Any:
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    return value


def _since(column: Any, last: Any, dialect: str) -> Any:
    """``column >= last``. SQLite keeps dates as text in any format: compare them as Julian days."""
    import sqlalchemy as sa

    if dialect == "sqlite" and isinstance(column.type, (sa.DateTime, sa.Date)) and isinstance(last, str):
        return sa.func.julianday(column) >= sa.func.julianday(last.replace("T", " "))
    return column >= _from_state(last, column.type)


def _from_state(value: Any, sa_type: Any) -> Any:
    import sqlalchemy as sa

    if isinstance(value, str):
        try:
            if isinstance(sa_type, sa.DateTime):
                return dt.datetime.fromisoformat(value)
            if isinstance(sa_type, sa.Date):
                return dt.date.fromisoformat(value)
            if isinstance(sa_type, sa.Numeric):
                return decimal.Decimal(value)
        except ValueError:
            pass
    return value


def test_connection(parameters: dict[str, Any], project_root) -> str:
    """Connect and run ``SELECT 1``; return a one-line success message or raise ComponentError."""
    import sqlalchemy as sa

    url = make_url(parameters["url"], parameters.get("#password"), project_root)
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    except sa.exc.SQLAlchemyError as exc:
        raise ComponentError(describe_error(exc, url)) from None
    finally:
        engine.dispose()
    return f"connected to {url.drivername.split('+')[0]} at {url.host or url.database}"


def _extract_copy(ctx: RunContext, url, reflected, table: dict, state: dict, duck_types: list[str],
                  source: str, last: Any) -> int:
    """PostgreSQL: COPY streams through a named pipe into storage's CSV reader (see ``_pg_copy``)."""
    from kbc_tui.components import _pg_copy
    from kbc_tui.components._feed import Feed

    fetch_col = table.get("incremental_fetching_column")
    newest: list[Any] = [None]

    def inspect(con, stage: str) -> None:
        if fetch_col:
            newest[0] = con.execute(f'SELECT max("{fetch_col}") FROM {stage}').fetchall()[0][0]

    with Feed(ctx.scratch_dir) as feed:
        feed.start(lambda out: _pg_copy.copy_to(ctx, url, reflected, fetch_col, last, out))
        try:
            written = feed.load(ctx.storage.write_select, table["output"],
                                _pg_copy.select_sql(feed.path, reflected, duck_types),
                                incremental=bool(table.get("incremental") or fetch_col),
                                primary_key=table.get("primary_key", []), cancel=ctx.cancel,
                                inspect=feed.inspect(inspect))
        except (Cancelled, KbcError):
            raise
        except Exception as exc:  # the copy failed (psycopg's errors): say it in words
            if ctx.cancel.cancelled:
                raise Cancelled(ctx.cancel.reason) from None
            raise ComponentError(f"postgresql at {url.host}:{url.port or 5432}: {' '.join(str(exc).split())[:300]}") \
                from None
    return _finish(ctx, table, state, newest[0], written, source, last, "; COPY")


def _extract_arrow(ctx: RunContext, url, sql: str, reflected, types: list, table: dict, state: dict, source: str,
                   last: Any, read_batches: Any = None) -> int:
    """MySQL / MariaDB (and SQLite: ``read_batches`` of ``_sqlite_arrow``): ConnectorX streams Arrow batches,
    storage loads them (see ``_mysql_arrow``)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    from kbc_tui.components import _mysql_arrow

    fetch_col = table.get("incremental_fetching_column")
    schema = pa.schema([pa.field(c.name, t) for c, t in zip(reflected.columns, types)])
    newest: list[Any] = [None]
    failure: list[BaseException] = []

    def batches() -> Iterator[pa.RecordBatch]:
        try:
            for batch in (read_batches or _mysql_arrow.read_batches)(url, sql, schema, ctx.cancel):
                if fetch_col:
                    newest[0] = _newest(newest[0], [(pc.max(batch.column(fetch_col)).as_py(),)], 0)
                yield batch
        except Exception as exc:  # storage reports it as its own error: keep the words of the real one
            failure.append(exc)
            raise

    try:
        written = ctx.storage.write_arrow(table["output"], pa.RecordBatchReader.from_batches(schema, batches()),
                                          incremental=bool(table.get("incremental") or fetch_col),
                                          primary_key=table.get("primary_key", []), cancel=ctx.cancel)
    except KbcError:
        if failure:
            raise failure[0] from None
        raise
    return _finish(ctx, table, state, newest[0], written, source, last, "; ConnectorX")


COMPONENT = DbExtractor()
