"""ui_stall_job: the longest event-loop stall of the real app in a real terminal while the app itself runs a big
job and the user watches it on the job screen: the job extracts 1,000,000 rows from SQLite (the row-by-row
Python path: the worst case for sharing the GIL with the UI) and transforms them with SQL. Goal (issue 5):
<= 50 ms. (Until issue 17 this was ui_stall, measured headless on the home screen.)

What runs: the app (``kbc_tui.cli.main`` in tmux at 120x40; it holds the runner lock, so the job runs in its
process, its blocking work in threads); the user presses ``r`` on the orchestration, then ``J`` and ``enter``
on the job, and stays on its screen with follow on until the job ends. Measured as ui_stall does: a 5 ms
callback on the app's loop records its lateness (max and p99 while the job runs), and ``w`` pressed about
every 0.3 s is timed with tmux until the status line changes.

Baseline: the same app on the same screen once the job has finished (nothing running): the fastest honest
floor, as it contains everything but the job (Textual's frames, the terminal, the probe and the
capture-pane polling, on this machine under its current load). The goal is absolute.

``python benchmarks/run.py ui_stall_job [ROWS]``
"""

from __future__ import annotations

import sqlite3
import tempfile
import time
from pathlib import Path

from _common import project, write_config
from _stall import ProbedTerminal, keys_summary, p99, press_wrap, summary, toggle_wrap, window

from kbc_tui.store.history import JobHistory  # noqa: E402

ROWS = 1_000_000
PRESSES = 10


def make_source(path: Path, rows: int) -> None:
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE orders (id INTEGER PRIMARY KEY, customer INTEGER, amount NUMERIC(12,2), "
               "ordered_at TIMESTAMP, note TEXT)")
    db.executemany("INSERT INTO orders VALUES (?, ?, ?, ?, ?)",
                   ((i, i % 5000, f"{i * 0.37:.2f}", f"2026-01-{i % 28 + 1:02d} 10:00:00", f"order {i}")
                    for i in range(rows)))
    db.commit()
    db.close()


def make_project(root: Path, rows: int) -> None:
    project(root)
    make_source(root / "orders.sqlite", rows)
    write_config(root, "db-extractor", "orders", {"url": "sqlite:///orders.sqlite", "tables": [
        {"name": "orders", "table": "orders", "output": "in.c-shop.orders"}]})
    write_config(root, "sql-transformation", "daily", {
        "script": "create table daily as select customer, count(*) as orders, sum(amount) as total "
                  "from orders group by customer;",
        "input": [{"source": "in.c-shop.orders", "destination": "orders"}],
        "output": [{"source": "daily", "destination": "out.c-reports.daily"}]})
    (root / "orchestrations" / "big.toml").write_text(
        'name = "Big"\n[[tasks]]\ncomponent = "db-extractor"\nconfig = "orders"\n'
        '[[tasks]]\ncomponent = "sql-transformation"\nconfig = "daily"\n')


def main(argv: list[str]) -> tuple[float, str]:
    rows = int(argv[0]) if argv else ROWS
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "p"
        make_project(root, rows)
        with ProbedTerminal(root, Path(tmp) / "samples.txt") as term:
            term.wait_for("Big")
            time.sleep(1.5)  # past the app's after-first-frame work (validation, scheduler start)
            term.press("r")
            history = JobHistory(root / ".kbc" / "jobs.sqlite")
            while not (jobs := history.list_jobs("big", limit=1)):
                time.sleep(0.05)
            job_id = jobs[0].id
            term.press("J")
            term.wait_for("All jobs")
            term.press("Enter")
            term.wait_for(f"Job {job_id}")
            term.wait_for("following")
            start = time.monotonic()
            keys = []
            while not (job := history.job(job_id, with_tasks=False)).status.finished:
                keys.append(press_wrap(term))
                time.sleep(0.25)
            end = time.monotonic()
            status = job.status.value
            history.close()
            time.sleep(1.0)
            idle_start = time.monotonic()
            idle_keys = toggle_wrap(term, PRESSES)
            time.sleep(max(0.0, idle_start + end - start - time.monotonic()))
            idle_end = time.monotonic()
            samples = term.quit()
    assert status == "success", status
    running = window(samples, start, end)
    idle = window(samples, idle_start, idle_end)
    print(f"job: extract {rows:,} rows from SQLite + SQL transformation, run by the app; watched for "
          f"{end - start:.1f} s on its screen (120x40 in tmux), {status}")
    print(f"job running: stall {summary(running)}; key w: {keys_summary(keys)}")
    print(f"idle (job finished, same screen): stall {summary(idle)}; key w: {keys_summary(idle_keys)}")
    print(f"p99 stall while the job runs {p99(running):.1f} ms (idle {p99(idle):.1f} ms)")
    return round(max(running), 1), "ms"
