"""failover: seconds from SIGKILL of a worker mid-job to its job being ``terminated`` and the next queued job of
that orchestration started by another worker (issue 13), with ``heartbeat_timeout = 10``.

Two "servers" (own project copies) share a fresh PostgreSQL state database. Worker A takes a job whose task waits
in PostgreSQL for a minute; worker B is idle; a second job of the same orchestration waits (it may not overlap the
first). A is SIGKILLed; the figure is the time from the kill to the second job's start as the job state records
it, and to the first job's ``terminated``. Repeated ROUNDS times (default 3); the median counts.

Goal: <= 15 s. Run: ``python benchmarks/run.py failover [ROUNDS]``.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

from _servers import enqueue, server_copies, start_worker, state_database, state_of, stop_workers, waiting_project

TIMEOUT = 10
GOAL = 15.0


def wait_for(check, seconds: float, what: str):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.05)
    raise SystemExit(f"failover: {what} did not happen within {seconds:g} s")


def one_round() -> tuple[float, float]:
    with state_database("kbc_bench_failover") as url, tempfile.TemporaryDirectory() as tmp:
        template = waiting_project(Path(tmp) / "template", url, 1, 60, heartbeat_timeout=TIMEOUT)
        a_root, b_root = server_copies(template, 2)
        state = state_of(url)
        a = start_worker(a_root, "a")
        procs = [a]
        try:
            first = enqueue(template, ["o0"])[0]
            wait_for(lambda: (j := state.job(first, with_tasks=False)) and j.status.value == "processing",
                     60, "worker a taking the job")
            second = enqueue(template, ["o0"])[0]
            procs.append(start_worker(b_root, "b"))
            wait_for(lambda: any(w.name == "b" for w in state.workers()), 60, "worker b starting")
            time.sleep(1.0)  # b is idle and polling; the second job waits for the first
            killed = datetime.now(timezone.utc)
            a.kill()
            a.wait()
            ended = wait_for(lambda: (j := state.job(first, with_tasks=False)) and j.status.finished and j,
                             TIMEOUT * 4, "the killed worker's job ending")
            started = wait_for(lambda: (j := state.job(second, with_tasks=False)) and j.started_at and j,
                               TIMEOUT * 4, "the next job starting")
            to_end = (ended.finished_at - killed).total_seconds()
            to_next = (started.started_at - killed).total_seconds()
            print(f"  job {first}: {ended.status.value} after {to_end:.2f} s ({ended.message}); job {second} started "
                  f"by {started.worker} after {to_next:.2f} s")
            return to_end, to_next
        finally:
            stop_workers(procs)
            state.close()


def main(argv: list[str]) -> tuple[float, str]:
    rounds = int(argv[0]) if argv else 3
    print(f"heartbeat_timeout = {TIMEOUT} s; {rounds} rounds")
    results = [one_round() for _ in range(rounds)]
    figure = statistics.median(r[1] for r in results)
    print(f"kill -> terminated: median {statistics.median(r[0] for r in results):.2f} s; kill -> next job started: "
          f"median {figure:.2f} s (goal <= {GOAL:g})")
    return figure, "s"
