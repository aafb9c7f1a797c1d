"""Helpers shared by benchmarks: a temporary project, running one component configuration, peak RSS."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.helpers.components import run_config, write_config  # noqa: E402,F401
from tests.helpers.demo import copy_demo  # noqa: E402,F401  (the demo as committed)
from tests.helpers.projects import project  # noqa: E402,F401

#: seconds an app gets to end after its tmux session is killed before ``kill_tmux_session`` SIGKILLs it
REAP_SECONDS = 10.0


def kill_tmux_session(session: str, timeout: float = REAP_SECONDS) -> list[int]:
    """``tmux kill-session``, then wait for the processes that ran in its panes (and their children) to end;
    SIGKILL those still alive after ``timeout`` s, so that no app outlives its benchmark holding its project's
    runner lock (kbc-tui issue 11). Returns the pids that had to be killed."""
    import subprocess

    import psutil

    listed = subprocess.run(["tmux", "list-panes", "-s", "-t", session, "-F", "#{pane_pid}"], capture_output=True,
                            text=True).stdout.split()
    procs = []
    for pid in listed:
        try:
            pane = psutil.Process(int(pid))
            procs += [pane, *pane.children(recursive=True)]
        except (psutil.Error, ValueError):
            pass
    subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True)
    _, alive = psutil.wait_procs(procs, timeout=timeout)
    for proc in alive:
        try:
            proc.kill()
        except psutil.Error:
            pass
    psutil.wait_procs(alive, timeout=5)
    if alive:
        print(f"kill_tmux_session: {session}: SIGKILLed {[p.pid for p in alive]} ({timeout:g} s after the "
              f"session was killed)", file=sys.stderr)
    return [p.pid for p in alive]


PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"

MIXED_10 = ("g AS id, (g % 32000)::smallint AS small, g::bigint * 1000 AS big, (g * 1.25)::numeric(14,2) AS amount, "
            "g / 7.0::float8 AS ratio, (g % 2 = 0) AS flag, date '2020-01-01' + (g % 2000) AS day, "
            "timestamp '2026-01-01' + g * interval '1 second' AS at, "
            "timestamptz '2026-01-01 00:00+00' + g * interval '1 second' AS at_tz, 'customer ' || g AS label")


def make_pg_table(name: str, rows: int) -> None:
    import psycopg

    with psycopg.connect("postgresql://postgres@127.0.0.1:5432/test", autocommit=True) as conn:
        conn.execute(f"DROP TABLE IF EXISTS {name}")
        conn.execute(f"CREATE TABLE {name} AS SELECT {MIXED_10} FROM generate_series(1, {rows}) g")


def drop_pg_table(name: str) -> None:
    import psycopg

    with psycopg.connect("postgresql://postgres@127.0.0.1:5432/test", autocommit=True) as conn:
        conn.execute(f"DROP TABLE IF EXISTS {name}")


MYSQL_URL = "mysql+pymysql://root@127.0.0.1:3306/test"

#: the same 10 columns as MIXED_10, in MariaDB (its Sequence engine makes the rows)
MYSQL_MIXED_10 = ("(id BIGINT PRIMARY KEY, small SMALLINT, big BIGINT, amount DECIMAL(14,2), ratio DOUBLE, "
                  "flag BOOLEAN, day DATE, at DATETIME(6), at_tz TIMESTAMP(6) NULL, label VARCHAR(64))")
MYSQL_MIXED_SELECT = ("SELECT seq, seq % 32000, seq * 1000, seq * 1.25, seq / 7e0, seq % 2 = 0, "
                      "DATE '2020-01-01' + INTERVAL (seq % 2000) DAY, "
                      "TIMESTAMP '2026-01-01 00:00:00' + INTERVAL seq SECOND, "
                      "TIMESTAMP '2026-01-01 00:00:00' + INTERVAL seq SECOND, "
                      "CONCAT('customer ', seq) FROM seq_1_to_{rows}")


def make_mysql_table(name: str, rows: int) -> None:
    import pymysql

    with pymysql.connect(host="127.0.0.1", user="root", database="test", autocommit=True) as conn:
        with conn.cursor() as cur:
            cur.execute(f"DROP TABLE IF EXISTS {name}")
            cur.execute(f"CREATE TABLE {name} {MYSQL_MIXED_10}")
            cur.execute(f"INSERT INTO {name} {MYSQL_MIXED_SELECT.format(rows=rows)}")


def drop_mysql_table(name: str) -> None:
    import pymysql

    with pymysql.connect(host="127.0.0.1", user="root", database="test", autocommit=True) as conn:
        with conn.cursor() as cur:
            cur.execute(f"DROP TABLE IF EXISTS {name}")


def timed(fn, *args):
    """``(seconds, result)`` of ``fn(*args)``."""
    import time

    t0 = time.perf_counter()
    result = fn(*args)
    return time.perf_counter() - t0, result


def duckdb_load(db: Path, select: str) -> int:
    """``CREATE TABLE t AS <select>`` in a new DuckDB file (as a user of DuckDB would); returns the row count."""
    import duckdb

    db.unlink(missing_ok=True)
    con = duckdb.connect(str(db))
    try:
        con.execute(f"CREATE TABLE t AS {select}")
        return con.execute("SELECT count(*) FROM t").fetchall()[0][0]
    finally:
        con.close()


def run_peak_rss(root: Path, orchestration: str) -> tuple[float, float]:
    """Run ``kbc-tui run ORCHESTRATION`` as a child process: (seconds, the child's peak RSS in MB)."""
    import resource
    import subprocess
    import time

    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    t0 = time.perf_counter()
    out = subprocess.run([sys.executable, "-m", "kbc_tui", "run", orchestration, "--project", str(root)],
                         capture_output=True, text=True)
    took = time.perf_counter() - t0
    peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    assert peak_kb >= before  # ru_maxrss of children is the largest of them: run each benchmark alone
    return took, peak_kb / 1024


def compare_extract(rows: int, url: str, table: str, make, drop, raw_path, tool: str,
                    extra: dict | None = None, runs: int = 3) -> tuple[float, str]:
    """The ratio of a whole db-extractor job's throughput to the raw tools' on the same table (made by
    ``make(table, rows)``): ``raw_path(tmp, rows)`` returns (export s, read_csv with sniffing s, with types s).
    Each side runs ``runs`` times, alternating, and the medians are compared."""
    import tempfile
    import time
    from statistics import median

    exports, sniffs, typeds, ours, tasks = [], [], [], [], []
    make(table, rows)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            tmp = Path(tmp)
            for run in range(runs):  # alternating, so that both sides see the same machine
                export, sniff, typed = raw_path(tmp, rows)
                exports.append(export), sniffs.append(sniff), typeds.append(typed)
                root = project(tmp / f"p{run}")
                t0 = time.perf_counter()
                job, storage, _ = run_config(root, "db-extractor", "src", {"url": url, "tables": [
                    {"name": "t", "table": table, "output": "in.c-bench.t", **(extra or {})}]})
                ours.append(time.perf_counter() - t0)
                assert job.status.value == "success", job.message
                assert storage.table("in.c-bench.t").rows == rows
                tasks.append(job.tasks[0].duration_s)
    finally:
        drop(table)
    export, read = median(exports), min(median(sniffs), median(typeds))
    raw = export + read
    ratio = raw / median(ours)
    print(f"rows: {rows:,} x 10 columns; medians of {runs} alternating runs")
    print(f"baseline: {tool} to a file {export:.2f} s + DuckDB read_csv {read:.2f} s "
          f"(sniffing {median(sniffs):.2f} s, exact types {median(typeds):.2f} s) = {raw:.2f} s "
          f"({rows / raw:,.0f} rows/s)")
    print(f"kbc-tui db-extractor job ({'generic row path, ' if extra else ''}whole job, engine start included): "
          f"{median(ours):.2f} s, task {median(tasks):.2f} s ({rows / median(ours):,.0f} rows/s)")
    print(f"ratio (our throughput / baseline throughput): {ratio:.2f}")
    return ratio, "ratio"
