"""Fast path for SQLite tables: ConnectorX (Rust) reads the file straight into Arrow record batches, streamed
in chunks (memory stays flat), and storage loads them: no Python object per value (about 10x the generic path).

ConnectorX reads each column by its declared type (INTEGER as integers, DATE and TIMESTAMP parsed from
text, …) and every batch is cast to the types the table's definition gives (the generic path's), so both
paths produce the same table. SQLite lets a column hold values of any type (text in an INTEGER column, a
date in a format ConnectorX does not parse): ConnectorX then stops with an error, and the extractor reads
the table again by the generic path (the storage write is atomic: nothing of the failed read is kept),
which reads what it can and says in words what it cannot.

Used only for a table (not a custom query) whose every column has an Arrow type here, with no time zone,
time of day or interval (SQLite keeps them as text in formats ConnectorX does not read), and a URL without
options (``?mode=ro`` and the like are the driver's).
"""

from __future__ import annotations

from typing import Iterator

from kbc_tui.components._mysql_arrow import stream
from kbc_tui.components.base import CancelToken
from kbc_tui.errors import ComponentError

BATCH_ROWS = 10_000


class Unfit(ComponentError):
    """ConnectorX cannot read this table's values: use the generic path (the message says why)."""


def eligible(url, types: list) -> bool:
    import pyarrow as pa

    def ok(t) -> bool:
        return t is not None and (pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_boolean(t)
                                  or pa.types.is_string(t) or pa.types.is_binary(t) or pa.types.is_decimal(t)
                                  or pa.types.is_date32(t) or (pa.types.is_timestamp(t) and t.tz is None))

    return not url.query and all(ok(t) for t in types)


def select_sql(statement, dialect) -> str:
    """The table's ``SELECT`` (with its incremental filter and order) as text."""
    return str(statement.compile(dialect=dialect, compile_kwargs={"literal_binds": True}))


def connection(url) -> str:
    """ConnectorX's url for the (absolute) SQLite file."""
    from urllib.parse import quote

    return "sqlite://" + quote(str(url.database))


def read_batches(url, sql: str, schema, cancel: CancelToken) -> Iterator:
    """Record batches of ``sql``'s rows, each cast to ``schema``; ``Unfit`` (with ConnectorX's reason) when
    ConnectorX cannot read a value."""
    return stream(connection(url), sql, schema, cancel, Unfit)
