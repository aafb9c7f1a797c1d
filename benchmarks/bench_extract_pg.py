"""extract_pg: 1,000,000 rows x 10 mixed columns from PostgreSQL into storage by the db-extractor, as a ratio
of our throughput to the raw tools' throughput on the same table in the same run. Goal (issue 11): >= 0.8.
``python benchmarks/run.py extract_pg [ROWS] [--generic] [--runs N]`` (``--generic``: the SQLAlchemy row path;
each side is timed N times, default 3, alternating, and the medians are compared).

Ours: a whole `db-extractor` job through the engine (engine start and stop included), wall time.

Baseline (independent of our code): ``psql -c "\\copy (SELECT * FROM t) TO 'file' WITH (FORMAT csv, HEADER)"``
(a new psql process, its connection included), then DuckDB ``CREATE TABLE t AS SELECT * FROM read_csv(file)``
in a new database file, timed together. Why it is the fastest honest one: psql's ``\\copy`` is PostgreSQL's own
client streaming COPY's CSV straight to a file in C, and DuckDB's parallel CSV reader is the fastest way
into DuckDB (it beats reading the rows through a driver); ``read_csv`` is timed both with type sniffing and with
the table's exact column types given (no sniffing), and the faster counts. Both produce a typed DuckDB table
of the same rows, as the extractor does.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

from _common import PG_URL, compare_extract, drop_pg_table, duckdb_load, make_pg_table, timed

ROWS = 1_000_000
TABLE = "kbc_bench_extract"
TYPES = ("{'id': 'INTEGER', 'small': 'SMALLINT', 'big': 'BIGINT', 'amount': 'DECIMAL(14,2)', 'ratio': 'DOUBLE', "
         "'flag': 'BOOLEAN', 'day': 'DATE', 'at': 'TIMESTAMP', 'at_tz': 'TIMESTAMPTZ', 'label': 'VARCHAR'}")


def raw_path(tmp: Path, rows: int) -> tuple[float, float, float]:
    """(psql \\copy s, read_csv with sniffing s, read_csv with the exact types s)."""
    csv = tmp / "raw.csv"
    t0 = time.perf_counter()
    copy = subprocess.run(["psql", "-X", "-q", "-h", "127.0.0.1", "-U", "postgres", "-d", "test",
                           "-v", "ON_ERROR_STOP=1",
                           "-c", f"\\copy (SELECT * FROM {TABLE}) TO '{csv}' WITH (FORMAT csv, HEADER)"],
                          capture_output=True, text=True)
    export = time.perf_counter() - t0
    assert copy.returncode == 0, copy.stderr
    sniff, n1 = timed(duckdb_load, tmp / "raw.duckdb", f"SELECT * FROM read_csv('{csv}')")
    typed, n2 = timed(duckdb_load, tmp / "raw.duckdb",
                      f"SELECT * FROM read_csv('{csv}', header = true, auto_detect = false, columns = {TYPES})")
    assert n1 == n2 == rows, (n1, n2)
    csv.unlink()
    return export, sniff, typed


def main(argv: list[str]) -> tuple[float, str]:
    generic = "--generic" in argv
    runs = int(argv[argv.index("--runs") + 1]) if "--runs" in argv else 3
    argv = [a for i, a in enumerate(argv) if not a.startswith("--") and (i == 0 or argv[i - 1] != "--runs")]
    return compare_extract(int(argv[0]) if argv else ROWS, PG_URL, TABLE, make_pg_table, drop_pg_table, raw_path,
                           "psql \\copy", {"fast": False} if generic else None, runs)
