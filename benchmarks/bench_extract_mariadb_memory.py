"""extract_mariadb_memory: peak RSS (MB) of a `kbc-tui run` process extracting 5,000,000 rows x 10 mixed columns
from MariaDB into storage (the child's ru_maxrss). No goal of its own: kept under extract_pg_memory's 300 MB, with
storage's default ``memory_limit`` (256MB). ``python benchmarks/run.py extract_mariadb_memory [ROWS] [--generic]`` (``--generic``: the
SQLAlchemy row path). An absolute figure, no baseline: run it with 1,000,000 rows too to see that memory does not
grow with the table.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from _common import MYSQL_URL, drop_mysql_table, make_mysql_table, project, run_peak_rss, write_config

ROWS = 5_000_000
TABLE = "kbc_bench_memory"


def main(argv: list[str]) -> tuple[float, str]:
    generic = "--generic" in argv
    argv = [a for a in argv if a != "--generic"]
    rows = int(argv[0]) if argv else ROWS
    make_mysql_table(TABLE, rows)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            root = project(Path(tmp) / "p")
            write_config(root, "db-extractor", "m", {"url": MYSQL_URL, "tables": [
                {"name": "t", "table": TABLE, "output": "in.c-bench.t", **({"fast": False} if generic else {})}]})
            took, peak_mb = run_peak_rss(root, "run-db-extractor-m")
    finally:
        drop_mysql_table(TABLE)
    print(f"rows: {rows:,} x 10 columns ({'generic row path' if generic else 'ConnectorX path'})")
    print(f"kbc-tui run: {took:.1f} s")
    print(f"peak RSS of the kbc-tui process: {peak_mb:.0f} MB")
    return round(peak_mb, 1), "MB"
