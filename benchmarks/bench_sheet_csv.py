"""sheet_csv: a 50 MB CSV served over local HTTP into storage by the sheet extractor, as a ratio of our throughput to
DuckDB loading the same file from disk into the same table. Goal (issue 11): >= 0.8.

``python benchmarks/run.py sheet_csv [--runs N]``: each side is timed N times (default 3), alternating, and the
medians are compared (one run of each on a busy 2-core machine varies by +-30%).

Ours: a whole `sheet-extractor` job through the engine (engine start and stop included), wall time: the download
over HTTP and the parsing overlap (DuckDB reads the download as it arrives).

Baseline (independent of our code): DuckDB's ``CREATE TABLE t AS SELECT * FROM read_csv(file)`` from the file already
on disk (no download at all), into a new database file, producing the same table as the extractor: every column
text (VARCHAR), as Keboola loads CSV. Timed two ways, the faster counts: the column names and types given (no
sniffing) and ``all_varchar = true`` with sniffing. Why it is the fastest honest one: it is DuckDB's own parallel
CSV reader on a local file, with nothing of ours and no network; a load with sniffed types (numbers, timestamps)
is faster still but makes a different table (``007`` becomes 7), which the extractor may not do, so it is
printed for information only, with the ratio to it.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path
from statistics import median

from _common import ROOT, duckdb_load, project, run_config, timed

sys.path.insert(0, str(ROOT))
from tests.servers.http import LocalServer  # noqa: E402

SIZE = 50 * 1024 * 1024
RUNS = 3
TEXT = ("{'id': 'VARCHAR', 'customer_name': 'VARCHAR', 'amount': 'VARCHAR', 'ordered_at': 'VARCHAR', "
        "'comment': 'VARCHAR'}")


def make_csv(path: Path) -> int:
    rows = 0
    with path.open("w") as fh:
        fh.write("id,customer name,amount,ordered at,comment\n")
        while fh.tell() < SIZE:
            fh.write(f"{rows},Customer {rows % 977},{rows * 1.25:.2f},2026-01-{rows % 28 + 1:02d} 10:00:00,"
                     f"\"note {rows}, with a comma\"\n")
            rows += 1
    return rows


def main(argv: list[str]) -> tuple[float, str]:
    runs = int(argv[argv.index("--runs") + 1]) if "--runs" in argv else RUNS
    given, sniffed, typed, ours, tasks = [], [], [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        csv = tmp / "big.csv"
        rows = make_csv(csv)
        db = tmp / "raw.duckdb"
        with LocalServer() as server:
            server.route("GET", "/big.csv", body=csv, headers={"Content-Type": "text/csv"})
            for run in range(runs):  # alternating, so that both sides see the same machine
                for times, sql in ((given, f"SELECT * FROM read_csv('{csv}', header = true, auto_detect = false, "
                                           f"columns = {TEXT})"),
                                   (sniffed, f"SELECT * FROM read_csv('{csv}', all_varchar = true)"),
                                   (typed, f"SELECT * FROM read_csv('{csv}')")):
                    took, n = timed(duckdb_load, db, sql)
                    assert n == rows, n
                    times.append(took)
                root = project(tmp / f"p{run}")
                t0 = time.perf_counter()
                job, storage, _ = run_config(root, "sheet-extractor", "big", {"url": f"{server.url}/big.csv",
                                                                              "output": "in.c-bench.big"})
                ours.append(time.perf_counter() - t0)
                assert job.status.value == "success", job.message
                assert storage.table("in.c-bench.big").rows == rows
                tasks.append(job.tasks[0].duration_s)
    raw = min(median(given), median(sniffed))
    ratio = raw / median(ours)
    print(f"file: {SIZE / 1048576:.0f} MB, {rows:,} rows; medians of {runs} alternating runs")
    print(f"baseline: DuckDB read_csv from disk into a text table {raw:.2f} s (columns given {median(given):.2f} s, "
          f"all_varchar sniffed {median(sniffed):.2f} s)")
    print(f"for information: DuckDB read_csv with sniffed types (a different table) {median(typed):.2f} s, "
          f"ratio to it {median(typed) / median(ours):.2f}")
    print(f"sheet-extractor over local HTTP into storage (whole job): {median(ours):.2f} s, "
          f"task {median(tasks):.2f} s")
    print(f"ratio (our throughput / baseline throughput): {ratio:.2f}")
    return ratio, "ratio"
