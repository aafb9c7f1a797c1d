"""``kbc-tui run ORCH``: enqueue, execute (unless another process holds the runner lock), stream progress.

Exit code: 0 success, 3 warning, 1 error / cancelled / terminated.
"""

from __future__ import annotations

import asyncio
import signal
import sys

from kbc_tui.engine import Engine
from kbc_tui.engine.events import LogBatch, TaskChanged
from kbc_tui.model.job import JobStatus, TaskStatus, Trigger
from kbc_tui.store import Project, resolve_project_dir

EXIT_CODES = {JobStatus.SUCCESS: 0, JobStatus.WARNING: 3}


def exit_code(status: JobStatus) -> int:
    return EXIT_CODES.get(status, 1)


def print_event(event, job_id: int, out=sys.stdout) -> None:
    if isinstance(event, LogBatch) and event.job_id == job_id:
        for line in event.lines:
            if line.level == "debug":
                continue
            stamp = line.time.astimezone().strftime("%H:%M:%S")
            out.write(f"{stamp} {line.level.upper():7} {line.text}\n")
        out.flush()
    elif isinstance(event, TaskChanged) and event.job_id == job_id:
        pass  # the log already says when a task starts and ends


async def follow(engine: Engine, job_id: int, out=sys.stdout) -> int:
    """Print the job's log until it finishes (already-written lines first); return the exit code."""
    printed = 0
    for line in engine.job_log(job_id):
        printed = line.id or printed
        if line.level != "debug":
            out.write(f"{line.time.astimezone().strftime('%H:%M:%S')} {line.level.upper():7} {line.text}\n")

    def listener(event) -> None:
        if isinstance(event, LogBatch):
            event = LogBatch(event.job_id, tuple(ln for ln in event.lines if ln.id is None or ln.id > printed))
        print_event(event, job_id, out)

    unsubscribe = engine.events.subscribe(listener)
    try:
        job = await engine.wait(job_id)
    finally:
        unsubscribe()
    return summarize(job, out)


def summarize(job, out=sys.stdout) -> int:
    width = max((len(f"{t.component}/{t.config}") for t in job.tasks), default=10)
    out.write(f"\nJob {job.id} ({job.orchestration}): {job.status.value}"
              + (f" in {job.duration_s:.1f} s" if job.duration_s is not None else "") + "\n")
    for t in job.tasks:
        rows = f"{t.rows:>12,}" if t.rows is not None else " " * 12
        took = f"{t.duration_s:8.2f} s" if t.duration_s is not None else " " * 10
        msg = f"  {t.message}" if t.message and t.status is not TaskStatus.SUCCESS else ""
        out.write(f"  {t.phase + 1}  {t.component + '/' + t.config:<{width}}  {t.status.value:<10} {took} {rows}{msg}\n")
    out.flush()
    return exit_code(job.status)


async def _main(args) -> int:
    project = Project.load(resolve_project_dir(args.project))
    engine = Engine(project)
    await engine.start(run_jobs=not args.no_wait, scheduler=False)
    loop = asyncio.get_running_loop()
    job = None
    try:
        job = await engine.enqueue(args.orchestration, trigger=Trigger.MANUAL)
        if args.no_wait:
            print(job.id)
            return 0
        if not engine.is_runner:
            print(f"Job {job.id} queued: another kbc-tui process runs this project's jobs; following it.",
                  flush=True)

        def interrupt() -> None:
            print("\nCancelling...", file=sys.stderr, flush=True)
            asyncio.ensure_future(engine.cancel(job.id))

        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, interrupt)
        return await follow(engine, job.id)
    finally:
        await engine.stop(grace=0 if job is None else 30)


def run(args) -> int:
    return asyncio.run(_main(args))
