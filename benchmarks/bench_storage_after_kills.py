"""storage_after_kills: what 20 killed runs leave behind, after the next runner's recovery.

What it measures: a pipeline like the demo's at scale (extract 2,000,000 rows x 10 columns from
PostgreSQL through the COPY path, transform them with SQL into a second table, write both to Tableau
``.hyper`` extracts) runs once cleanly; its storage file size is the baseline. Then the same job is
started 20 times and each time killed with SIGKILL at a random moment of its run (uniform over the
clean run's duration, seed fixed), as a power cut or the OOM killer would. After the 20th kill a
tiny job takes the runner lock, which runs the recovery. Printed: the storage size (file and ``.wal``)
after that recovery relative to the clean run's (the issue's figure; goal <= 1.2), bytes left in
``.kbc/tmp``, partial ``.hyper`` files left in the output folder, and staging tables / scratch schemas left
in storage (goal: none).

Two baselines. One clean run is the issue's. But a killed ``kbc-tui run`` that had queued its job and was
killed before starting it leaves that job queued, and the next runner runs it (the recovering one too): such
runs, and killed runs that got as far as replacing a table, rewrite the tables like clean runs do. DuckDB
writes a replaced table before it frees the old one's blocks, and reuses free blocks rather than shrinking
the file, so a project whose tables were replaced twice is ~1.6x one replaced once, with no leftover at all.
So the figure is also given against a clean project that ran the pipeline as many times as the killed
project's jobs replaced its tables (jobs with at least one successful task; at most 3 — the size stops
growing after 2), with the free blocks of each, and as blocks in use (data, not free space) against the
clean run's: a ratio near 1 there means the kills left nothing behind.
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


def _size(storage: Path) -> int:
    """The storage's bytes on disk: its file and its write-ahead log."""
    wal = storage.with_name(storage.name + ".wal")
    return storage.stat().st_size + (wal.stat().st_size if wal.exists() else 0)


def _free_blocks(storage: Path) -> tuple[int, int]:
    """(free blocks, total blocks) of the storage file."""
    import duckdb

    con = duckdb.connect(str(storage), read_only=True)
    try:
        return tuple(con.execute("SELECT free_blocks, total_blocks FROM pragma_database_size() "
                                 "WHERE database_name = current_database()").fetchall()[0])
    finally:
        con.close()


def _pipeline_runs(root: Path) -> tuple[int, int]:
    """(pipeline jobs that replaced at least one table, pipeline jobs that succeeded), from the job history."""
    import sqlite3

    con = sqlite3.connect(root / ".kbc" / "jobs.sqlite")
    try:
        wrote = con.execute("SELECT count(DISTINCT j.id) FROM jobs j JOIN task_runs t ON t.job_id = j.id "
                            "WHERE j.orchestration = 'pipeline' AND t.status = 'success'").fetchall()[0][0]
        ok = con.execute("SELECT count(*) FROM jobs WHERE orchestration = 'pipeline' AND status = 'success'"
                         ).fetchall()[0][0]
    finally:
        con.close()
    return wrote, ok


def _setup(root: Path) -> Path:
    from kbc_tui.store.toml_io import dumps_toml

    project(root)
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
    (root / "orchestrations" / "pipeline.toml").write_bytes(dumps_toml({"name": "pipeline", "phases": [
        {"tasks": [{"component": "db-extractor", "config": "pg"}]},
        {"tasks": [{"component": "sql-transformation", "config": "copy"}]},
        {"tasks": [{"component": "tableau-writer", "config": "hyper"}]}]}))
    return root


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
            root = _setup(Path(tmp) / "p")
            storage = root / ".kbc" / "storage.duckdb"

            t0 = time.perf_counter()
            out = _run(root, "pipeline")
            clean_s = time.perf_counter() - t0
            assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
            clean = _size(storage)
            clean_free = _free_blocks(storage)
            for n in range(kills):
                proc = subprocess.Popen([sys.executable, "-m", "kbc_tui", "run", "pipeline", "--project", str(root)],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                time.sleep(rng.uniform(0.5, clean_s))
                proc.send_signal(signal.SIGKILL)
                proc.wait()
            tmp_before, partials_before, _ = _leftovers(root)
            size_before = _size(storage)
            out = _run(root, "run-sql-transformation-tiny")  # takes the lock: recovery runs
            assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
            after = _size(storage)
            after_free = _free_blocks(storage)
            tmp_after, partials_after, stale = _leftovers(root)
            wrote, succeeded = _pipeline_runs(root)
            same_runs = max(1, min(wrote, 3))
            twin = _setup(Path(tmp) / "twin")  # a clean project, the pipeline run as often as it replaced tables
            twin_sizes = []
            for _ in range(same_runs):
                out = _run(twin, "pipeline")
                assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
                twin_storage = twin / ".kbc" / "storage.duckdb"
                twin_sizes.append((_size(twin_storage), _free_blocks(twin_storage)))
    finally:
        drop_pg_table(TABLE)
    ratio = after / clean
    print(f"pipeline: {rows:,} rows x 10 columns, PostgreSQL COPY -> SQL -> 2 .hyper files; clean run {clean_s:.1f} s")
    print(f"storage after one clean run: {clean / 1e6:.1f} MB ({clean_free[0]} of {clean_free[1]} blocks free)")
    print(f"after {kills} SIGKILLs, before recovery: storage {size_before / 1e6:.1f} MB, .kbc/tmp "
          f"{tmp_before / 1e6:.1f} MB, {partials_before} partial .hyper file(s)")
    print(f"after the next runner's recovery: storage {after / 1e6:.1f} MB ({ratio:.2f}x the clean run), "
          f".kbc/tmp {tmp_after / 1e6:.1f} MB, {partials_after} partial file(s), {stale} staging table(s) / "
          "scratch schema(s)")
    print(f"after recovery: {after_free[0]} of {after_free[1]} blocks free; the killed project's pipeline jobs: "
          f"{wrote} replaced tables, {succeeded} succeeded")
    for n, (size, (free, total)) in enumerate(twin_sizes, 1):
        print(f"clean project after {n} clean run(s): storage {size / 1e6:.1f} MB ({free} of {total} blocks free)")
    largest = max(size for size, _ in twin_sizes)  # DuckDB truncates the file only when its last blocks are free
    used, clean_used = after_free[1] - after_free[0], clean_free[1] - clean_free[0]
    print(f"after kills + recovery vs the clean project's largest size in {same_runs} clean run(s): "
          f"{after / largest:.2f}x; blocks in use after kills + recovery vs after one clean run: {used} / "
          f"{clean_used} = {used / clean_used:.2f}x (what the kills left behind)")
    return round(ratio, 3), "x (storage after kills + recovery / after one clean run; goal <= 1.2)"
