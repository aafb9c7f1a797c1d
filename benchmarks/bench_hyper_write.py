"""hyper_write: a 1,000,000-row table from storage to a .hyper extract by the tableau-writer, as a ratio of
throughput to Hyper's own ``COPY FROM`` of the same data as CSV (the CSV export is not timed).
Goal (issue 4): >= 0.5.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from _common import project, run_config

ROWS = 1_000_000


def main(argv: list[str]) -> tuple[float, str]:
    from tableauhyperapi import (Connection, CreateMode, HyperProcess, SqlType, TableDefinition, TableName,
                                 Telemetry, escape_string_literal)

    from kbc_tui.storage.duckdb_storage import DuckDBStorage

    rows = int(argv[0]) if argv else ROWS
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        root = project(tmp / "p")
        storage = DuckDBStorage(root / ".kbc" / "storage.duckdb")
        storage.write_select("out.c-bench.sales", f"""
            SELECT range AS id, (range % 32000)::SMALLINT AS small, (range * 1.25)::DECIMAL(14,2) AS amount,
                   range / 7.0 AS ratio, range % 2 = 0 AS flag, DATE '2020-01-01' + (range % 2000)::INT AS day,
                   TIMESTAMP '2026-01-01' + range * INTERVAL 1 SECOND AS at, 'customer ' || range AS label
            FROM range({rows})""")
        csv = tmp / "sales.csv"
        with storage.connect() as con:
            con.execute(f"COPY \"out.c-bench\".sales TO '{csv}' (HEADER false)")
        # Hyper's own path: CREATE TABLE with the same types, COPY FROM the CSV
        with HyperProcess(Telemetry.DO_NOT_SEND_USAGE_DATA_TO_TABLEAU,
                          parameters={"log_dir": str(tmp), "default_database_version": "4"}) as hyper:
            t0 = time.perf_counter()
            with Connection(hyper.endpoint, str(tmp / "raw.hyper"), CreateMode.CREATE_AND_REPLACE) as conn:
                conn.catalog.create_schema("Extract")
                table = TableDefinition(TableName("Extract", "Extract"), [
                    TableDefinition.Column("id", SqlType.big_int()), TableDefinition.Column("small", SqlType.small_int()),
                    TableDefinition.Column("amount", SqlType.numeric(14, 2)),
                    TableDefinition.Column("ratio", SqlType.double()), TableDefinition.Column("flag", SqlType.bool()),
                    TableDefinition.Column("day", SqlType.date()), TableDefinition.Column("at", SqlType.timestamp()),
                    TableDefinition.Column("label", SqlType.text())])
                conn.catalog.create_table(table)
                count = conn.execute_command(f"COPY {table.table_name} FROM {escape_string_literal(str(csv))} "
                                             "WITH (format csv)")
            raw = time.perf_counter() - t0
        assert count == rows
        t0 = time.perf_counter()
        job, _, _ = run_config(root, "tableau-writer", "t", {"output_dir": "out", "tables": [
            {"source": "out.c-bench.sales"}]})
        ours = time.perf_counter() - t0
        assert job.status.value == "success", job.message
        assert job.tasks[0].rows == rows
    ratio = raw / ours
    print(f"rows: {rows:,} x 8 columns")
    print(f"Hyper COPY FROM csv (table creation included): {raw:.2f} s")
    print(f"tableau-writer from storage (whole job, Hyper start included): {ours:.2f} s, "
          f"task {job.tasks[0].duration_s:.2f} s")
    print(f"ratio: {ratio:.2f}")
    return ratio, "ratio"
