"""engine_overhead: a job of 500 tasks, each a trivial SQL transformation (one phase per task).

Per-task orchestrator overhead = (job wall time - the sum of the tasks' own run time) / 500, in ms.
The tasks' own time is measured around each component's ``run`` (storage work included); the rest
(reading the job's files, history writes, events, logging, scheduling) is the orchestrator's.
Goal (issue 3): <= 2 ms.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from kbc_tui import components  # noqa: E402
from kbc_tui.engine import Engine  # noqa: E402
from tests.helpers.projects import orchestration, project, sql_config  # noqa: E402

TASKS = 500


def main(argv: list[str]) -> tuple[float, str]:
    n = int(argv[0]) if argv else TASKS
    with tempfile.TemporaryDirectory() as tmp:
        root = project(Path(tmp) / "bench")
        for i in range(n):
            sql_config(root, f"t{i}", f"create table r as select {i} as x;", {"r": {"destination": f"out.c-bench.r{i}"}})
        orchestration(root, "big", [[f"t{i}"] for i in range(n)])

        real = components.get_component("sql-transformation")
        spent = [0.0]

        class Timed:
            validate = real.validate

            async def run(self, ctx):
                t0 = time.perf_counter()
                try:
                    return await real.run(ctx)
                finally:
                    spent[0] += time.perf_counter() - t0

        components._cache["sql-transformation"] = Timed()  # type: ignore[assignment]

        async def go() -> float:
            engine = Engine(root)
            await engine.start(scheduler=False)
            try:
                with engine.storage.hold():
                    t0 = time.perf_counter()
                    job = await engine.enqueue("big")
                    done = await engine.wait(job.id)
                    wall = time.perf_counter() - t0
                assert done.status.value == "success", done.message
                return wall
            finally:
                await engine.stop(grace=0)

        wall = asyncio.run(go())
        components._cache["sql-transformation"] = real
    overhead_ms = (wall - spent[0]) / n * 1000
    print(f"tasks: {n}")
    print(f"job wall time: {wall:.3f} s")
    print(f"tasks' own time: {spent[0]:.3f} s ({spent[0] / n * 1000:.2f} ms per task)")
    print(f"orchestrator overhead: {overhead_ms:.3f} ms per task")
    return overhead_ms, "ms"
