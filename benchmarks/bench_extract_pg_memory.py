"""extract_pg_memory: peak RSS (MB) of a `kbc-tui run` process extracting 5,000,000 rows x 10 columns from
PostgreSQL into storage. Measured as the child's ru_maxrss. Goal (issue 4): <= 400 MB.
"""

from __future__ import annotations

import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import PG_URL, drop_pg_table, make_pg_table, project, write_config

ROWS = 5_000_000
TABLE = "kbc_bench_memory"


def main(argv: list[str]) -> tuple[float, str]:
    rows = int(argv[0]) if argv else ROWS
    generic = "--generic" in argv
    make_pg_table(TABLE, rows)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            root = project(Path(tmp) / "p")
            write_config(root, "db-extractor", "pg", {"url": PG_URL, "tables": [
                {"name": "t", "table": TABLE, "output": "in.c-bench.t", **({"fast": False} if generic else {})}]})
            before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
            t0 = time.perf_counter()
            out = subprocess.run([sys.executable, "-m", "kbc_tui", "run", "run-db-extractor-pg", "--project", str(root)],
                                 capture_output=True, text=True)
            took = time.perf_counter() - t0
            peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
            assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
            assert peak_kb >= before
    finally:
        drop_pg_table(TABLE)
    peak_mb = peak_kb / 1024
    print(f"rows: {rows:,} x 10 columns ({'generic row path' if generic else 'COPY path'})")
    print(f"kbc-tui run: {took:.1f} s")
    print(f"peak RSS of the kbc-tui process: {peak_mb:.0f} MB")
    return round(peak_mb, 1), "MB"
