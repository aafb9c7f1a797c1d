"""``kbc-tui run ORCH``: enqueue, execute (unless another process holds the runner lock), stream progress.

Exit code: 0 success, 3 warning, 1 error / cancelled / terminated; 130 when Ctrl+C / SIGTERM came before the
job could be followed (while starting up).
"""

from __future__ import annotations

import asyncio
import signal
import sys

from kbc_tui.commands._interrupt import StartupInterrupt
from kbc_tui.commands._loop import run_until_done
from kbc_tui.engine import Engine
from kbc_tui.engine.events import EngineProblem, LogBatch, MailWaiting, TaskChanged
from kbc_tui.errors import KbcError
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


#: after Ctrl+C / SIGTERM: how long to wait for the job to confirm it stopped before giving up on it
CANCEL_WAIT_SECONDS = 10.0


async def _main(args, early: StartupInterrupt, queued: list[int]) -> int:
    project = Project.load(resolve_project_dir(args.project))
    engine = Engine(project)
    engine.events.subscribe(_say_problems)
    if engine.shared:
        engine.run_only = set()  # a shared state: workers run the queue; this command runs its own job only
    await engine.start(run_jobs=not args.no_wait, scheduler=False)
    loop = asyncio.get_running_loop()
    job = None
    give_up = asyncio.Event()
    try:
        job = await engine.enqueue(args.orchestration, trigger=Trigger.MANUAL)
        if engine.run_only is not None:
            engine.run_only.add(job.id)
            engine.wake_runner()
        queued.append(job.id)
        if args.no_wait:
            print(job.id)
            return 0
        if not engine.is_runner:
            print(f"Job {job.id} queued: another kbc-tui process runs this project's jobs; following it.",
                  flush=True)
        signals = 0

        def interrupt() -> None:
            """First signal: cancel the job and wait for it to stop (a few seconds at most); second signal,
            or no answer in time: stop waiting. `kbc-tui run` always ends."""
            nonlocal signals
            signals += 1
            if signals > 1:
                give_up.set()
                return
            print("\nCancelling... (again to stop waiting)", file=sys.stderr, flush=True)
            asyncio.ensure_future(_cancel(engine, job.id))
            loop.call_later(CANCEL_WAIT_SECONDS, give_up.set)

        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, interrupt)
        early.disarm()  # from here a signal cancels the job
        following = asyncio.ensure_future(follow(engine, job.id))
        stop_waiting = asyncio.ensure_future(give_up.wait())
        await asyncio.wait({following, stop_waiting}, return_when=asyncio.FIRST_COMPLETED)
        stop_waiting.cancel()
        if following.done():
            return following.result()
        following.cancel()
        status = _status(engine, job.id)
        print(f"kbc-tui: stopped waiting for job {job.id} (last known status: {status}); "
              f"`kbc-tui job {job.id}` shows how it ends", file=sys.stderr, flush=True)
        return 1
    finally:
        await engine.stop(grace=0 if job is None or give_up.is_set() else 30)


async def _cancel(engine: Engine, job_id: int) -> None:
    try:
        await engine.cancel(job_id)
    except KbcError as exc:
        print(f"kbc-tui: cannot cancel job {job_id}: {exc}", file=sys.stderr, flush=True)


def _status(engine: Engine, job_id: int) -> str:
    try:
        job = engine.history.job(job_id, with_tasks=False)
    except KbcError:
        return "unknown"
    return job.status.value if job is not None else "unknown"


def _say_problems(event) -> None:
    if isinstance(event, EngineProblem) and event.message:
        print(f"kbc-tui: {event.message}", file=sys.stderr, flush=True)
    elif isinstance(event, MailWaiting):
        print(f"kbc-tui: {event.text}", file=sys.stderr, flush=True)


def _interrupted(queued: list[int]) -> str:
    if not queued:
        return "interrupted while starting; no job was queued"
    return (f"interrupted while starting; job {queued[0]} stays queued: the next kbc-tui process that runs jobs in "
            f"this project runs it (`kbc-tui cancel {queued[0]}` drops it)")


def run(args) -> int:
    queued: list[int] = []
    early = StartupInterrupt(lambda: _interrupted(queued))  # until the job is followed: see _interrupt.py
    try:
        return run_until_done(_main(args, early, queued))
    finally:
        early.disarm(restore=True)
