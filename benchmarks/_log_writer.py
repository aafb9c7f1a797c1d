"""A runner process whose job logs RATE lines a second (for ui_stall), through the engine's own log path.

``python benchmarks/_log_writer.py PROJECT RATE`` starts an ``Engine`` on PROJECT that holds the runner lock
(as ``kbc-tui scheduler`` or ``kbc-tui run`` does; start it before the app, which then watches), marks a new
job of ``sales-to-tableau`` processing under this pid, as the runner does, and prints ``JOB <id>``. Then
every 100 ms it logs RATE / 10 lines with ``Engine.add_log``: the runner's path for a component's line
(``JobFeed.log``: the buffer, flushed to the history by the engine's flush loop every 100 ms in one
transaction per batch, and the event bus). No product component logs 10,000 lines a second, so the lines
are made here; everything after ``add_log`` is the product's. It stops when stdin closes: the job ends
``success``, and it prints ``LINES <count> <seconds>``.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from kbc_tui.engine import Engine  # noqa: E402
from kbc_tui.engine.engine import utcnow  # noqa: E402
from kbc_tui.model.job import JobStatus, Trigger  # noqa: E402

STEP = 0.1
TASK = "db-extractor/shop"
LEVELS = ["info"] * 7 + ["debug", "warning", "error"]


def text(i: int) -> str:
    if i % 10 == 3:  # a long line now and then: wrap has work to do
        return f"row batch {i}: slow chunk; " + "details " * 25 + f"(chunk {i % 97})"
    return f"row batch {i}: copied 5,000 rows from shop.orders into in.c-shop.orders (chunk {i % 97})"


async def run(root: Path, rate: int) -> None:
    engine = Engine(root)
    await engine.start(run_jobs=True, scheduler=False)
    if not engine.is_runner:
        raise SystemExit("another process holds the runner lock")
    job = engine.history.create_job("sales-to-tableau", Trigger.MANUAL, "bench")
    engine.history.update_job(job.id, status=JobStatus.PROCESSING, started_at=utcnow(), pid=os.getpid())
    print(f"JOB {job.id}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_reader(sys.stdin.fileno(), lambda: stop.set() if not sys.stdin.buffer.read1(1) else None)
    per_step = max(1, rate // 10)
    written, t0 = 0, time.monotonic()
    next_at = t0
    while not stop.is_set():
        for _ in range(per_step):
            engine.add_log(job.id, LEVELS[written % 10], text(written), TASK)
            written += 1
        next_at += STEP
        try:
            await asyncio.wait_for(stop.wait(), max(0.0, next_at - time.monotonic()))
        except asyncio.TimeoutError:
            pass
    took = time.monotonic() - t0
    engine.add_log(job.id, "info", f"Job {job.id} finished: success in {took:.1f} s")
    engine.history.update_job(job.id, status=JobStatus.SUCCESS, finished_at=utcnow())
    await engine.stop(grace=0)
    print(f"LINES {written} {took:.3f}", flush=True)


if __name__ == "__main__":
    asyncio.run(run(Path(sys.argv[1]), int(sys.argv[2])))
