"""Fast path for MySQL / MariaDB tables: ConnectorX (Rust) reads the rows straight into Arrow record batches,
streamed in chunks (memory stays flat), and storage loads them: no Python object per value.

ConnectorX is a well-kept library (used by Polars) and, unlike the pure-Python driver, decodes the MySQL
protocol in native code (about 15x faster here). Its decimals are not exact (it rounds to 10 decimal
places and fails above 28 digits), so decimal columns are read as text (``CAST(… AS CHAR)``) and Arrow
parses them into the table's exact ``DECIMAL(p, s)``. Every batch is cast to the types the table's
definition gives (the same as the generic path's), so both paths produce the same table.

Used only when no column is a TIME (MySQL's TIME is a duration up to ±838 hours, stored as an INTERVAL,
which ConnectorX cannot read: it wants a time of day) and the URL has no driver options (``?ssl=…`` and the like are the driver's);
otherwise the extractor's generic path runs.
"""

from __future__ import annotations

from typing import Any, Callable, Iterator

from kbc_tui.components.base import CancelToken
from kbc_tui.errors import ComponentError

BATCH_ROWS = 10_000


def eligible(url, types: list) -> bool:
    import pyarrow as pa

    return not url.query and all(t is not None and not pa.types.is_time(t) and not pa.types.is_duration(t)
                                 for t in types)


def is_time(sa_type: Any) -> bool:
    """MySQL's / MariaDB's TIME: a duration of -838:59:59 to 838:59:59 (the driver gives a timedelta)."""
    import sqlalchemy as sa

    return isinstance(sa_type, sa.Time) and type(sa_type).__module__.startswith("sqlalchemy.dialects.mysql")


def raw_time() -> Any:
    """The column type for a TIME column: the driver's timedelta as it is (stored as an INTERVAL). SQLAlchemy's
    MySQL TIME turns it into a time of day, silently wrapping -01:00:00 to 23:00 and 838:59:59 to 22:59:59."""
    import sqlalchemy as sa

    class MySQLDuration(sa.types.TypeDecorator):
        impl = sa.types.NullType
        cache_ok = True
        is_mysql_duration = True

    return MySQLDuration()


def select_sql(statement, reflected, dialect) -> str:
    """The table's ``SELECT`` (with its incremental filter and order) as text, decimals cast to text."""
    import sqlalchemy as sa

    columns = [sa.cast(c, sa.CHAR).label(c.name) if _is_decimal(c.type) else c for c in reflected.columns]
    statement = statement.with_only_columns(*columns, maintain_column_froms=True)
    return str(statement.compile(dialect=dialect, compile_kwargs={"literal_binds": True}))


def _is_decimal(sa_type: Any) -> bool:
    import sqlalchemy as sa

    return isinstance(sa_type, sa.Numeric) and not isinstance(sa_type, sa.Float)


def read_batches(url, sql: str, schema, cancel: CancelToken) -> Iterator:
    """Record batches of ``sql``'s rows, each cast to ``schema``; ``ComponentError`` in words on failure."""
    conn = url.set(drivername="mysql").render_as_string(hide_password=False)
    where = f"{url.drivername.split('+')[0]} at {url.host}:{url.port or 3306}"
    return stream(conn, sql, schema, cancel, lambda reason: ComponentError(f"{where}: {reason}"))


def stream(conn: str, sql: str, schema, cancel: CancelToken, failed: Callable[[str], Exception]) -> Iterator:
    """ConnectorX's record batches of ``sql`` on ``conn``, each cast to ``schema``, cancel checked between
    batches; any failure (connecting, reading, casting) raises ``failed(reason in one line)``."""
    import connectorx as cx
    import pyarrow as pa

    try:
        reader = cx.read_sql(conn, sql, return_type="arrow_stream", batch_size=BATCH_ROWS)
    except BaseException as exc:  # connectorx raises RuntimeError, and pyo3's PanicException (a BaseException)
        raise failed(_first_line(exc)) from None
    try:
        while True:
            cancel.check()
            try:
                batch = reader.read_next_batch()
            except StopIteration:
                return
            except BaseException as exc:
                raise failed(_first_line(exc)) from None
            try:
                yield pa.RecordBatch.from_arrays([_cast(batch.column(i), f) for i, f in enumerate(schema)],
                                                 schema=schema)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
                raise failed(_first_line(exc)) from None
    finally:
        reader.close()


def _cast(array, field):
    import pyarrow as pa

    try:
        return array.cast(field.type)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise pa.ArrowInvalid(f"column {field.name!r}: cannot keep its values as {field.type} ({_first_line(exc)}); "
                              "convert it in a custom 'query' instead") from None


def _first_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return (text or type(exc).__name__)[:300]
