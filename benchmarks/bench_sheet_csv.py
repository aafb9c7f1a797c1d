"""sheet_csv: a 50 MB CSV served over local HTTP into storage by the sheet extractor, as a ratio of
throughput to DuckDB ``read_csv`` of the same file on disk into a table. Goal (issue 4): >= 0.5.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from _common import ROOT, project, run_config

sys.path.insert(0, str(ROOT))
from tests.servers.http import LocalServer  # noqa: E402

SIZE = 50 * 1024 * 1024


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
    import duckdb

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        csv = tmp / "big.csv"
        rows = make_csv(csv)
        t0 = time.perf_counter()
        con = duckdb.connect(str(tmp / "raw.duckdb"))
        con.execute(f"CREATE TABLE t AS SELECT * FROM read_csv('{csv}')")
        assert con.execute("SELECT count(*) FROM t").fetchall()[0][0] == rows
        con.close()
        raw = time.perf_counter() - t0
        root = project(tmp / "p")
        with LocalServer() as server:
            server.route("GET", "/big.csv", body=csv, headers={"Content-Type": "text/csv"})
            t0 = time.perf_counter()
            job, storage, _ = run_config(root, "sheet-extractor", "big", {"url": f"{server.url}/big.csv",
                                                                          "output": "in.c-bench.big"})
            ours = time.perf_counter() - t0
        assert job.status.value == "success", job.message
        assert storage.table("in.c-bench.big").rows == rows
    ratio = raw / ours
    print(f"file: {csv.stat().st_size / 1e6 if False else SIZE / 1048576:.0f} MB, {rows:,} rows")
    print(f"DuckDB read_csv from disk into a table: {raw:.2f} s")
    print(f"sheet-extractor over local HTTP into storage (whole job): {ours:.2f} s, task {job.tasks[0].duration_s:.2f} s")
    print(f"ratio: {ratio:.2f}")
    return ratio, "ratio"
