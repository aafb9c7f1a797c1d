"""extract_mariadb: 1,000,000 rows x 10 mixed columns from MariaDB into storage by the db-extractor, as a ratio of
our throughput to the raw tools' throughput on the same table in the same run. Goal (issue 17): >= 0.5.
``python benchmarks/run.py extract_mariadb [ROWS] [--generic] [--runs N]`` (``--generic``: the SQLAlchemy row path;
each side is timed N times, default 3, alternating, and the medians are compared).

Ours: a whole `db-extractor` job through the engine (engine start and stop included), wall time.

Baseline (independent of our code): ``mariadb --batch --quick -e "SELECT * FROM t" > file`` (a new client process,
its connection included; ``--quick`` streams rows instead of buffering the result, and is the faster), then DuckDB
``CREATE TABLE t AS SELECT * FROM read_csv(file, delim = '\\t', nullstr = 'NULL')`` in a new database file, timed
together. Why it is the fastest honest one: the mariadb client is MariaDB's own C client writing its tab-separated
export straight to a file, and DuckDB's parallel CSV reader is the fastest way into DuckDB; ``read_csv`` is timed
with type sniffing and with the exact column types given, and the faster counts. Both produce a typed table.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

from _common import MYSQL_URL, compare_extract, drop_mysql_table, duckdb_load, make_mysql_table, timed

ROWS = 1_000_000
TABLE = "kbc_bench_extract"
TYPES = ("{'id': 'BIGINT', 'small': 'SMALLINT', 'big': 'BIGINT', 'amount': 'DECIMAL(14,2)', 'ratio': 'DOUBLE', "
         "'flag': 'TINYINT', 'day': 'DATE', 'at': 'TIMESTAMP', 'at_tz': 'TIMESTAMP', 'label': 'VARCHAR'}")


def raw_path(tmp: Path, rows: int) -> tuple[float, float, float]:
    """(mariadb --batch export s, read_csv with sniffing s, read_csv with the exact types s)."""
    tsv = tmp / "raw.tsv"
    t0 = time.perf_counter()
    with tsv.open("wb") as out:
        export = subprocess.run(["mariadb", "--batch", "--quick", "-h", "127.0.0.1", "-u", "root", "test",
                                 "-e", f"SELECT * FROM {TABLE}"], stdout=out, stderr=subprocess.PIPE)
    took = time.perf_counter() - t0
    assert export.returncode == 0, export.stderr
    options = f"'{tsv}', delim = '\\t', quote = '', escape = '', nullstr = 'NULL', header = true"
    sniff, n1 = timed(duckdb_load, tmp / "raw.duckdb", f"SELECT * FROM read_csv({options})")
    typed, n2 = timed(duckdb_load, tmp / "raw.duckdb",
                      f"SELECT * FROM read_csv({options}, auto_detect = false, columns = {TYPES})")
    assert n1 == n2 == rows, (n1, n2)
    tsv.unlink()
    return took, sniff, typed


def main(argv: list[str]) -> tuple[float, str]:
    generic = "--generic" in argv
    runs = int(argv[argv.index("--runs") + 1]) if "--runs" in argv else 3
    argv = [a for i, a in enumerate(argv) if not a.startswith("--") and (i == 0 or argv[i - 1] != "--runs")]
    return compare_extract(int(argv[0]) if argv else ROWS, MYSQL_URL, TABLE, make_mysql_table, drop_mysql_table,
                           raw_path, "mariadb --batch --quick", {"fast": False} if generic else None, runs)
