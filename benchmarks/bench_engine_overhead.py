"""engine_overhead: what the engine adds to each task of a job, measured on the product path.

What it measures: a job of N tasks (default 200), each a trivial SQL transformation writing a one-row
table, one phase per task, run exactly as the product runs it (``Engine.enqueue`` + ``wait``: job spec
loading, task preparation, history writes, events, logging, storage opening — nothing held open by the
benchmark). Per-task overhead = (the job's wall time - the baseline's) / N, in ms.

The baseline: the same N tasks' work done back to back by the same component code, in one thread, on a
storage that is open the whole time — the cheapest way this work can be done at all with these tasks, so
everything above it is what orchestrating them costs (including opening the storage per task, which the
engine avoids by keeping it open while it has jobs running). The baseline is the fastest honest one: it
runs the component's own ``_run`` (no event loop, no thread hop, no history, no log buffer) and its
storage is not even confined to the project folders as the engine's is; anything cheaper would skip part
of the tasks' own work.

How, on a busy machine: both sides run once untimed first (imports, the OS file cache), then PAIRS pairs
(default 7), each pair a baseline round and a product round back to back (which goes first alternates),
each round on a fresh project. The figure is the median of the pairs' differences: the two rounds of a
pair see the same machine, so a change in load between pairs moves both sides of a pair together (as
``_startup.py`` does with ratios); comparing each side's fastest round instead pairs rounds from
different moments. The spread of the pairs' differences is printed with it (and a warning when its middle
half is wider than the goal: the load changed within pairs, and the figure means little), and two steadier
views that are not the figure: the same median for CPU time (all threads of the process; blind to
waiting), and the time between tasks (the job's wall time minus its tasks' durations in the job history,
both from the same moments; blind to what a task's run costs beyond its work).

On a heavily loaded machine (load averages of 6-8 on 2 cores, with or without ``nice``) most pairs have
come out negative, the baseline slowed down far more than the job; a job cannot do the same work faster,
so the load decided such a figure, and the output says so. The load average is printed before and after
to judge a run by; CPU time and the time between tasks stayed within 2 ms in those runs.

Goal (issue 17): <= 2 ms per task. Run: ``python benchmarks/run.py engine_overhead [N [PAIRS]] [--state pg]``.
With ``--state pg`` the job state is PostgreSQL (a fresh database on the local service, as ``[state] url`` would
name it; issue 13's goal: <= 5 ms per task); the baseline is the same.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from kbc_tui import components  # noqa: E402
from kbc_tui.components.base import CancelToken, RunContext  # noqa: E402
from kbc_tui.engine import Engine  # noqa: E402
from kbc_tui.storage.duckdb_storage import DuckDBStorage  # noqa: E402
from tests.helpers.projects import orchestration, project, sql_config  # noqa: E402

TASKS = 200
PAIRS = 7
GOAL_MS = 2.0


class _Quiet:
    def debug(self, text: str) -> None:
        pass

    info = warning = error = debug


def _params(i: int) -> dict:
    return {"script": f"create table r as select {i} as x;",
            "output": [{"source": "r", "destination": f"out.c-bench.r{i}"}]}


def baseline(folder: Path, n: int) -> tuple[float, float]:
    """(wall, CPU) seconds for the N tasks' own work, back to back, storage open throughout."""
    storage = DuckDBStorage(folder / "storage.duckdb")
    component = components.get_component("sql-transformation")

    def task(i: int, table: int) -> None:
        params = _params(i)
        params["output"][0]["destination"] = f"out.c-bench.r{table}"
        component._run(RunContext(config=None, parameters=params, storage=storage, log=_Quiet(),
                                  cancel=CancelToken(), project_root=folder, state_dir=folder, job_id=1))

    storage.retain()
    try:
        task(0, 0)  # warm: imports, the open database
        t0, c0 = time.perf_counter(), time.process_time()
        for i in range(n):
            task(i, i)
        return time.perf_counter() - t0, time.process_time() - c0
    finally:
        storage.release()


