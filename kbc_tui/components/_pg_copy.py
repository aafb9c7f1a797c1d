"""Fast path for PostgreSQL tables: ``COPY (SELECT …) TO STDOUT`` streams into a named pipe that storage reads
at the same time with DuckDB's CSV reader and explicit column types (from the table's definition; see
``_feed``): no Python object per value, no file on disk, the copy and the load overlap.

Used only when every column has a type it can carry exactly (numbers, decimals, booleans, dates,
timestamps with and without zone, text); otherwise the extractor's generic path runs. PostgreSQL
quotes empty strings in CSV and leaves NULL unquoted, so both survive.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kbc_tui.components._feed import CSV_BUFFER
from kbc_tui.components.base import RunContext


def duckdb_type(sa_type: Any) -> str | None:
    import sqlalchemy as sa

    t = sa_type
    if isinstance(t, sa.Boolean):
        return "BOOLEAN"
    if isinstance(t, sa.SmallInteger):
        return "SMALLINT"
    if isinstance(t, sa.Integer):
        return "BIGINT"
    if isinstance(t, sa.Numeric) and not isinstance(t, sa.Float):
        precision = t.precision or 38
        scale = t.scale if t.scale is not None else (0 if t.precision else 9)
        return f"DECIMAL({min(precision, 38)},{scale})" if precision <= 38 else None
    if isinstance(t, (sa.Float, sa.REAL)):
        return "DOUBLE"
    if isinstance(t, sa.DateTime):
        return "TIMESTAMPTZ" if t.timezone else "TIMESTAMP"
    if isinstance(t, sa.Date):
        return "DATE"
    if isinstance(t, sa.Time) and not getattr(t, "timezone", False):
        return "TIME"
    if isinstance(t, (sa.String, sa.Text)) and not isinstance(t, sa.Enum):
        return "VARCHAR"
    return None


def copy_types(reflected) -> list[str] | None:
    types = [duckdb_type(c.type) for c in reflected.columns]
    return None if any(t is None for t in types) else types


def copy_to(ctx: RunContext, url, reflected, fetch_col: str | None, last: Any, feed: Any) -> None:
    """COPY's CSV into ``feed`` (a ``_feed.Feed``: storage reads it as it comes)."""
    import psycopg
    from psycopg import sql

    columns = sql.SQL(", ").join(sql.Identifier(c.name) for c in reflected.columns)
    source = sql.Identifier(reflected.schema, reflected.name) if reflected.schema else sql.Identifier(reflected.name)
    query = sql.SQL("SELECT {} FROM {}").format(columns, source)
    if fetch_col:
        if last is not None:
            query = query + sql.SQL(" WHERE {} >= {}").format(sql.Identifier(fetch_col), sql.Literal(last))
        query = query + sql.SQL(" ORDER BY {}").format(sql.Identifier(fetch_col))
    copy = sql.SQL("COPY ({}) TO STDOUT WITH (FORMAT csv)").format(query)
    conninfo = url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(conninfo, connect_timeout=10) as conn:
        stop_query = ctx.cancel.on_cancel(conn.cancel)  # a COPY waiting on a lock stops on cancel too
        try:
            conn.execute("SET TIME ZONE 'UTC'")
            with conn.cursor() as cur, cur.copy(copy):
                _stream_rows(ctx, conn.pgconn, conn.info.encoding, feed)
        finally:
            stop_query()


def _stream_rows(ctx: RunContext, pgconn, encoding: str, feed: Any) -> None:
    """Write COPY's rows into the feed, reading them with libpq's own ``PQgetCopyData`` (psycopg's documented
    low-level ``pgconn``): COPY gives one row per call, and psycopg's ``Copy.read`` costs about as much again
    per row as this whole loop. Raises the server's error if the COPY failed."""
    import select

    from psycopg import errors, pq

    write, get = feed.open().write, pgconn.get_copy_data
    n = 0
    while True:
        nbytes, data = get(1)
        if nbytes > 0:
            write(data)
            n += 1
            if not n & 0x3FFF:
                ctx.cancel.check()
                feed.check()
        elif nbytes == 0:  # nothing received yet: wait for the server (and look at cancel every second)
            select.select([pgconn.socket], [], [], 1.0)
            pgconn.consume_input()
            ctx.cancel.check()
        else:  # -1: the COPY has ended; its result says how
            break
    while (result := pgconn.get_result()) is not None:
        if result.status != pq.ExecStatus.COMMAND_OK:
            raise errors.error_from_result(result, encoding=encoding)


def select_sql(path: Path, reflected, types: list[str]) -> str:
    """The DuckDB ``SELECT`` that reads the copied file with the table's exact types."""
    spec = "{" + ", ".join(f"'{c.name.replace(chr(39), chr(39) * 2)}': '{t}'"
                           for c, t in zip(reflected.columns, types)) + "}"
    literal = "'" + str(path).replace("'", "''") + "'"
    return (f"SELECT * FROM read_csv({literal}, header = false, delim = ',', quote = '\"', escape = '\"', "
            f"columns = {spec}, allow_quoted_nulls = false, auto_detect = false, buffer_size = {CSV_BUFFER})")
