"""scale_out: how throughput grows with workers on several servers sharing a PostgreSQL job state (issue 13).

200 queued jobs of 20 orchestrations (10 each; two jobs of one orchestration never run at once), each job one
db-extractor task whose query waits 0.2 s in PostgreSQL (``pg_sleep``) and stores its row. They are drained once by
1 worker and once by 4, each worker a ``kbc-tui worker`` process with its own copy of the project folder (a
"server"), the two rounds on fresh state databases. Throughput = jobs / (the last job's finish - the first job's
start, from the job state: worker start-up is not counted). Each worker runs one job at a time
(``--max-jobs 1``), so the ratio measures what adding workers brings, not concurrency inside one worker; the same
rounds with the default (``--max-jobs 4``) are printed too.

Goal: 4 workers' throughput / 1 worker's >= 3.0. Run: ``python benchmarks/run.py scale_out [JOBS] [--max-jobs N]``.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from _servers import enqueue, server_copies, start_worker, state_database, state_of, stop_workers, waiting_project

JOBS = 200
ORCHESTRATIONS = 20
WAIT = 0.2
GOAL = 3.0


def drain(workers: int, jobs: int, max_jobs: int) -> tuple[float, float]:
    """(jobs per second, seconds from the first start to the last finish) with ``workers`` workers."""
    with state_database("kbc_bench_scale") as url, tempfile.TemporaryDirectory() as tmp:
        template = waiting_project(Path(tmp) / "template", url, ORCHESTRATIONS, WAIT)
        ids = enqueue(template, [f"o{i % ORCHESTRATIONS}" for i in range(jobs)])
        servers = server_copies(template, workers)
        procs = [start_worker(root, f"w{i}", "--max-jobs", str(max_jobs)) for i, root in enumerate(servers)]
        state = state_of(url)
        try:
            deadline = time.monotonic() + 600
            while time.monotonic() < deadline:
                done = [j for j in state.list_jobs(limit=jobs + 10) if j.status.finished]
                if len(done) >= len(ids):
                    break
                if any(p.poll() is not None for p in procs):
                    raise SystemExit(f"a worker ended early; see {Path(tmp)}/w*.log")
                time.sleep(0.2)
            else:
                raise SystemExit("the queue was not drained in 10 minutes")
            finished = state.list_jobs(limit=jobs + 10)
            bad = [j for j in finished if j.status.value != "success"]
            if bad:
                raise SystemExit(f"{len(bad)} jobs did not succeed, e.g. job {bad[0].id}: {bad[0].message}")
            by_worker: dict[str, int] = {}
            for job in finished:
                by_worker[job.worker or "?"] = by_worker.get(job.worker or "?", 0) + 1
            span = (max(j.finished_at for j in finished) - min(j.started_at for j in finished)).total_seconds()
            durations = sorted(j.duration_s for j in finished)
            busy = sum(durations)
            print(f"  job wall time (start to finish, the 0.2 s wait included): median {durations[len(durations) // 2]:.3f} s, "
                  f"max {durations[-1]:.3f} s; workers busy {busy / (span * workers):.0%} of the span")
            print(f"  {workers} worker(s), --max-jobs {max_jobs}: {len(finished)} jobs in {span:.2f} s = "
                  f"{len(finished) / span:.2f} jobs/s; jobs per worker {dict(sorted(by_worker.items()))}")
            return len(finished) / span, span
        finally:
            stop_workers(procs)
            state.close()


def main(argv: list[str]) -> tuple[float, str]:
    jobs = int(argv[0]) if argv and argv[0].isdigit() else JOBS
    max_jobs = int(argv[argv.index("--max-jobs") + 1]) if "--max-jobs" in argv else 1
    print(f"{jobs} jobs of {ORCHESTRATIONS} orchestrations, each one task waiting {WAIT} s in PostgreSQL; serial "
          f"work {jobs * WAIT:.0f} s")
    one, _ = drain(1, jobs, max_jobs)
    four, _ = drain(4, jobs, max_jobs)
    ratio = four / one
    if "--max-jobs" not in argv:
        d1, _ = drain(1, jobs, 4)
        d4, _ = drain(4, jobs, 4)
        print(f"with --max-jobs 4 (the default): 4 workers / 1 worker = {d4 / d1:.2f}")
    print(f"scale-out: 4 workers / 1 worker = {ratio:.2f} (goal >= {GOAL:g}), --max-jobs {max_jobs}")
    return ratio, "x"
