"""storage_after_kills: what 20 killed runs leave behind, after the next runner's recovery.

What it measures: a pipeline like the demo's at scale (extract 2,000,000 rows x 10 columns from
PostgreSQL through the COPY path, transform them with SQL into a second table, write both to Tableau
``.hyper`` extracts) runs once cleanly; its storage file size is the baseline. Then the same job is
started 20 times and each time killed with SIGKILL at a random moment of its run (uniform over the
clean run's duration, seed fixed), as a power cut or the OOM killer would. After the 20th kill a
tiny job takes the runner lock, which runs the recovery. Printed: the storage file size after that
recovery relative to the clean run's (goal <= 1.2), bytes left in ``.kbc/tmp``, partial ``.hyper``
files left in the output folder, and staging tables / scratch schemas left in storage (goal: none).

Why this baseline: the storage after one clean run is the smallest a working project's storage is;
anything above it after the recoveries is what the kills cost and recovery did not give back.
Run: ``python benchmarks/run.py storage_after_kills [ROWS] [KILLS]``.
"""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import PG_URL, drop_pg_table, make_pg_table, project, write_config

ROWS = 2_000_000
KILLS = 20
TABLE = "kbc_bench_kills"


def _run(root: Path, orch: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "kbc_tui", "run", orch, "--project", str(root)],
                          capture_output=True, text=True)


def _leftovers(root: Path) -> tuple[int, int, int]:
    import duckdb

    tmp = root / ".kbc" / "tmp"
    tmp_bytes = sum(p.stat().st_size for p in tmp.rglob("*") if p.is_file()) if tmp.exists() else 0
    partials = len(list((root / "out").glob(".*.tmp"))) if (root / "out").exists() else 0
    con = duckdb.connect(str(root / ".kbc" / "storage.duckdb"), read_only=True)
    try:
        stale = con.execute("SELECT count(*) FROM duckdb_tables() WHERE starts_with(table_name, '__kbc_stage_') "
                            "OR starts_with(schema_name, '_kbc_tx_')").fetchall()[0][0]
    finally:
        con.close()
    return tmp_bytes, partials, stale


def main(argv: list[str]) -> tuple[float, str]:
    rows = int(argv[0]) if argv else ROWS
    kills = int(argv[1]) if len(argv) > 1 else KILLS
    rng = random.Random(20261125)
    make_pg_table(TABLE, rows)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            root = project(Path(tmp) / "p")
            write_config(root, "db-extractor", "pg", {"url": PG_URL, "tables": [
                {"name": "t", "table": TABLE, "output": "in.c-bench.t"}]})
            write_config(root, "sql-transformation", "copy", {
                "script": "create table doubled as select *, amount * 2 as double_amount from t;",
                "input": [{"source": "in.c-bench.t", "destination": "t"}],
                "output": [{"source": "doubled", "destination": "out.c-bench.doubled"}]})
            write_config(root, "tableau-writer", "hyper", {"output_dir": "out", "tables": [
                {"source": "in.c-bench.t"}, {"source": "out.c-bench.doubled"}]})
            write_config(root, "sql-transformation", "tiny", {
                "script": "create table one as select 1 as x;", "output": [{"source": "one",
                                                                            "destination": "out.c-bench.one"}]})
            from kbc_tui.store.toml_io import dumps_toml

            (root / "orchestrations" / "pipeline.toml").write_bytes(dumps_toml({"name": "pipeline", "phases": [
                {"tasks": [{"component": "db-extractor", "config": "pg"}]},
                {"tasks": [{"component": "sql-transformation", "config": "copy"}]},
                {"tasks": [{"component": "tableau-writer", "config": "hyper"}]}]}))
            storage = root / ".kbc" / "storage.duckdb"

            t0 = time.perf_counter()
            out = _run(root, "pipeline")
            clean_s = time.perf_counter() - t0
            assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
            clean = storage.stat().st_size
            for n in range(kills):
                proc = subprocess.Popen([sys.executable, "-m", "kbc_tui", "run", "pipeline", "--project", str(root)],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                time.sleep(rng.uniform(0.5, clean_s))
                proc.send_signal(signal.SIGKILL)
                proc.wait()
            tmp_before, partials_before, _ = _leftovers(root)
            size_before = storage.stat().st_size
            out = _run(root, "run-sql-transformation-tiny")  # takes the lock: recovery runs
            assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
            after = storage.stat().st_size
            tmp_after, partials_after, stale = _leftovers(root)
    finally:
        drop_pg_table(TABLE)
    ratio = after / clean
    print(f"pipeline: {rows:,} rows x 10 columns, PostgreSQL COPY -> SQL -> 2 .hyper files; clean run {clean_s:.1f} s")
    print(f"storage after one clean run: {clean / 1e6:.1f} MB")
    print(f"after {kills} SIGKILLs, before recovery: storage {size_before / 1e6:.1f} MB, .kbc/tmp "
          f"{tmp_before / 1e6:.1f} MB, {partials_before} partial .hyper file(s)")
    print(f"after the next runner's recovery: storage {after / 1e6:.1f} MB ({ratio:.2f}x the clean run), "
          f".kbc/tmp {tmp_after / 1e6:.1f} MB, {partials_after} partial file(s), {stale} staging table(s) / "
          "scratch schema(s)")
    return round(ratio, 3), "x (storage after kills + recovery / after one clean run; goal <= 1.2)"
