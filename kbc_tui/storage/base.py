"""The table store behind a small interface (Keboola-style buckets and tables).

Table ids are ``in.c-<bucket>.<table>`` (extracted data) and ``out.c-<bucket>.<table>``
(transformed data). The default implementation is one DuckDB file in ``.kbc/``
(``kbc_tui.storage.duckdb_storage.DuckDBStorage``); with ``[storage] url`` in kbc.toml it is a PostgreSQL
database (``kbc_tui.storage.pg_storage.PostgresStorage``). ``kbc_tui.storage.pg_storage.open_storage(project)``
opens the project's one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Protocol, Sequence

from kbc_tui.errors import KbcError

if TYPE_CHECKING:
    import pyarrow as pa

    from kbc_tui.model.cancel import CancelToken

TABLE_ID = re.compile(r"^(in|out)\.c-([A-Za-z0-9_-]+)\.([A-Za-z0-9_]+)$")


@dataclass(frozen=True)
class TableId:
    stage: str  # "in" | "out"
    bucket: str  # without the "c-" prefix
    name: str

    @property
    def bucket_id(self) -> str:
        return f"{self.stage}.c-{self.bucket}"

    def __str__(self) -> str:
        return f"{self.stage}.c-{self.bucket}.{self.name}"

    @classmethod
    def parse(cls, value: str) -> "TableId":
        m = TABLE_ID.match(value or "")
        if not m:
            raise KbcError(f"invalid table id {value!r}: expected 'in.c-<bucket>.<table>' or "
                           "'out.c-<bucket>.<table>' (letters, digits, '_'; bucket may have '-')")
        return cls(m.group(1), m.group(2), m.group(3))


def quote(name: str) -> str:
    """A SQL identifier, quoted the same way in DuckDB and PostgreSQL."""
    return '"' + name.replace('"', '""') + '"'


def qualified(table: TableId) -> str:
    """``"bucket"."table"``: a bucket is a schema in both storages."""
    return f"{quote(table.bucket_id)}.{quote(table.name)}"


def _tid(value: str | TableId) -> TableId:
    return value if isinstance(value, TableId) else TableId.parse(value)


def check_table_id(value: Any) -> str | None:
    if not isinstance(value, str):
        return "expected a table id string like 'in.c-sales.orders'"
    try:
        TableId.parse(value)
    except KbcError as exc:
        return str(exc)
    return None


@dataclass
class Column:
    name: str
    type: str  # the storage's SQL type name, e.g. BIGINT, DECIMAL(18,2), TIMESTAMP WITH TIME ZONE


@dataclass
class TableInfo:
    id: TableId
    columns: list[Column] = field(default_factory=list)
    rows: int = 0
    primary_key: list[str] = field(default_factory=list)


class Storage(Protocol):
    """What components and the UI use. Every write is atomic: all of it or none of it."""

    #: "duckdb" or "postgresql": where SQL runs (the SQL transformation's ``backend`` must match "postgresql")
    kind: str

    def list_tables(self) -> list[TableInfo]: ...

    def table(self, table_id: str | TableId) -> TableInfo | None: ...

    def preview(self, table_id: str | TableId, limit: int = 100) -> tuple[list[str], list[tuple]]: ...

    def write_arrow(self, table_id: str | TableId, data: "pa.RecordBatchReader | pa.Table | Iterable[pa.RecordBatch]",
                    *, schema: "pa.Schema | None" = None, incremental: bool = False,
                    primary_key: Sequence[str] = (), cancel: "CancelToken | None" = None) -> int:
        """Replace (or, if ``incremental``, upsert by ``primary_key`` into) a table; returns rows written.

        Blocking: call from a thread. Atomic: if anything fails or ``cancel`` fires, the previous
        table is left exactly as it was."""
        ...

    def may_read(self, path: Path) -> bool:
        """Whether the storage's engine may open ``path`` itself (else it gets the bytes through a pipe)."""
        ...

    def write_select(self, table_id: str | TableId, select_sql: str, *, incremental: bool = False,
                     primary_key: Sequence[str] = (), cancel: "CancelToken | None" = None,
                     inspect: Any = None) -> int:
        """Like ``write_arrow`` with rows from a SQL ``SELECT`` run by the storage itself (e.g. ``read_csv``)."""
        ...

    def read_arrow(self, table_id: str | TableId, *, columns: Sequence[str] | None = None,
                   batch_size: int = 100_000) -> "pa.RecordBatchReader":
        """Stream a table as Arrow record batches (for writers). Blocking: call from a thread."""
        ...

    def connect(self) -> Any:
        """A short-lived DuckDB connection context manager (for the SQL transformation and ``write_select``),
        confined to the project's folders. DuckDB storage: a connection to the storage itself (its tables are
        visible); other storages: an empty in-memory DuckDB."""
        ...
