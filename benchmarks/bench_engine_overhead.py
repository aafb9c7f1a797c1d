"""engine_overhead: what the engine adds to each task of a job, measured on the product path.

What it measures: a job of N tasks (default 200), each a trivial SQL transformation writing a one-row
table, one phase per task, run exactly as the product runs it (``Engine.enqueue`` + ``wait``: job spec
loading, task preparation, history writes, events, logging, storage opening — nothing held open by the
benchmark). Per-task overhead = (the job's wall time - the baseline) / N, in ms.

The baseline: the same N tasks' work done back to back by the same component code, in one thread, on a
storage that is open the whole time — the cheapest way this work can be done at all with these tasks, so
everything above it is what orchestrating them costs (including opening the storage per task, which the
engine avoids by keeping it open while it has jobs running). Both are measured ROUNDS times, alternating,
each on a fresh project; the fastest of each is compared (on a busy machine the minimum is the stable
estimate of what the code costs).

Goal (issue 17): <= 2 ms per task. Run: ``python benchmarks/run.py engine_overhead [N]``.
"""

from __future__ import annotations

import asyncio
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
ROUNDS = 3


class _Quiet:
    def debug(self, text: str) -> None:
        pass

    info = warning = error = debug


def _params(i: int) -> dict:
    return {"script": f"create table r as select {i} as x;",
            "output": [{"source": "r", "destination": f"out.c-bench.r{i}"}]}


def baseline(folder: Path, n: int) -> float:
    """Seconds for the N tasks' own work, back to back, storage open throughout."""
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
        t0 = time.perf_counter()
        for i in range(n):
            task(i, i)
        return time.perf_counter() - t0
    finally:
        storage.release()


def product(tmp: Path, n: int) -> float:
    root = project(tmp)
    for i in range(n):
        sql_config(root, f"t{i}", _params(i)["script"], {"r": {"destination": f"out.c-bench.r{i}"}})
    orchestration(root, "big", [[f"t{i}"] for i in range(n)])

    async def go() -> float:
        engine = Engine(root)
        await engine.start(scheduler=False)
        try:
            t0 = time.perf_counter()
            job = await engine.enqueue("big")
            done = await engine.wait(job.id)
            wall = time.perf_counter() - t0
            assert done.status.value == "success", done.message
            return wall
        finally:
            await engine.stop(grace=0)

    return asyncio.run(go())


def main(argv: list[str]) -> tuple[float, str]:
    n = int(argv[0]) if argv else TASKS
    rounds = int(argv[1]) if len(argv) > 1 else ROUNDS
    bases, walls = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(rounds):
            bases.append(baseline(Path(tmp) / f"baseline-{r}", n))
            walls.append(product(Path(tmp) / f"job-{r}", n))
    base, wall = min(bases), min(walls)
    overhead_ms = (wall - base) / n * 1000
    print(f"tasks: {n} (one phase each), {rounds} rounds")
    print("baseline, the tasks' own work back to back on open storage: "
          + ", ".join(f"{b:.3f}" for b in bases) + f" s; fastest {base / n * 1000:.2f} ms a task")
    print("the job as the product runs it: " + ", ".join(f"{w:.3f}" for w in walls)
          + f" s; fastest {wall / n * 1000:.2f} ms a task")
    print(f"engine overhead: {overhead_ms:.3f} ms per task (goal <= 2)")
    return overhead_ms, "ms"
