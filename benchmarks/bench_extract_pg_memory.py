"""extract_pg_memory: peak RSS (MB) of a `kbc-tui run` process extracting 5,000,000 rows x 10 mixed columns from
PostgreSQL into storage (the child's ru_maxrss). Goal (issue 11): <= 300 MB, with storage's default ``memory_limit``
(256MB). ``python benchmarks/run.py extract_pg_memory [ROWS] [--generic]`` (``--generic``: the SQLAlchemy row path).
An absolute figure, no baseline. The rows stream (nothing of the table is held in Python); what grows with the
table is DuckDB's buffer pool during the write, up to storage's ``memory_limit``: run it with other ROWS to see.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from _common import PG_URL, drop_pg_table, make_pg_table, project, run_peak_rss, write_config

ROWS = 5_000_000
TABLE = "kbc_bench_memory"


def measure(argv: list[str], url: str, make, drop) -> tuple[float, str]:
    """Peak RSS of ``kbc-tui run`` extracting ``TABLE`` (made by ``make(name, rows)``) from the database at ``url``."""
    generic = "--generic" in argv
    argv = [a for a in argv if a != "--generic"]
    rows = int(argv[0]) if argv else ROWS
    make(TABLE, rows)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            root = project(Path(tmp) / "p")
            write_config(root, "db-extractor", "src", {"url": url, "tables": [
                {"name": "t", "table": TABLE, "output": "in.c-bench.t", **({"fast": False} if generic else {})}]})
            took, peak_mb = run_peak_rss(root, "run-db-extractor-src")
    finally:
        drop(TABLE)
    print(f"rows: {rows:,} x 10 columns ({'generic row path' if generic else 'fast path'})")
    print(f"kbc-tui run: {took:.1f} s")
    print(f"peak RSS of the kbc-tui process: {peak_mb:.0f} MB")
    return round(peak_mb, 1), "MB"


def main(argv: list[str]) -> tuple[float, str]:
    return measure(argv, PG_URL, make_pg_table, drop_pg_table)
