"""jobs_list: with 100,000 jobs in history, time for the engine to list the latest 50 (in-process), in ms.

What it measures: the median of 50 calls of ``Engine.list_jobs(limit=50)`` (the SQL query on
``.kbc/jobs.sqlite`` and building the 50 ``Job`` objects, as the jobs screen and ``kbc-tui jobs`` get
them), interpreter start excluded; also printed: the same for one orchestration (the orchestration
screen's recent jobs) and the latest job of each of 1,000 orchestrations (``last_jobs``, the home screen's).

Why no baseline: the goal is absolute, a latency the user feels (the jobs screen reads the list again
after job events, on the UI's event loop), whatever the history holds; it does not depend on how fast
something else could do it. The natural baseline would be the bare SQLite query (``SELECT … ORDER BY id
DESC LIMIT 50`` on the same file): the figure minus it is the engine's share, which the goal does not ask
about, so it is not run.

Goal (issue 3): <= 20 ms. Run: ``python benchmarks/run.py jobs_list [JOBS]``.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from kbc_tui.engine import Engine  # noqa: E402
from tests.helpers.projects import project  # noqa: E402

JOBS = 100_000


def main(argv: list[str]) -> tuple[float, str]:
    n = int(argv[0]) if argv else JOBS
    with tempfile.TemporaryDirectory() as tmp:
        root = project(Path(tmp) / "bench")
        engine = Engine(root)
        now = time.time()
        with engine.history.transaction() as db:
            db.executemany(
                "INSERT INTO jobs (orchestration, status, trigger, triggered_by, created_at, started_at, "
                "finished_at, message, updated_at) VALUES (?, 'success', 'schedule', 'scheduler', ?, ?, ?, '', ?)",
                [(f"orch-{i % 1000}", now - n + i, now - n + i, now - n + i + 5, now) for i in range(n)])
        timings, by_orch = [], []
        for _ in range(50):
            t0 = time.perf_counter()
            jobs = engine.list_jobs(limit=50)
            timings.append((time.perf_counter() - t0) * 1000)
            t0 = time.perf_counter()
            engine.list_jobs("orch-7", limit=50)
            by_orch.append((time.perf_counter() - t0) * 1000)
        assert len(jobs) == 50 and jobs[0].id == n
        t0 = time.perf_counter()
        last = engine.last_jobs()
        last_ms = (time.perf_counter() - t0) * 1000
        engine.history.close()
    median = statistics.median(timings)
    print(f"jobs in history: {n:,}")
    print(f"latest 50: median {median:.3f} ms, max {max(timings):.3f} ms")
    print(f"latest 50 of one orchestration: median {statistics.median(by_orch):.3f} ms")
    print(f"latest job of each of {len(last)} orchestrations: {last_ms:.1f} ms")
    return median, "ms"
