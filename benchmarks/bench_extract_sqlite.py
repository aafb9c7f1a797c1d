"""extract_sqlite: 1,000,000 rows x 10 mixed columns from a SQLite file into storage by the db-extractor, as a ratio
of our throughput to the raw tools' throughput on the same file in the same run. Goal: >= 0.5.
``python benchmarks/run.py extract_sqlite [ROWS] [--generic] [--runs N]`` (``--generic``: the SQLAlchemy row path;
each side is timed N times, default 3, alternating, and the medians are compared).

Ours: a whole `db-extractor` job through the engine (engine start and stop included), wall time; by default the
fast path (ConnectorX reads the file into Arrow batches).

Baseline (independent of our code): the ``sqlite3`` command-line shell ``-csv -header "SELECT * FROM t" > file``
(a new process opening the file), then DuckDB ``CREATE TABLE t AS SELECT * FROM read_csv(file)`` in a new database
file, timed together. Why it is the fastest honest one: the sqlite3 shell is SQLite's own C program writing its
CSV export straight to a file, and DuckDB's parallel CSV reader is the fastest way into DuckDB; ``read_csv`` is
timed with type sniffing and with the exact column types given, and the faster counts. Both produce a typed table.
(DuckDB's own sqlite extension would be faster still, but it is downloaded at first use: not available offline.)
"""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
import tempfile
import time
from pathlib import Path

from _common import compare_extract, duckdb_load, timed

ROWS = 1_000_000
TABLE = "kbc_bench_extract"
TYPES = ("{'id': 'BIGINT', 'small': 'SMALLINT', 'big': 'BIGINT', 'amount': 'DECIMAL(14,2)', 'ratio': 'DOUBLE', "
         "'flag': 'TINYINT', 'day': 'DATE', 'at': 'TIMESTAMP', 'at_tz': 'TIMESTAMP', 'label': 'VARCHAR'}")
DIR = Path(tempfile.mkdtemp(prefix="kbc-bench-sqlite-"))
DB = DIR / "source.sqlite"


def make_table(name: str, rows: int) -> None:
    """The same 10 columns as the MariaDB and PostgreSQL benchmarks, as SQLite keeps them (dates as text)."""
    DB.unlink(missing_ok=True)
    con = sqlite3.connect(DB)
    try:
        con.execute(f"CREATE TABLE {name} (id INTEGER PRIMARY KEY, small SMALLINT, big BIGINT, amount DECIMAL(14,2), "
                    "ratio DOUBLE, flag BOOLEAN, day DATE, at DATETIME, at_tz TIMESTAMP, label VARCHAR(64))")
        con.execute(f"INSERT INTO {name} WITH RECURSIVE g(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM g "
                    f"WHERE x < {rows}) SELECT x, x % 32000, x * 1000, round(x * 1.25, 2), x / 7.0, x % 2 = 0, "
                    "date('2020-01-01', '+' || (x % 2000) || ' days'), datetime('2026-01-01', '+' || x || ' seconds'), "
                    "strftime('%Y-%m-%d %H:%M:%f', '2026-01-01', '+' || x || ' seconds'), 'customer ' || x FROM g")
        con.commit()
    finally:
        con.close()


def drop_table(name: str) -> None:
    shutil.rmtree(DIR, ignore_errors=True)


def raw_path(tmp: Path, rows: int) -> tuple[float, float, float]:
    """(sqlite3 -csv export s, read_csv with sniffing s, read_csv with the exact types s)."""
    csv = tmp / "raw.csv"
    t0 = time.perf_counter()
    with csv.open("wb") as out:
        export = subprocess.run(["sqlite3", "-csv", "-header", str(DB), f"SELECT * FROM {TABLE}"], stdout=out,
                                stderr=subprocess.PIPE)
    took = time.perf_counter() - t0
    assert export.returncode == 0, export.stderr
    options = f"'{csv}', header = true"
    sniff, n1 = timed(duckdb_load, tmp / "raw.duckdb", f"SELECT * FROM read_csv({options})")
    typed, n2 = timed(duckdb_load, tmp / "raw.duckdb",
                      f"SELECT * FROM read_csv({options}, auto_detect = false, columns = {TYPES})")
    assert n1 == n2 == rows, (n1, n2)
    csv.unlink()
    return took, sniff, typed


def main(argv: list[str]) -> tuple[float, str]:
    if shutil.which("sqlite3") is None:
        raise SystemExit("the sqlite3 command-line shell is missing (apt-get install sqlite3): it is the baseline")
    generic = "--generic" in argv
    runs = int(argv[argv.index("--runs") + 1]) if "--runs" in argv else 3
    argv = [a for i, a in enumerate(argv) if not a.startswith("--") and (i == 0 or argv[i - 1] != "--runs")]
    return compare_extract(int(argv[0]) if argv else ROWS, f"sqlite:///{DB}", TABLE, make_table, drop_table,
                           raw_path, "sqlite3 -csv", {"fast": False} if generic else None, runs)
