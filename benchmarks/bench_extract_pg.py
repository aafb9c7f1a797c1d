"""extract_pg: 1,000,000 rows x 10 mixed columns from PostgreSQL into storage, as a ratio of our
throughput to the raw path measured in the same run (psycopg ``COPY (...) TO STDOUT`` into a file,
then DuckDB ``read_csv`` into a table). Goal (issue 4): >= 0.5.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from _common import drop_pg_table, make_pg_table, project, run_config, PG_URL

ROWS = 1_000_000
TABLE = "kbc_bench_extract"


def raw_path(tmp: Path) -> float:
    import duckdb
    import psycopg

    t0 = time.perf_counter()
    csv = tmp / "raw.csv"
    with psycopg.connect("postgresql://postgres@127.0.0.1:5432/test") as conn, conn.cursor() as cur:
        with cur.copy(f"COPY (SELECT * FROM {TABLE}) TO STDOUT WITH (FORMAT csv, HEADER)") as copy, csv.open("wb") as fh:
            for chunk in copy:
                fh.write(chunk)
    con = duckdb.connect(str(tmp / "raw.duckdb"))
    con.execute(f"CREATE TABLE t AS SELECT * FROM read_csv('{csv}')")
    count = con.execute("SELECT count(*) FROM t").fetchall()[0][0]
    con.close()
    assert count == ROWS
    return time.perf_counter() - t0


def main(argv: list[str]) -> tuple[float, str]:
    rows = int(argv[0]) if argv else ROWS
    make_pg_table(TABLE, rows)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            tmp = Path(tmp)
            raw = raw_path(tmp) if rows == ROWS else None
            root = project(tmp / "p")
            t0 = time.perf_counter()
            job, storage, _ = run_config(root, "db-extractor", "pg", {"url": PG_URL, "tables": [
                {"name": "t", "table": TABLE, "output": "in.c-bench.t"}]})
            ours = time.perf_counter() - t0
            assert job.status.value == "success", job.message
            assert storage.table("in.c-bench.t").rows == rows
            task = job.tasks[0].duration_s
            raw = raw if raw is not None else raw_path(tmp)
    finally:
        drop_pg_table(TABLE)
    ratio = raw / ours
    print(f"rows: {rows:,} x 10 columns")
    print(f"raw path (COPY to file + DuckDB read_csv): {raw:.2f} s ({rows / raw:,.0f} rows/s)")
    print(f"kbc-tui db-extractor job (whole job, engine start included): {ours:.2f} s, task {task:.2f} s "
          f"({rows / ours:,.0f} rows/s)")
    print(f"ratio (our throughput / raw throughput): {ratio:.2f}")
    return ratio, "ratio"
