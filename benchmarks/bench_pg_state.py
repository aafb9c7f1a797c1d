"""pg_state: what the job state in PostgreSQL (``PgJobState``) costs per call, on the test service.

What it measures: the calls the engine makes for every task — two task-run updates (started, finished), a
batch of log lines, a component state read, a cancel poll — each timed over ``N`` calls (default 500) on a
database of its own on ``KBC_TEST_PG_URL`` (default the local test service), and their sum: the state's share
of the engine's per-task overhead (issue 13's goal for the whole overhead with PostgreSQL: <= 5 ms a task;
``KBC_STATE_URL=... python benchmarks/run.py engine_overhead`` measures that whole). Also a claim (create, claim,
finish) and ``last_jobs()`` over 100,000 jobs of 100 orchestrations.

Run: ``python benchmarks/run.py pg_state [N]``.
"""

from __future__ import annotations

import os
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from kbc_tui.model.job import JobStatus, LogLine, TaskRun, TaskStatus, Trigger  # noqa: E402
from kbc_tui.store.pg_state import PgJobState  # noqa: E402
from tests.helpers.pg import admin_conninfo, create_database, drop_database, with_database  # noqa: E402

BASE = os.environ.get("KBC_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def timed(n: int, call) -> float:
    """Milliseconds a call, the best of three rounds of ``n``."""
    best = float("inf")
    for _ in range(3):
        t0 = time.perf_counter()
        for _ in range(n):
            call()
        best = min(best, (time.perf_counter() - t0) / n * 1000)
    return best


def main(argv: list[str]) -> tuple[float, str]:
    import psycopg

    n = int(argv[0]) if argv else 500
    name = create_database(BASE, "kbc_bench")
    try:
        state = PgJobState(with_database(BASE, name))
        job = state.create_job("o", Trigger.MANUAL, "bench")
        state.create_task_runs([TaskRun(job.id, 0, 0, "c", "x")])
        run = TaskRun(job.id, 0, 0, "c", "x", TaskStatus.PROCESSING, datetime.now(timezone.utc))
        now = datetime.now(timezone.utc)
        batch = [LogLine(job.id, now, "info", f"a log line of a usual length, number {i}", "c/x") for i in range(40)]
        state.save_component_state("c", "x", {"last": 1})
        per = {
            "update_task": timed(n, lambda: state.update_task(run)),
            "add_log (40 lines)": timed(n, lambda: state.add_log(batch)),
            "component_state": timed(n, lambda: state.component_state("c", "x")),
            "cancel_requested": timed(n, lambda: state.cancel_requested([job.id])),
        }

        def claim_cycle() -> None:
            j = state.create_job("p", Trigger.MANUAL, "bench")
            state.claim_job(j.id, 1, "w")
            state.update_job(j.id, status=JobStatus.SUCCESS)

        per["create + claim + finish a job"] = timed(max(1, n // 5), claim_cycle)
        with psycopg.connect(admin_conninfo(BASE, name), autocommit=True) as conn:
            conn.execute("INSERT INTO jobs (orchestration, status, trigger, created_at, updated_at) SELECT 'orch-' || "
                         "(g % 100), 'success', 'manual', g, g FROM generate_series(1, 100000) g")
            conn.execute("ANALYZE jobs")
        per["last_jobs() of 100,000 jobs"] = timed(10, state.last_jobs)
        state.close()
    finally:
        drop_database(BASE, name)
    for what, ms in per.items():
        print(f"{what:32} {ms:7.3f} ms")
    task = 2 * per["update_task"] + per["add_log (40 lines)"] + per["component_state"] + per["cancel_requested"]
    print(f"the state's share of a task (2 task updates, a log batch, a state read, a cancel poll): {task:.2f} ms")
    return task, "ms"