def product(tmp: Path, n: int) -> tuple[float, float, float]:
    """(wall, CPU, tasks) seconds from ``enqueue`` of the N-task job to ``wait`` returning it finished; tasks:
    the sum of its tasks' durations as the job history has them (started .. finished)."""
    root = project(tmp)
    for i in range(n):
        sql_config(root, f"t{i}", _params(i)["script"], {"r": {"destination": f"out.c-bench.r{i}"}})
    orchestration(root, "big", [[f"t{i}"] for i in range(n)])

    async def go() -> tuple[float, float, float]:
        engine = Engine(root)
        await engine.start(scheduler=False)
        try:
            t0, c0 = time.perf_counter(), time.process_time()
            job = await engine.enqueue("big")
            done = await engine.wait(job.id)
            wall, cpu = time.perf_counter() - t0, time.process_time() - c0
            assert done.status.value == "success", done.message
            return wall, cpu, sum(t.duration_s for t in done.tasks)
        finally:
            await engine.stop(grace=0)

    return asyncio.run(go())


def main(argv: list[str]) -> tuple[float, str]:
    if "--state" in argv:
        at = argv.index("--state")
        kind, argv = argv[at + 1], argv[:at] + argv[at + 2:]
        if kind != "pg":
            raise SystemExit("--state: only 'pg' (the default is the SQLite history)")
        from _servers import state_database

        with state_database("kbc_bench_overhead") as url:
            os.environ["KBC_STATE_URL"] = url
            try:
                print(f"job state: PostgreSQL ({url})")
                return _main(argv, goal=5.0)
            finally:
                del os.environ["KBC_STATE_URL"]
    return _main(argv, goal=GOAL_MS)


def _main(argv: list[str], goal: float) -> tuple[float, str]:
    GOAL_MS = goal  # noqa: N806 - the goal of this run
    n = int(argv[0]) if argv else TASKS
    pairs = int(argv[1]) if len(argv) > 1 else PAIRS
    bases, jobs = [], []
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        baseline(Path(tmp) / "warm-baseline", 10)  # untimed: imports, the OS file cache, the runner's first job
        product(Path(tmp) / "warm-job", 10)
        for p in range(pairs):
            if p % 2 == 0:
                bases.append(baseline(Path(tmp) / f"baseline-{p}", n))
                jobs.append(product(Path(tmp) / f"job-{p}", n))
            else:
                jobs.append(product(Path(tmp) / f"job-{p}", n))
                bases.append(baseline(Path(tmp) / f"baseline-{p}", n))

    def ms(seconds: float) -> float:
        return seconds / n * 1000

    wall = sorted(ms(j[0] - b[0]) for b, j in zip(bases, jobs))
    cpu = sorted(ms(j[1] - b[1]) for b, j in zip(bases, jobs))
    overhead_ms = statistics.median(wall)
    print(f"tasks: {n} (one phase each), {pairs} pairs (a baseline round and a job round back to back); "
          f"load average {load_before:.1f} before, {os.getloadavg()[0]:.1f} after, {os.cpu_count()} CPUs")
    print("baseline, the tasks' own work back to back on open storage: " + ", ".join(f"{b[0]:.3f}" for b in bases)
          + f" s; median {statistics.median(ms(b[0]) for b in bases):.2f} ms a task")
    print("the job as the product runs it: " + ", ".join(f"{j[0]:.3f}" for j in jobs)
          + f" s; median {statistics.median(ms(j[0]) for j in jobs):.2f} ms a task")
    print("per-pair differences, ms a task: " + ", ".join(f"{d:.2f}" for d in wall)
          + f" (spread {wall[-1] - wall[0]:.2f}; middle half {wall[len(wall) // 4]:.2f} .. "
            f"{wall[(3 * len(wall) - 1) // 4]:.2f})")
    print(f"CPU time (all threads) per-pair differences: median {statistics.median(cpu):.2f} ms a task "
          f"({cpu[0]:.2f} .. {cpu[-1]:.2f})")
    print("between tasks (the job's wall time minus its tasks' durations in its history, no baseline: steady "
          "under load, blind to costs inside a task): median "
          f"{statistics.median(ms(j[0] - j[2]) for j in jobs):.2f} ms a task")
    if overhead_ms < 0:
        print("negative: the job cannot do the same work faster than the baseline; the load decided this figure "
              "(seen at load averages several times the cores); see the CPU time and between-task lines")
    if wall[(3 * len(wall) - 1) // 4] - wall[len(wall) // 4] > GOAL_MS:
        print(f"noisy: the middle half of the pairs' differences is wider than the goal ({GOAL_MS:g} ms): the "
              "machine's load changed within pairs; run again when it is quieter, or with more pairs")
    print(f"engine overhead: {overhead_ms:.3f} ms per task, the median of {pairs} pairs' differences (goal <= {GOAL_MS:g})")
    return overhead_ms, "ms"
